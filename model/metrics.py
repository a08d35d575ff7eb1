"""Segmentation quality: dataset-level mIoU from one confusion matrix.

mIoU is computed as DeepLab and the PASCAL VOC devkit do: accumulate a single
confusion matrix over every non-ignored pixel of the split, then
IoU_c = TP_c / (TP_c + FP_c + FN_c) and mIoU = mean over the classes whose
denominator is not zero. It is not the mean of per-image IoUs.

The same numpy code serves the TFMA metric (components.iou_metric, for the
Evaluator on the SavedModel) and the TFLite evaluation
(components.tflite_export), so both report one number.
"""

import io
from typing import Dict, Sequence

import numpy as np
from PIL import Image

from data import features

MEAN_IOU = 'mean_iou'
PIXEL_ACCURACY = 'pixel_accuracy'
IOU_PREFIX = 'iou/'


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
  per_class = {}
  for name, tp, denominator in zip(
    class_names, true_positives, union, strict=True
  ):
    per_class[name] = float(tp / denominator) if denominator > 0 else None
  present = [v for v in per_class.values() if v is not None]
  total = matrix.sum()
  return {
    MEAN_IOU: float(np.mean(present)) if present else 0.0,
    'per_class_iou': per_class,
    PIXEL_ACCURACY: float(true_positives.sum() / total) if total else 0.0,
  }


def decode_label_png(encoded: bytes) -> np.ndarray:
  """The class-id mask of an example: PNG bytes -> uint8 [H, W]."""
  mask = np.asarray(Image.open(io.BytesIO(encoded)))
  if mask.ndim != 2:
    raise ValueError(
      f'label mask has shape {mask.shape}; expected a '
      'single-channel PNG of class ids'
    )
  return mask
