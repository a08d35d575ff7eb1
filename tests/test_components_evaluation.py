"""components.evaluation: TFMA's and TFDV's files read back as typed scores.

The files are written (tests.fixtures.tfx_outputs) the way the Evaluator
and StatisticsGen write them, with values chosen by hand, so every number
read back is known.
"""

import pytest

from components import evaluation
from data import features
from tests.fixtures.tfx_outputs import write_evaluation
from tests.fixtures.tfx_outputs import write_statistics

LABELS = ['bg', 'fg']


@pytest.fixture
def evaluation_uri(tmp_path):
  return write_evaluation(str(tmp_path / 'evaluation'))


def test_overall_scores_are_the_candidates(evaluation_uri):
  scores = evaluation.evaluator_metrics(evaluation_uri, LABELS)
  assert scores.mean_iou == 0.7  # Not the baseline's, not the diff.
  assert scores.per_class_iou == {'bg': 0.9, 'fg': 0.5}
  assert scores.per_class_boundary_iou == {'bg': 0.6, 'fg': 0.2}
  assert scores.label_pixels == {'bg': 800, 'fg': 200}
  assert (scores.images, scores.void_images) == (5, 1)
  assert evaluation.evaluator_metrics(None, LABELS) is None


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
  assert ds1.per_class_boundary_iou == {'bg': None, 'fg': 0.25}
  assert slices['source']['ds9'].num_examples == 0
  assert slices['source']['ds9'].mean_iou is None
  buckets = slices['foreground_fraction']
  assert list(buckets) == list(features.FOREGROUND_BUCKETS)
  void = buckets['[0, 0.05)']
  assert (void.num_examples, void.mean_iou) == (1, None)
  sentences = evaluation.absences(
    evaluation.evaluator_metrics(evaluation_uri, LABELS), slices
  )
  assert any(
    '[0, 0.05): its 1 eval examples have only void' in s for s in sentences
  )
  assert any('source=ds9: no eval example' in s for s in sentences)


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
