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
