"""The Evaluator's mIoU: a TFMA metric over model.metrics' confusion matrix.

TFMA's stock MeanIoU expects one weight per label value and fails on
per-pixel labels. This plug-in decodes each example's original mask, sums
one confusion matrix over the evaluation split with model.metrics (the code
the TFLite evaluation uses too) and scores it once at the end. The pipeline
names it in its EvalConfig by class and module (pipeline.pipeline).
"""

from typing import Dict, Iterator, List

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.api import types
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util
from tensorflow_model_analysis.utils import util

from components import signatures
from data import features
from model import metrics


class SegmentationIoU(metric_types.Metric):
  """TFMA metric: mean_iou, pixel_accuracy and iou/<class> for every class."""

  def __init__(
    self,
    class_names: List[str],
    label_key: str = features.MASK_ENCODED,
    prediction_key: str = signatures.CLASS_IDS_ORIGINAL,
    name: str = metrics.MEAN_IOU,
  ):
    # One computation per model: candidate and, once one is blessed,
    # baseline (for the Evaluator's change threshold).
    super().__init__(
      metric_util.merge_per_key_computations(_segmentation_computations),
      class_names=class_names,
      label_key=label_key,
      prediction_key=prediction_key,
      name=name,
    )


def _segmentation_computations(
  class_names: List[str],
  label_key: str,
  prediction_key: str,
  name: str,
  model_name: str = '',
) -> metric_types.MetricComputations:
  keys = [
    metric_types.MetricKey(name=name, model_name=model_name),
    metric_types.MetricKey(name=metrics.PIXEL_ACCURACY, model_name=model_name),
  ]
  keys += [
    metric_types.MetricKey(name=metrics.IOU_PREFIX + c, model_name=model_name)
    for c in class_names
  ]
  return [
    metric_types.MetricComputation(
      keys=keys,
      preprocessors=[
        _MaskPairPreprocessor(label_key, prediction_key, model_name)
      ],
      combiner=_ConfusionMatrixCombiner(keys, class_names),
    )
  ]


class _MaskPairPreprocessor(metric_types.Preprocessor):
  """Yields (original mask, prediction cropped to the mask's size).

  The model's predictions arrive padded to the largest image of their batch
  (see components.signatures); the label PNG gives the true size.
  """

  def __init__(self, label_key: str, prediction_key: str, model_name: str):
    super().__init__(
      name=metric_util.generate_private_name_from_arguments(
        '_segmentation_mask_pair',
        label_key=label_key,
        prediction_key=prediction_key,
        model_name=model_name,
      )
    )
    self._label_key = label_key
    self._prediction_key = prediction_key
    self._model_name = model_name

  def process(
    self, extracts: types.Extracts
  ) -> Iterator[metric_types.StandardMetricInputs]:
    extracts = util.StandardExtracts(extracts)
    encoded = np.asarray(extracts.get_features()[self._label_key]).ravel()
    label = metrics.decode_label_png(encoded[0])
    prediction = np.asarray(
      extracts.get_predictions(self._model_name)[self._prediction_key]
    )
    height, width = label.shape
    if prediction.shape[0] < height or prediction.shape[1] < width:
      filename = extracts.get_features().get(features.IMAGE_FILENAME)
      raise ValueError(
        f'prediction of shape {prediction.shape} is smaller '
        f'than the label {label.shape} of {filename}'
      )
    yield metric_types.StandardMetricInputs(
      labels=label, predictions=prediction[:height, :width]
    )


class _ConfusionMatrixCombiner(beam.CombineFn):
  """Sums per-example confusion matrices; scores once at the end."""

  def __init__(
    self, keys: List[metric_types.MetricKey], class_names: List[str]
  ):
    self._keys = keys
    self._class_names = list(class_names)

  def create_accumulator(self) -> np.ndarray:
    size = len(self._class_names)
    return np.zeros((size, size), np.int64)

  def add_input(
    self, accumulator: np.ndarray, element: metric_types.StandardMetricInputs
  ) -> np.ndarray:
    return accumulator + metrics.confusion_matrix(
      element.label, element.prediction, len(self._class_names)
    )

  def merge_accumulators(self, accumulators) -> np.ndarray:
    return sum(accumulators, self.create_accumulator())

  def extract_output(
    self, accumulator: np.ndarray
  ) -> Dict[metric_types.MetricKey, float]:
    scores = metrics.scores_from_confusion(accumulator, self._class_names)
    mean_key, accuracy_key, *class_keys = self._keys
    output = {
      mean_key: scores[metrics.MEAN_IOU],
      accuracy_key: scores[metrics.PIXEL_ACCURACY],
    }
    for key, class_name in zip(class_keys, self._class_names, strict=True):
      value = scores['per_class_iou'][class_name]
      output[key] = float('nan') if value is None else value
    return output


metric_types.register_metric(SegmentationIoU)
