"""Segmentation quality: dataset-level mIoU from one confusion matrix.

mIoU is computed as DeepLab and the PASCAL VOC devkit do: accumulate a single
confusion matrix over every non-ignored pixel of the split, then
IoU_c = TP_c / (TP_c + FP_c + FN_c) and mIoU = mean over the classes whose
denominator is not zero. It is not the mean of per-image IoUs.

Boundary IoU (model.boundary) is summed the same way: per class, the
boundary intersections and unions of every image, divided once at the end.

The same numpy code (`SplitCounts`) serves the TFMA metric
(components.iou_metric, for the Evaluator on the SavedModel) and the TFLite
evaluation (components.tflite_export), so both report one number. A score
that does not exist (a class neither labelled nor predicted, a split with no
labelled pixel) is None, never NaN.
"""

import dataclasses
import io
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from data import features
from model import boundary

MEAN_IOU = 'mean_iou'
PIXEL_ACCURACY = 'pixel_accuracy'
IOU_PREFIX = 'iou/'
MEAN_BOUNDARY_IOU = 'mean_boundary_iou'
BOUNDARY_IOU_PREFIX = 'boundary_iou/'
# Labelled pixels of each class, and images whose labels are all ignored.
LABEL_PIXELS_PREFIX = 'label_pixels/'
VOID_IMAGES = 'void_images'


def confusion_matrix(
  labels: np.ndarray, predictions: np.ndarray, num_classes: int
) -> np.ndarray:
  """[num_classes, num_classes] counts, rows = true class, cols = predicted.

  Pixels labelled features.IGNORE_LABEL are left out. Any other label or
  prediction outside [0, num_classes) is an error, not silently dropped.
  """
  labels = np.asarray(labels).astype(np.int64).ravel()
  predictions = np.asarray(predictions).astype(np.int64).ravel()
  if labels.shape != predictions.shape:
    raise ValueError(
      f'labels have {labels.size} pixels but predictions {predictions.size}'
    )
  keep = labels != features.IGNORE_LABEL
  labels, predictions = labels[keep], predictions[keep]
  for name, values in (('label', labels), ('prediction', predictions)):
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
      raise ValueError(
        f'{name} value {values[bad][0]} is outside the '
        f'{num_classes} classes (and is not the ignore label '
        f'{features.IGNORE_LABEL})'
      )
  return np.bincount(
    labels * num_classes + predictions, minlength=num_classes * num_classes
  ).reshape(num_classes, num_classes)


def scores_from_confusion(
  matrix: np.ndarray, class_names: Sequence[str]
) -> Dict[str, object]:
  """{'mean_iou', 'per_class_iou' {name: IoU or None}, 'pixel_accuracy'}.

  A class that is neither present nor predicted has no IoU (None) and does
  not count in the mean; one that is predicted but absent has IoU 0.
  """
  matrix = np.asarray(matrix, np.float64)
  true_positives = np.diag(matrix)
  union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
  per_class = _ratios(true_positives, union, class_names)
  total = matrix.sum()
  return {
    MEAN_IOU: _mean(per_class.values()),
    'per_class_iou': per_class,
    PIXEL_ACCURACY: float(true_positives.sum() / total) if total else None,
  }


def format_score(value: Optional[float]) -> str:
  """A score for people: four decimals, or 'n/a' when it does not exist."""
  return 'n/a' if value is None else f'{value:.4f}'


def _ratios(
  numerators, denominators, class_names
) -> Dict[str, Optional[float]]:
  return {
    name: float(n / d) if d > 0 else None
    for name, n, d in zip(class_names, numerators, denominators, strict=True)
  }


def _mean(values) -> Optional[float]:
  """The mean of the values that exist; None when none does."""
  present = [v for v in values if v is not None]
  return float(np.mean(present)) if present else None


@dataclasses.dataclass(frozen=True)
class Scores:
  """What one model scored on one split (or slice) of eval images.

  Attributes:
    mean_iou: mean over the classes that have an IoU.
    per_class_iou: class name -> IoU, None for a class neither labelled
      nor predicted.
    pixel_accuracy: share of labelled pixels predicted right.
    mean_boundary_iou, per_class_boundary_iou: the same for boundary IoU;
      a class has none when neither boundary has a labelled pixel.
    label_pixels: class name -> labelled pixels of that class (0: the class
      is absent from the images scored).
    images: images scored.
    void_images: images whose labels are all the ignore label; they count
      in no score.
  """

  mean_iou: Optional[float]
  per_class_iou: Dict[str, Optional[float]]
  pixel_accuracy: Optional[float]
  mean_boundary_iou: Optional[float]
  per_class_boundary_iou: Dict[str, Optional[float]]
  label_pixels: Dict[str, int]
  images: int
  void_images: int

  def absent_classes(self) -> List[str]:
    """Classes with no labelled pixel in the images scored."""
    return [name for name, count in self.label_pixels.items() if not count]

  def to_json(self) -> Dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, value: Dict) -> 'Scores':
    return cls(**value)


class SplitCounts:
  """Counts that sum over images and score once: the metric's accumulator.

  `add` takes one image's label and prediction at the same size; `merge`
  adds another SplitCounts (Beam combines partial sums); `scores` divides.
  """

  def __init__(self, num_classes: int):
    self.confusion = np.zeros((num_classes, num_classes), np.int64)
    self.boundary = np.zeros((2, num_classes), np.int64)
    self.images = 0
    self.void_images = 0

  def add(self, labels: np.ndarray, predictions: np.ndarray) -> 'SplitCounts':
    num_classes = len(self.confusion)
    matrix = confusion_matrix(labels, predictions, num_classes)
    self.confusion += matrix
    self.boundary += boundary.boundary_counts(labels, predictions, num_classes)
    self.images += 1
    self.void_images += int(matrix.sum() == 0)
    return self

  def merge(self, other: 'SplitCounts') -> 'SplitCounts':
    self.confusion += other.confusion
    self.boundary += other.boundary
    self.images += other.images
    self.void_images += other.void_images
    return self

  def scores(self, class_names: Sequence[str]) -> Scores:
    region = scores_from_confusion(self.confusion, class_names)
    per_class_boundary = _ratios(
      self.boundary[0], self.boundary[1], class_names
    )
    return Scores(
      mean_iou=region[MEAN_IOU],
      per_class_iou=region['per_class_iou'],
      pixel_accuracy=region[PIXEL_ACCURACY],
      mean_boundary_iou=_mean(per_class_boundary.values()),
      per_class_boundary_iou=per_class_boundary,
      label_pixels={
        name: int(count)
        for name, count in zip(
          class_names, self.confusion.sum(axis=1), strict=True
        )
      },
      images=self.images,
      void_images=self.void_images,
    )


def decode_label_png(encoded: bytes) -> np.ndarray:
  """The class-id mask of an example: PNG bytes -> uint8 [H, W]."""
  mask = np.asarray(Image.open(io.BytesIO(encoded)))
  if mask.ndim != 2:
    raise ValueError(
      f'label mask has shape {mask.shape}; expected a '
      'single-channel PNG of class ids'
    )
  return mask
