"""The Evaluator's mIoU and boundary IoU: a TFMA metric over model.metrics.

TFMA's stock MeanIoU expects one weight per label value and fails on
per-pixel labels. This plug-in decodes each example's original mask, sums
the confusion matrix and the boundary counts over the evaluation split (or
slice) with model.metrics.SplitCounts (the code the TFLite evaluation uses
too) and scores them once at the end, so region and boundary IoU come from
the same predictions. The pipeline names it in its EvalConfig by class and
module (pipeline.pipeline).

A score that does not exist (metrics.Scores: None) is left out of the
output rather than written as NaN; the run summary reads its absence.
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
  """TFMA metric: mean_iou, pixel_accuracy, mean_boundary_iou, void_images,
  and iou/, boundary_iou/ and label_pixels/ for every class."""

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


class SegmentationBoundaryIoU(metric_types.Metric):
  """TFMA metric named mean_boundary_iou, so an EvalConfig can gate on it.

  TFMA attaches a MetricConfig's threshold to the key named like the
  metric. This one adds no work: it reuses SegmentationIoU's computation
  (TFMA runs identical computations once) and passes its mean boundary IoU
  on.
  """

  def __init__(
    self,
    class_names: List[str],
    label_key: str = features.MASK_ENCODED,
    prediction_key: str = signatures.CLASS_IDS_ORIGINAL,
    name: str = metrics.MEAN_BOUNDARY_IOU,
  ):
    super().__init__(
      metric_util.merge_per_key_computations(_boundary_computations),
      class_names=class_names,
      label_key=label_key,
      prediction_key=prediction_key,
      name=name,
    )


# _SIGNATURE: TFMA reads these functions' parameters to decide whether to
# pass model_name (one computation per model, candidate and baseline); a
# mutation tool's wrapper (`make mutants`) takes `*args, **kwargs`, so they
# stay unwrapped. What they build is mutated in output_keys and the
# classes below.


def _boundary_computations(
  class_names: List[str],
  label_key: str,
  prediction_key: str,
  name: str,
  model_name: str = '',
) -> metric_types.MetricComputations:  # pragma: no mutate block (_SIGNATURE)
  computations = _segmentation_computations(
    class_names, label_key, prediction_key, metrics.MEAN_IOU, model_name
  )
  key = metric_types.MetricKey(name=name, model_name=model_name)

  def result(values: Dict[metric_types.MetricKey, float]):
    return {key: values[key]} if key in values else {}

  computations.append(
    metric_types.DerivedMetricComputation(keys=[key], result=result)
  )
  return computations


def _segmentation_computations(
  class_names: List[str],
  label_key: str,
  prediction_key: str,
  name: str,
  model_name: str = '',
) -> metric_types.MetricComputations:  # pragma: no mutate block (_SIGNATURE)
  keys = output_keys(class_names, model_name, name)
  return [
    metric_types.MetricComputation(
      keys=keys,
      preprocessors=[
        _MaskPairPreprocessor(label_key, prediction_key, model_name)
      ],
      combiner=_SplitCountsCombiner(keys, class_names),
    )
  ]


def output_keys(
  class_names: List[str], model_name: str, name: str
) -> List[metric_types.MetricKey]:
  """Every key the metric may output, in extract_output's order."""
  names = [
    name,
    metrics.PIXEL_ACCURACY,
    metrics.MEAN_BOUNDARY_IOU,
    metrics.VOID_IMAGES,
  ]
  for prefix in (
    metrics.IOU_PREFIX,
    metrics.BOUNDARY_IOU_PREFIX,
    metrics.LABEL_PIXELS_PREFIX,
  ):
    names += [prefix + c for c in class_names]
  return [metric_types.MetricKey(name=n, model_name=model_name) for n in names]


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


class _SplitCountsCombiner(beam.CombineFn):
  """Sums metrics.SplitCounts over examples; scores once at the end."""

  def __init__(
    self, keys: List[metric_types.MetricKey], class_names: List[str]
  ):
    self._keys = keys
    self._class_names = list(class_names)

  def create_accumulator(self) -> metrics.SplitCounts:
    return metrics.SplitCounts(len(self._class_names))

  def add_input(
    self,
    accumulator: metrics.SplitCounts,
    element: metric_types.StandardMetricInputs,
  ) -> metrics.SplitCounts:
    return accumulator.add(element.label, element.prediction)

  def merge_accumulators(self, accumulators) -> metrics.SplitCounts:
    merged = self.create_accumulator()
    for accumulator in accumulators:
      merged.merge(accumulator)
    return merged

  def extract_output(
    self, accumulator: metrics.SplitCounts
  ) -> Dict[metric_types.MetricKey, float]:
    scores = accumulator.scores(self._class_names)
    values = [
      scores.mean_iou,
      scores.pixel_accuracy,
      scores.mean_boundary_iou,
      scores.void_images,
    ]
    for per_class in (
      scores.per_class_iou,
      scores.per_class_boundary_iou,
      scores.label_pixels,
    ):
      values += [per_class[c] for c in self._class_names]
    return {
      key: float(value)
      for key, value in zip(self._keys, values, strict=True)
      if value is not None
    }


metric_types.register_metric(SegmentationIoU)
metric_types.register_metric(SegmentationBoundaryIoU)
