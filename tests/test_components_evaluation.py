"""components.evaluation: TFMA's and TFDV's files read back as typed scores.

The files are written (tests.fixtures.tfx_outputs) the way the Evaluator
and StatisticsGen write them, with values chosen by hand, so every number
read back is known.
"""

import pytest
from tensorflow_model_analysis.proto import metrics_for_slice_pb2

from components import evaluation
from data import features
from tests.fixtures.tfx_outputs import candidate
from tests.fixtures.tfx_outputs import metrics_for_slice
from tests.fixtures.tfx_outputs import write_evaluation
from tests.fixtures.tfx_outputs import write_metrics
from tests.fixtures.tfx_outputs import write_statistics

LABELS = ['bg', 'fg']


@pytest.fixture
def evaluation_uri(tmp_path):
  return write_evaluation(str(tmp_path / 'evaluation'))


def test_overall_scores_are_the_candidates(evaluation_uri):
  scores = evaluation.evaluator_metrics(evaluation_uri, LABELS)
  assert scores.mean_iou == 0.7  # Not the baseline's, not the diff.
  assert scores.per_class_iou == {'bg': 0.9, 'fg': 0.5}
  assert scores.pixel_accuracy == 0.93
  assert scores.per_class_boundary_iou == {'bg': 0.6, 'fg': 0.2}
  assert scores.label_pixels == {'bg': 800, 'fg': 200}
  assert (scores.images, scores.void_images) == (5, 1)
  assert evaluation.evaluator_metrics(None, LABELS) is None


def test_what_the_metric_leaves_out_reads_as_absent_or_zero(tmp_path):
  """components.iou_metric writes no value for what does not exist: a
  class without pixels has no IoU and 0 pixels; no void image, 0."""
  uri = write_metrics(
    str(tmp_path / 'evaluation'),
    [
      metrics_for_slice(
        '',
        '',
        candidate(
          {
            'example_count': 3,
            'mean_iou': 0.9,
            'iou/bg': 0.9,
            'label_pixels/bg': 30,
          }
        ),
      )
    ],
  )
  scores = evaluation.evaluator_metrics(uri, LABELS)
  assert scores.per_class_iou == {'bg': 0.9, 'fg': None}
  assert scores.label_pixels == {'bg': 30, 'fg': 0}
  assert (scores.images, scores.void_images) == (3, 0)
  assert scores.pixel_accuracy is None
  assert evaluation.absences(scores, {}) == [
    'class fg: no pixel of it in the eval split, and none predicted; it has '
    'no IoU and no boundary IoU, and counts in neither mean'
  ]


def test_an_evaluation_without_an_example_count_has_no_scores(tmp_path):
  """An overall slice that counted no example (the Evaluator's output of
  an empty eval split) is no evaluation."""
  uri = write_metrics(
    str(tmp_path / 'evaluation'),
    [metrics_for_slice('', '', candidate({'mean_iou': 0.5}))],
  )
  assert evaluation.evaluator_metrics(uri, LABELS) is None


@pytest.mark.parametrize(
  'kind, value, read',
  [
    ('bytes_value', 'é'.encode(), 'é'),
    ('int64_value', 3, '3'),
    ('float_value', 0.5, '0.5'),
  ],
)
def test_slice_values_of_every_kind_read_as_text(kind, value, read):
  key = metrics_for_slice_pb2.SingleSliceKey(column='c', **{kind: value})
  assert evaluation._slice_value(key) == read


def test_slices_list_every_bucket_and_source_empty_ones_included(
  evaluation_uri,
):
  slices = evaluation.slice_metrics(evaluation_uri, LABELS, ['ds1', 'ds9'])
  assert list(slices) == ['source', 'foreground_fraction']
  assert list(slices['source']) == ['ds1', 'ds9']
  ds1 = slices['source']['ds1']
  assert (ds1.num_examples, ds1.mean_iou, ds1.mean_boundary_iou) == (
    4,
    0.75,
    0.45,
  )
  assert ds1.per_class_iou == {'bg': 0.95, 'fg': 0.55}
  assert ds1.per_class_boundary_iou == {'bg': None, 'fg': 0.25}
  assert slices['source']['ds9'].num_examples == 0
  assert slices['source']['ds9'].mean_iou is None
  buckets = slices['foreground_fraction']
  assert list(buckets) == list(features.FOREGROUND_BUCKETS)
  void = buckets['[0, 0.05)']
  assert (void.num_examples, void.mean_iou) == (1, None)
  assert evaluation.absences(
    evaluation.evaluator_metrics(evaluation_uri, LABELS), slices
  ) == [
    '1 of 5 eval images have only void (255) labels: they count in no score',
    'slice source=ds9: no eval example falls in it, so it has no scores',
    'slice foreground_fraction=[0, 0.05): its 1 eval examples have only '
    'void labels, so it has no scores',
  ] + [
    f'slice foreground_fraction={bucket}: no eval example falls in it, so '
    'it has no scores'
    for bucket in features.FOREGROUND_BUCKETS[1:]
  ]


def test_sources_per_split_from_the_statistics(tmp_path):
  uri = write_statistics(
    str(tmp_path / 'stats'),
    {'train': {'ds1': 7, 'ds2': 3}, 'eval': {'ds1': 2}},
  )
  statistics = evaluation.split_statistics(uri)
  assert {split: s.num_examples for split, s in statistics.items()} == {
    'train': 10,
    'eval': 2,
  }
  assert evaluation.value_counts(statistics['train'], features.SOURCE_KEY) == {
    'ds1': 7,
    'ds2': 3,
  }
  assert evaluation.all_sources(statistics) == ['ds1', 'ds2']
  assert evaluation.split_statistics(None) == {}
  assert evaluation.split_statistics(str(tmp_path / 'none')) == {}
