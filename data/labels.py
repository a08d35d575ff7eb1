"""Class names, in class-id order, for each dataset the pipeline ingests."""

# PASCAL VOC 2012 segmentation classes, in the order of the devkit's class ids.
VOC_CLASSES = (
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
    'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
    'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

# Supervisely Person (and the embedded demo, which uses its format).
PEOPLE_CLASSES = ('background', 'person')
