"""components.iou_metric: the TFMA plug-in against an independent mIoU."""

import itertools
import re

import numpy as np
import pytest

from components import iou_metric
from components import signatures
from data import features
from tests.fixtures.iou_reference import IGNORE
from tests.fixtures.iou_reference import png_bytes
from tests.fixtures.iou_reference import random_split
from tests.fixtures.iou_reference import reference_boundary_iou
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
  boundary_ious, mean_boundary = reference_boundary_iou(
    label_maps, prediction_maps, 4
  )
  assert output['mean_boundary_iou'] == pytest.approx(mean_boundary, abs=1e-6)
  assert output['boundary_iou/b'] == pytest.approx(boundary_ious[1], abs=1e-6)
  # Absent scores are left out, not NaN; the absent class has no pixel.
  assert 'iou/absent' not in output
  assert 'boundary_iou/absent' not in output
  assert output['label_pixels/absent'] == 0
  assert output['void_images'] == 0
  assert not any(np.isnan(value) for value in output.values())


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


def test_boundary_metric_reuses_the_region_computation_and_passes_it_on():
  names = ['bg', 'fg']
  region = iou_metric.SegmentationIoU(class_names=names)
  edges = iou_metric.SegmentationBoundaryIoU(class_names=names)
  (shared,) = region.computations()
  base, derived = edges.computations()
  # TFMA runs equal computations once: the gate costs no second pass.
  assert base == shared
  key = derived.keys[0]
  assert key.name == 'mean_boundary_iou'
  assert derived.result({key: 0.25}) == {key: 0.25}
  assert derived.result({}) == {}


def test_the_pipelines_gates_bind_to_keys_the_metrics_compute():
  from tensorflow_model_analysis.metrics import metric_specs

  from data import config as data_config
  from data import labels
  from pipeline import config as run_config
  from pipeline import pipeline as dag

  config = run_config.build_run_config(
    'demo',
    data=data_config.DataConfig('demo', '/d', labels.PEOPLE_CLASSES),
    output_dir='/o',
    overrides={'gate': {'min_mean_iou': 0.4, 'min_mean_boundary_iou': 0.3}},
  )
  eval_config = dag.eval_config(config)
  computed = set()
  for computation in metric_specs.to_computations(
    eval_config.metrics_specs, eval_config
  ):
    computed.update(computation.keys)
  bounds = {}
  for key, thresholds in metric_specs.metric_thresholds_from_metrics_specs(
    eval_config.metrics_specs, eval_config
  ).items():
    if key.is_diff:
      continue
    # A threshold on a key no computation outputs would fail every model.
    assert key in computed, key
    for _, threshold in thresholds:
      bounds[key.name] = threshold.lower_bound.value
  assert bounds == {'mean_iou': 0.4, 'mean_boundary_iou': 0.3}
  slices = [list(spec.feature_keys) for spec in eval_config.slicing_specs]
  assert slices == [[], ['image/source'], ['image/foreground_bucket']]


def test_an_all_void_image_and_an_absent_class_are_counted_not_scored():
  metric = iou_metric.SegmentationIoU(class_names=['bg', 'fg', 'cat'])
  (computation,) = metric.computations()
  (preprocessor,) = computation.preprocessors
  combiner = computation.combiner
  accumulator = combiner.create_accumulator()
  label = np.zeros((12, 12), np.uint8)
  label[3:9, 3:9] = 1
  void = np.full((12, 12), IGNORE, np.uint8)
  for mask in (label, void):
    extracts = {
      'features': {
        features.MASK_ENCODED: np.array([png_bytes(mask)], dtype=object)
      },
      'predictions': {signatures.CLASS_IDS_ORIGINAL: label.astype(np.int32)},
    }
    for inputs in preprocessor.process(extracts):
      accumulator = combiner.add_input(accumulator, inputs)
  output = {
    key.name: value
    for key, value in combiner.extract_output(accumulator).items()
  }
  assert output['void_images'] == 1
  assert output['mean_iou'] == 1.0 and output['mean_boundary_iou'] == 1.0
  assert output['label_pixels/cat'] == 0
  assert 'iou/cat' not in output and 'boundary_iou/cat' not in output


def _mask_pair_extracts(label, prediction):
  return {
    'features': {
      features.MASK_ENCODED: np.array([png_bytes(label)], dtype=object),
      features.IMAGE_FILENAME: np.array([b'photo.jpg'], dtype=object),
    },
    'predictions': {signatures.CLASS_IDS_ORIGINAL: prediction},
  }


def _preprocessor(model_name=''):
  return iou_metric._MaskPairPreprocessor(
    features.MASK_ENCODED, signatures.CLASS_IDS_ORIGINAL, model_name
  )


@pytest.mark.parametrize('shape', [(3, 6), (4, 5)])
def test_a_prediction_smaller_than_its_label_names_the_image(shape):
  extracts = _mask_pair_extracts(np.zeros((4, 6)), np.zeros(shape))
  message = f'prediction of shape {shape} is smaller than the label (4, 6) of '
  with pytest.raises(ValueError, match=re.escape(message) + '.*photo.jpg'):
    list(_preprocessor().process(extracts))


def test_a_padded_prediction_is_cropped_to_its_label():
  label = np.arange(24).reshape(4, 6) % 3
  padded = np.full((5, 8), 7)
  padded[:4, :6] = label[::-1]
  (inputs,) = _preprocessor().process(_mask_pair_extracts(label, padded))
  np.testing.assert_array_equal(inputs.label, label)
  np.testing.assert_array_equal(inputs.prediction, label[::-1])


def test_each_key_and_model_gets_its_own_preprocessor():
  """TFMA runs one preprocessor per name: two metrics reading different
  keys, or the candidate and the baseline, must not share one."""
  names = {
    iou_metric._MaskPairPreprocessor(label, prediction, model).name
    for label, prediction, model in itertools.product(
      ('mask_a', 'mask_b'), ('pred_a', 'pred_b'), ('', 'baseline')
    )
  }
  assert len(names) == 8
