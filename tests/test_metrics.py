"""model.metrics against an independent per-class computation."""

import io

import numpy as np
from PIL import Image
import pytest

from data import features
from model import metrics

IGNORE = features.IGNORE_LABEL


def reference_scores(label_maps, prediction_maps, num_classes):
  """Per-class set counting over all pixels of all images (no bincount)."""
  labels = np.concatenate([np.ravel(m) for m in label_maps])
  predictions = np.concatenate([np.ravel(m) for m in prediction_maps])
  keep = labels != IGNORE
  labels, predictions = labels[keep], predictions[keep]
  ious = []
  for c in range(num_classes):
    intersection = np.sum((labels == c) & (predictions == c))
    union = np.sum((labels == c) | (predictions == c))
    ious.append(intersection / union if union else None)
  present = [v for v in ious if v is not None]
  return np.mean(present), ious, np.mean(labels == predictions)


def random_split(seed, num_classes=4, absent_class=3):
  """Images of varied sizes with ignore pixels; class 3 never in labels."""
  rng = np.random.default_rng(seed)
  label_maps, prediction_maps = [], []
  for _ in range(5):
    h, w = rng.integers(5, 40, size=2)
    label = rng.integers(0, absent_class, size=(h, w))
    label[rng.random((h, w)) < 0.1] = IGNORE
    prediction = rng.integers(0, num_classes - 1, size=(h, w))
    label_maps.append(label)
    prediction_maps.append(prediction)
  return label_maps, prediction_maps


def test_dataset_level_iou_matches_reference_with_ignore_and_absent_class():
  label_maps, prediction_maps = random_split(0)
  names = ['a', 'b', 'c', 'absent']
  matrix = sum(metrics.confusion_matrix(l, p, 4)
               for l, p in zip(label_maps, prediction_maps))
  scores = metrics.scores_from_confusion(matrix, names)
  mean_iou, ious, accuracy = reference_scores(label_maps, prediction_maps, 4)
  assert scores['mean_iou'] == pytest.approx(mean_iou, abs=1e-12)
  assert scores['pixel_accuracy'] == pytest.approx(accuracy, abs=1e-12)
  for name, iou in zip(names, ious):
    assert scores['per_class_iou'][name] == (
        None if iou is None else pytest.approx(iou, abs=1e-12))
  assert scores['per_class_iou']['absent'] is None


def test_absent_but_predicted_class_counts_as_zero():
  label = np.array([[0, 0], [1, IGNORE]])
  prediction = np.array([[0, 2], [1, 2]])
  scores = metrics.scores_from_confusion(
      metrics.confusion_matrix(label, prediction, 3), ['x', 'y', 'z'])
  assert scores['per_class_iou'] == {'x': 0.5, 'y': 1.0, 'z': 0.0}
  assert scores['mean_iou'] == pytest.approx(0.5)
  assert scores['pixel_accuracy'] == pytest.approx(2 / 3)


def test_dataset_iou_is_not_mean_of_image_ious():
  big_label = np.zeros((10, 10), int)
  big_label[:, 5:] = 1
  small_label = np.array([[1]])
  big_pred, small_pred = big_label.copy(), np.array([[0]])
  matrix = (metrics.confusion_matrix(big_label, big_pred, 2) +
            metrics.confusion_matrix(small_label, small_pred, 2))
  scores = metrics.scores_from_confusion(matrix, ['bg', 'fg'])
  # Background: TP 50, FP 1 -> 50/51; person: TP 50, FN 1 -> 50/51.
  assert scores['mean_iou'] == pytest.approx(50 / 51)


@pytest.mark.parametrize('label,prediction,message', [
    (np.array([[7]]), np.array([[0]]), 'label value 7'),
    (np.array([[0]]), np.array([[5]]), 'prediction value 5'),
    (np.array([[0, 1]]), np.array([[0]]), '2 pixels'),
])
def test_out_of_range_values_are_errors(label, prediction, message):
  with pytest.raises(ValueError, match=message):
    metrics.confusion_matrix(label, prediction, 2)


def _png(mask):
  buffer = io.BytesIO()
  Image.fromarray(mask.astype(np.uint8), mode='L').save(buffer, 'PNG')
  return buffer.getvalue()


def test_tfma_combiner_crops_padded_predictions_and_matches_reference():
  label_maps, prediction_maps = random_split(1)
  names = ['a', 'b', 'c', 'absent']
  metric = metrics.SegmentationIoU(class_names=names)
  computation, = metric.computations()
  preprocessor, = computation.preprocessors
  combiner = computation.combiner
  accumulator = combiner.create_accumulator()
  for label, prediction in zip(label_maps, prediction_maps):
    padded = np.full((48, 50), IGNORE, np.int32)
    padded[:prediction.shape[0], :prediction.shape[1]] = prediction
    extracts = {
        'features': {features.MASK_ENCODED: np.array([_png(label)],
                                                     dtype=object)},
        'predictions': {metrics.PREDICTION_KEY: padded},
    }
    for inputs in preprocessor.process(extracts):
      accumulator = combiner.add_input(accumulator, inputs)
  merged = combiner.merge_accumulators(
      [accumulator, combiner.create_accumulator()])
  output = {key.name: value
            for key, value in combiner.extract_output(merged).items()}
  mean_iou, ious, accuracy = reference_scores(label_maps, prediction_maps, 4)
  assert output['mean_iou'] == pytest.approx(mean_iou, abs=1e-6)
  assert output['pixel_accuracy'] == pytest.approx(accuracy, abs=1e-6)
  assert output['iou/a'] == pytest.approx(ious[0], abs=1e-6)
  assert np.isnan(output['iou/absent'])


def test_candidate_and_baseline_are_scored_separately():
  label = np.array([[0, 1], [1, 1]])
  extracts = {
      'features': {features.MASK_ENCODED: np.array([_png(label)],
                                                   dtype=object)},
      'predictions': {
          'candidate': {metrics.PREDICTION_KEY: np.array([[0, 1], [1, 1]])},
          'baseline': {metrics.PREDICTION_KEY: np.array([[1, 1], [1, 1]])},
      },
  }
  metric = metrics.SegmentationIoU(class_names=['bg', 'fg'])
  results = {}
  for computation in metric.computations(
      model_names=['candidate', 'baseline']):
    preprocessor, = computation.preprocessors
    combiner = computation.combiner
    accumulator = combiner.create_accumulator()
    for inputs in preprocessor.process(extracts):
      accumulator = combiner.add_input(accumulator, inputs)
    for key, value in combiner.extract_output(accumulator).items():
      results[(key.model_name, key.name)] = value
  assert results[('candidate', 'mean_iou')] == 1.0
  assert results[('baseline', 'mean_iou')] == pytest.approx((0 + 0.75) / 2)
