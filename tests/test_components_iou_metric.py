"""components.iou_metric: the TFMA plug-in against an independent mIoU."""

import numpy as np
import pytest

from components import iou_metric
from components import signatures
from data import features
from tests.fixtures.iou_reference import IGNORE
from tests.fixtures.iou_reference import png_bytes
from tests.fixtures.iou_reference import random_split
from tests.fixtures.iou_reference import reference_scores


def test_tfma_combiner_crops_padded_predictions_and_matches_reference():
  label_maps, prediction_maps = random_split(1)
  names = ['a', 'b', 'c', 'absent']
  metric = iou_metric.SegmentationIoU(class_names=names)
  (computation,) = metric.computations()
  (preprocessor,) = computation.preprocessors
  combiner = computation.combiner
  accumulator = combiner.create_accumulator()
  for label, prediction in zip(label_maps, prediction_maps, strict=True):
    padded = np.full((48, 50), IGNORE, np.int32)
    padded[: prediction.shape[0], : prediction.shape[1]] = prediction
    extracts = {
      'features': {
        features.MASK_ENCODED: np.array([png_bytes(label)], dtype=object)
      },
      'predictions': {signatures.CLASS_IDS_ORIGINAL: padded},
    }
    for inputs in preprocessor.process(extracts):
      accumulator = combiner.add_input(accumulator, inputs)
  merged = combiner.merge_accumulators(
    [accumulator, combiner.create_accumulator()]
  )
  output = {
    key.name: value for key, value in combiner.extract_output(merged).items()
  }
  mean_iou, ious, accuracy = reference_scores(label_maps, prediction_maps, 4)
  assert output['mean_iou'] == pytest.approx(mean_iou, abs=1e-6)
  assert output['pixel_accuracy'] == pytest.approx(accuracy, abs=1e-6)
  assert output['iou/a'] == pytest.approx(ious[0], abs=1e-6)
  assert np.isnan(output['iou/absent'])


def test_candidate_and_baseline_are_scored_separately():
  label = np.array([[0, 1], [1, 1]])
  extracts = {
    'features': {
      features.MASK_ENCODED: np.array([png_bytes(label)], dtype=object)
    },
    'predictions': {
      'candidate': {signatures.CLASS_IDS_ORIGINAL: np.array([[0, 1], [1, 1]])},
      'baseline': {signatures.CLASS_IDS_ORIGINAL: np.array([[1, 1], [1, 1]])},
    },
  }
  metric = iou_metric.SegmentationIoU(class_names=['bg', 'fg'])
  results = {}
  for computation in metric.computations(model_names=['candidate', 'baseline']):
    (preprocessor,) = computation.preprocessors
    combiner = computation.combiner
    accumulator = combiner.create_accumulator()
    for inputs in preprocessor.process(extracts):
      accumulator = combiner.add_input(accumulator, inputs)
    for key, value in combiner.extract_output(accumulator).items():
      results[(key.model_name, key.name)] = value
  assert results[('candidate', 'mean_iou')] == 1.0
  assert results[('baseline', 'mean_iou')] == pytest.approx((0 + 0.75) / 2)
