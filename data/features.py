"""Feature keys and label conventions shared by every stage of the pipeline.

The raw example format is the one tensorflow/models DeepLab writes
(research/deeplab/datasets/build_data.py), so DeepLab TFRecords can be imported
as they are. Everything that reads or writes an example imports its keys here.
"""

# Raw tf.Example keys (ExampleGen output).
IMAGE_ENCODED = 'image/encoded'
IMAGE_FORMAT = 'image/format'
IMAGE_FILENAME = 'image/filename'
IMAGE_HEIGHT = 'image/height'
IMAGE_WIDTH = 'image/width'
IMAGE_CHANNELS = 'image/channels'
MASK_ENCODED = 'image/segmentation/class/encoded'
MASK_FORMAT = 'image/segmentation/class/format'
# Slicing features (the Evaluator's slices; written by every reader).
# The sub-collection an example came from: for Supervisely projects the
# dataset folder, for VOC 'voc' or 'sbd' (whose mask it has), for records
# their own image/source or 'deeplab'.
SOURCE_KEY = 'image/source'
# Share of the labelled (non-ignore) pixels that are not class 0; 0 when no
# pixel is labelled.
FOREGROUND_FRACTION_KEY = 'image/foreground_fraction'
# FOREGROUND_FRACTION_KEY's bucket, one of FOREGROUND_BUCKETS.
FOREGROUND_BUCKET_KEY = 'image/foreground_bucket'
# Small, medium and large foreground, and where each begins.
FOREGROUND_BUCKETS = ('[0, 0.05)', '[0.05, 0.25)', '[0.25, 1]')
_BUCKET_LOWER_BOUNDS = (0.0, 0.05, 0.25)

# Transformed feature keys (Transform output, Trainer input).
IMAGE = 'image'
MASK = 'mask'

# Pixels with this label are ignored by the loss and by every metric.
IGNORE_LABEL = 255

TRAIN_SPLIT = 'train'
EVAL_SPLIT = 'eval'


def foreground_bucket(fraction: float) -> str:
  """The FOREGROUND_BUCKETS name of a foreground fraction in [0, 1]."""
  if not 0.0 <= fraction <= 1.0:
    raise ValueError(f'foreground fraction {fraction} is outside [0, 1]')
  name = FOREGROUND_BUCKETS[0]
  for bucket, lower in zip(
    FOREGROUND_BUCKETS, _BUCKET_LOWER_BOUNDS, strict=True
  ):
    if fraction >= lower:
      name = bucket
  return name
