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

# Transformed feature keys (Transform output, Trainer input).
IMAGE = 'image'
MASK = 'mask'

# Pixels with this label are ignored by the loss and by every metric.
IGNORE_LABEL = 255

TRAIN_SPLIT = 'train'
EVAL_SPLIT = 'eval'

# Slicing features ExampleGen writes for every format, so the Evaluator can
# report quality per sub-collection and per amount of foreground.
# The sub-collection an image came from (bytes); each reader documents its
# values (docs/data.md, "The example format").
SOURCE_KEY = 'image/source'
# Share of the labelled (non-ignore) pixels that are not class 0 (float);
# 0.0 when every pixel is ignore.
FOREGROUND_FRACTION_KEY = 'image/foreground_fraction'
# FOREGROUND_BUCKETS name of the fraction (bytes), to slice on directly.
FOREGROUND_BUCKET_KEY = 'image/foreground_bucket'
# Upper bounds (exclusive, the last inclusive) and names: images with little
# foreground (a distant person) score apart from close-ups, and a mean over
# all of them hides which is which.
_BUCKET_BOUNDS = (0.05, 0.25)
FOREGROUND_BUCKETS = ('[0, 0.05)', '[0.05, 0.25)', '[0.25, 1]')


def foreground_bucket(fraction: float) -> str:
  """The FOREGROUND_BUCKETS name of a foreground fraction in [0, 1]."""
  if not 0.0 <= fraction <= 1.0:
    raise ValueError(f'foreground fraction {fraction}: must be in [0, 1]')
  for bound, name in zip(_BUCKET_BOUNDS, FOREGROUND_BUCKETS[:-1], strict=True):
    if fraction < bound:
      return name
  return FOREGROUND_BUCKETS[-1]
