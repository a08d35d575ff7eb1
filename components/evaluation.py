"""The Evaluator's and StatisticsGen's outputs, read back as typed values.

The Evaluator (TFMA) writes the metric plug-in's numbers (components.
iou_metric) per slice; StatisticsGen counts examples and feature values per
split. The Pusher's model card and the run summary (pipeline.summary) both
read them here, so the two say the same.
"""

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tfx.dsl.io import fileio

from data import features
from model import metrics

# The Evaluator's slices: summary key -> the example feature sliced on
# (ExampleGen writes both for every format; data.features).
SLICE_FEATURES = {
  'source': features.SOURCE_KEY,
  'foreground_fraction': features.FOREGROUND_BUCKET_KEY,
}
_EXAMPLE_COUNT = 'example_count'  # TFMA's ExampleCount metric.


@dataclasses.dataclass(frozen=True)
class SliceScores:
  """The SavedModel's scores on the eval examples of one slice.

  A slice with no example has num_examples 0 and no scores (None).
  """

  num_examples: int
  mean_iou: Optional[float]
  per_class_iou: Dict[str, Optional[float]]
  mean_boundary_iou: Optional[float]
  per_class_boundary_iou: Dict[str, Optional[float]]


def split_statistics(statistics_uri: Optional[str]) -> Dict:
  """split -> its DatasetFeatureStatistics, for the splits StatisticsGen
  wrote."""
  if not statistics_uri:
    return {}
  found = {}
  for split in (features.TRAIN_SPLIT, features.EVAL_SPLIT):
    path = os.path.join(statistics_uri, f'Split-{split}', 'FeatureStats.pb')
    if fileio.exists(path):
      found[split] = tfdv.load_stats_binary(path).datasets[0]
  return found


def value_counts(statistics, feature: str) -> Dict[str, int]:
  """value -> examples, of a string feature, from its rank histogram."""
  for stats in statistics.features:
    if list(stats.path.step) == [feature]:
      buckets = stats.string_stats.rank_histogram.buckets
      return {b.label: int(b.sample_count) for b in buckets}
  return {}


def all_sources(statistics: Dict) -> List[str]:
  """Every source of the dataset (both splits), so that a source with no
  eval example is listed as an empty slice."""
  names = set()
  for stats in statistics.values():
    names.update(value_counts(stats, features.SOURCE_KEY))
  return sorted(names)


def _candidate_values(evaluation_uri: str) -> Dict[Tuple, Dict[str, float]]:
  """slice -> metric name -> value, of the candidate model (no baseline,
  no diffs). The overall slice is (); a feature slice (column, value)."""
  values = {}
  for slice_metrics in tfma.load_metrics(evaluation_uri):
    key = tuple(
      (k.column, _slice_value(k))
      for k in slice_metrics.slice_key.single_slice_keys
    )
    for entry in slice_metrics.metric_keys_and_values:
      if entry.key.is_diff or entry.key.model_name == 'baseline':
        continue
      values.setdefault(key, {})[entry.key.name] = (
        entry.value.double_value.value
      )
  return values


def _slice_value(single_slice_key) -> str:
  kind = single_slice_key.WhichOneof('kind')
  value = getattr(single_slice_key, kind)
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def _scores(values: Dict[str, float], labels: List[str]) -> metrics.Scores:
  """metrics.Scores from the metric plug-in's output (components.iou_metric,
  which leaves out what does not exist)."""

  def per_class(prefix):
    return {label: values.get(prefix + label) for label in labels}

  return metrics.Scores(
    mean_iou=values.get(metrics.MEAN_IOU),
    per_class_iou=per_class(metrics.IOU_PREFIX),
    pixel_accuracy=values.get(metrics.PIXEL_ACCURACY),
    mean_boundary_iou=values.get(metrics.MEAN_BOUNDARY_IOU),
    per_class_boundary_iou=per_class(metrics.BOUNDARY_IOU_PREFIX),
    label_pixels={
      label: int(values.get(metrics.LABEL_PIXELS_PREFIX + label, 0))
      for label in labels
    },
    images=int(values.get(_EXAMPLE_COUNT, 0)),
    void_images=int(values.get(metrics.VOID_IMAGES, 0)),
  )


def evaluator_metrics(
  evaluation_uri: Optional[str], labels: List[str]
) -> Optional[metrics.Scores]:
  """The candidate's scores on the whole eval split, or None."""
  if not evaluation_uri:
    return None
  overall = _candidate_values(evaluation_uri).get(())
  if not overall or _EXAMPLE_COUNT not in overall:
    return None
  return _scores(overall, labels)


def slice_metrics(
  evaluation_uri: str, labels: List[str], sources: List[str]
) -> Dict[str, Dict[str, SliceScores]]:
  """Slice key -> bucket or value -> SliceScores, every bucket and every
  known source listed, those without eval examples as empty."""
  values = _candidate_values(evaluation_uri)
  expected = {
    'source': sources,
    'foreground_fraction': list(features.FOREGROUND_BUCKETS),
  }
  result = {}
  for key, feature in SLICE_FEATURES.items():
    seen = {
      slice_key[0][1]: found
      for slice_key, found in values.items()
      if len(slice_key) == 1 and slice_key[0][0] == feature
    }
    result[key] = {}
    for name in list(dict.fromkeys([*expected[key], *sorted(seen)])):
      scores = _scores(seen.get(name, {}), labels)
      result[key][name] = SliceScores(
        num_examples=scores.images,
        mean_iou=scores.mean_iou,
        per_class_iou=scores.per_class_iou,
        mean_boundary_iou=scores.mean_boundary_iou,
        per_class_boundary_iou=scores.per_class_boundary_iou,
      )
  return result


def absences(
  scores: Optional[metrics.Scores],
  metrics_by_slice: Dict[str, Dict[str, SliceScores]],
) -> List[str]:
  """Which scores are absent, and why, in sentences for people: the run
  summary, the report and the model card say these."""
  found = []
  if scores:
    if scores.void_images:
      found.append(
        f'{scores.void_images} of {scores.images} eval images have only '
        f'void ({features.IGNORE_LABEL}) labels: they count in no score'
      )
    for name in scores.absent_classes():
      found.append(_absent_class(name, scores))
  for key, slices in metrics_by_slice.items():
    for name, value in slices.items():
      if not value.num_examples:
        found.append(
          f'slice {key}={name}: no eval example falls in it, so it has no '
          'scores'
        )
      elif value.mean_iou is None:
        found.append(
          f'slice {key}={name}: its {value.num_examples} eval examples have '
          'only void labels, so it has no scores'
        )
  return found


def _absent_class(name: str, scores: metrics.Scores) -> str:
  iou = scores.per_class_iou[name]
  if iou is None:
    return (
      f'class {name}: no pixel of it in the eval split, and none predicted; '
      'it has no IoU and no boundary IoU, and counts in neither mean'
    )
  return (
    f'class {name}: no pixel of it in the eval split; the model predicts it '
    f'somewhere, so its IoU is {iou:.4f} (false positives only)'
  )
