"""Segmentation quality: dataset-level mIoU from one confusion matrix.

mIoU is computed as DeepLab and the PASCAL VOC devkit do: accumulate a single
confusion matrix over every non-ignored pixel of the split, then
IoU_c = TP_c / (TP_c + FP_c + FN_c) and mIoU = mean over the classes whose
denominator is not zero. It is not the mean of per-image IoUs.

The same numpy code serves the TFMA metric below (Evaluator, SavedModel) and
the TFLite evaluation (components.tflite_export), so both report one number.
"""

import io
from typing import Dict, Iterator, List, Sequence

import apache_beam as beam
import numpy as np
from PIL import Image
from tensorflow_model_analysis.api import types
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util
from tensorflow_model_analysis.utils import util

from data import features

MEAN_IOU = 'mean_iou'
PIXEL_ACCURACY = 'pixel_accuracy'
IOU_PREFIX = 'iou/'
# The SavedModel output holding predictions at the original image size.
PREDICTION_KEY = 'class_ids_original'


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray,
                     num_classes: int) -> np.ndarray:
  """[num_classes, num_classes] counts, rows = true class, cols = predicted.

  Pixels labelled features.IGNORE_LABEL are left out. Any other label or
  prediction outside [0, num_classes) is an error, not silently dropped.
  """
  labels = np.asarray(labels).astype(np.int64).ravel()
  predictions = np.asarray(predictions).astype(np.int64).ravel()
  if labels.shape != predictions.shape:
    raise ValueError(f'labels have {labels.size} pixels but predictions '
                     f'{predictions.size}')
  keep = labels != features.IGNORE_LABEL
  labels, predictions = labels[keep], predictions[keep]
  for name, values in (('label', labels), ('prediction', predictions)):
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
      raise ValueError(f'{name} value {values[bad][0]} is outside the '
                       f'{num_classes} classes (and is not the ignore label '
                       f'{features.IGNORE_LABEL})')
  return np.bincount(labels * num_classes + predictions,
                     minlength=num_classes * num_classes).reshape(
                         num_classes, num_classes)


def scores_from_confusion(matrix: np.ndarray,
                          class_names: Sequence[str]) -> Dict[str, object]:
  """{'mean_iou', 'per_class_iou' {name: IoU or None}, 'pixel_accuracy'}.

  A class that is neither present nor predicted has no IoU (None) and does
  not count in the mean; one that is predicted but absent has IoU 0.
  """
  matrix = np.asarray(matrix, np.float64)
  true_positives = np.diag(matrix)
  union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
  per_class = {}
  for name, tp, denominator in zip(class_names, true_positives, union):
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
    raise ValueError(f'label mask has shape {mask.shape}; expected a '
                     'single-channel PNG of class ids')
  return mask


class SegmentationIoU(metric_types.Metric):
  """TFMA metric: mean_iou, pixel_accuracy and iou/<class> for every class.

  TFMA's stock MeanIoU expects one weight per label value and fails on
  per-pixel labels; this metric instead decodes each example's original
  mask and sums one confusion matrix over the whole evaluation split.
  """

  def __init__(self, class_names: List[str],
               label_key: str = features.MASK_ENCODED,
               prediction_key: str = PREDICTION_KEY,
               name: str = MEAN_IOU):
    # One computation per model: candidate and, once one is blessed,
    # baseline (for the Evaluator's change threshold).
    super().__init__(
        metric_util.merge_per_key_computations(_segmentation_computations),
        class_names=class_names,
        label_key=label_key, prediction_key=prediction_key, name=name)


def _segmentation_computations(
    class_names: List[str], label_key: str, prediction_key: str,
    name: str, model_name: str = '') -> metric_types.MetricComputations:
  keys = [metric_types.MetricKey(name=name, model_name=model_name),
          metric_types.MetricKey(name=PIXEL_ACCURACY, model_name=model_name)]
  keys += [metric_types.MetricKey(name=IOU_PREFIX + c, model_name=model_name)
           for c in class_names]
  return [metric_types.MetricComputation(
      keys=keys,
      preprocessors=[_MaskPairPreprocessor(label_key, prediction_key,
                                           model_name)],
      combiner=_ConfusionMatrixCombiner(keys, class_names))]


class _MaskPairPreprocessor(metric_types.Preprocessor):
  """Yields (original mask, prediction cropped to the mask's size).

  The model's predictions arrive padded to the largest image of their batch
  (see components.signatures); the label PNG gives the true size.
  """

  def __init__(self, label_key: str, prediction_key: str, model_name: str):
    super().__init__(name=metric_util.generate_private_name_from_arguments(
        '_segmentation_mask_pair', label_key=label_key,
        prediction_key=prediction_key, model_name=model_name))
    self._label_key = label_key
    self._prediction_key = prediction_key
    self._model_name = model_name

  def process(self, extracts: types.Extracts
              ) -> Iterator[metric_types.StandardMetricInputs]:
    extracts = util.StandardExtracts(extracts)
    encoded = np.asarray(extracts.get_features()[self._label_key]).ravel()
    label = decode_label_png(encoded[0])
    prediction = np.asarray(
        extracts.get_predictions(self._model_name)[self._prediction_key])
    height, width = label.shape
    if prediction.shape[0] < height or prediction.shape[1] < width:
      filename = extracts.get_features().get(features.IMAGE_FILENAME)
      raise ValueError(f'prediction of shape {prediction.shape} is smaller '
                       f'than the label {label.shape} of {filename}')
    yield metric_types.StandardMetricInputs(
        labels=label, predictions=prediction[:height, :width])


class _ConfusionMatrixCombiner(beam.CombineFn):
  """Sums per-example confusion matrices; scores once at the end."""

  def __init__(self, keys: List[metric_types.MetricKey],
               class_names: List[str]):
    self._keys = keys
    self._class_names = list(class_names)

  def create_accumulator(self) -> np.ndarray:
    size = len(self._class_names)
    return np.zeros((size, size), np.int64)

  def add_input(self, accumulator: np.ndarray,
                element: metric_types.StandardMetricInputs) -> np.ndarray:
    return accumulator + confusion_matrix(
        element.label, element.prediction, len(self._class_names))

  def merge_accumulators(self, accumulators) -> np.ndarray:
    return sum(accumulators, self.create_accumulator())

  def extract_output(self, accumulator: np.ndarray
                     ) -> Dict[metric_types.MetricKey, float]:
    scores = scores_from_confusion(accumulator, self._class_names)
    mean_key, accuracy_key, *class_keys = self._keys
    output = {mean_key: scores[MEAN_IOU],
              accuracy_key: scores[PIXEL_ACCURACY]}
    for key, class_name in zip(class_keys, self._class_names):
      value = scores['per_class_iou'][class_name]
      output[key] = float('nan') if value is None else value
    return output


metric_types.register_metric(SegmentationIoU)
