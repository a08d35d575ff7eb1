"""model.metrics against an independent per-class computation."""

import io

import numpy as np
from PIL import Image
import pytest

from data import features
from model import metrics
from tests.fixtures.iou_reference import random_split
from tests.fixtures.iou_reference import reference_boundary_iou
from tests.fixtures.iou_reference import reference_scores

IGNORE = features.IGNORE_LABEL


def test_dataset_level_iou_matches_reference_with_ignore_and_absent_class():
  label_maps, prediction_maps = random_split(0)
  names = ['a', 'b', 'c', 'absent']
  matrix = sum(
    metrics.confusion_matrix(label, prediction, 4)
    for label, prediction in zip(label_maps, prediction_maps, strict=True)
  )
  scores = metrics.scores_from_confusion(matrix, names)
  mean_iou, ious, accuracy = reference_scores(label_maps, prediction_maps, 4)
  assert scores['mean_iou'] == pytest.approx(mean_iou, abs=1e-12)
  assert scores['pixel_accuracy'] == pytest.approx(accuracy, abs=1e-12)
  for name, iou in zip(names, ious, strict=True):
    assert scores['per_class_iou'][name] == (
      None if iou is None else pytest.approx(iou, abs=1e-12)
    )
  assert scores['per_class_iou']['absent'] is None


def test_absent_but_predicted_class_counts_as_zero():
  label = np.array([[0, 0], [1, IGNORE]])
  prediction = np.array([[0, 2], [1, 2]])
  scores = metrics.scores_from_confusion(
    metrics.confusion_matrix(label, prediction, 3), ['x', 'y', 'z']
  )
  assert scores['per_class_iou'] == {'x': 0.5, 'y': 1.0, 'z': 0.0}
  assert scores['mean_iou'] == pytest.approx(0.5)
  assert scores['pixel_accuracy'] == pytest.approx(2 / 3)


def test_dataset_iou_is_not_mean_of_image_ious():
  big_label = np.zeros((10, 10), int)
  big_label[:, 5:] = 1
  small_label = np.array([[1]])
  big_pred, small_pred = big_label.copy(), np.array([[0]])
  matrix = metrics.confusion_matrix(
    big_label, big_pred, 2
  ) + metrics.confusion_matrix(small_label, small_pred, 2)
  scores = metrics.scores_from_confusion(matrix, ['bg', 'fg'])
  # Background: TP 50, FP 1 -> 50/51; person: TP 50, FN 1 -> 50/51.
  assert scores['mean_iou'] == pytest.approx(50 / 51)


@pytest.mark.parametrize(
  'label,prediction,message',
  [
    (np.array([[7]]), np.array([[0]]), 'label value 7'),
    (np.array([[0]]), np.array([[5]]), 'prediction value 5'),
    # The first value past the last class, and the first below class 0.
    (np.array([[2]]), np.array([[0]]), 'label value 2 is outside the 2 '),
    (np.array([[0]]), np.array([[2]]), 'prediction value 2 is outside'),
    (np.array([[0]]), np.array([[-1]]), 'prediction value -1 is outside'),
    (np.array([[0, 1]]), np.array([[0]]), '2 pixels'),
  ],
)
def test_out_of_range_values_are_errors(label, prediction, message):
  with pytest.raises(ValueError, match=message):
    metrics.confusion_matrix(label, prediction, 2)


def _blobs(seed, num_classes=3):
  """Label maps with blob-shaped classes (boundaries worth the name) and
  void pixels, and predictions that move the blobs a little."""
  rng = np.random.default_rng(seed)
  label_maps, prediction_maps = [], []
  for _ in range(4):
    h, w = rng.integers(20, 90, size=2)
    label = np.zeros((h, w), np.uint8)
    for c in range(1, num_classes):
      y, x = rng.integers(0, h - 5), rng.integers(0, w - 5)
      label[y : y + rng.integers(5, h), x : x + rng.integers(5, w)] = c
    label[rng.random((h, w)) < 0.05] = IGNORE
    prediction = np.roll(label, rng.integers(-3, 4), axis=1).astype(np.int64)
    prediction[prediction == IGNORE] = 0
    label_maps.append(label)
    prediction_maps.append(prediction)
  return label_maps, prediction_maps


def test_split_counts_score_region_and_boundary_iou_like_the_references():
  label_maps, prediction_maps = _blobs(0)
  # An image whose labels are all void: it counts in nothing.
  label_maps.append(np.full((9, 12), IGNORE, np.uint8))
  prediction_maps.append(np.ones((9, 12), np.int64))
  names = ['bg', 'a', 'b', 'absent']
  counts = metrics.SplitCounts(4)
  for label, prediction in zip(label_maps, prediction_maps, strict=True):
    counts.add(label, prediction)
  scores = counts.scores(names)
  mean_iou, ious, accuracy = reference_scores(label_maps, prediction_maps, 4)
  boundary_ious, mean_boundary = reference_boundary_iou(
    label_maps, prediction_maps, 4
  )
  assert scores.mean_iou == pytest.approx(mean_iou, abs=1e-12)
  assert scores.pixel_accuracy == pytest.approx(accuracy, abs=1e-12)
  assert scores.mean_boundary_iou == pytest.approx(mean_boundary, abs=1e-12)
  for name, iou, edge in zip(names, ious, boundary_ious, strict=True):
    assert scores.per_class_iou[name] == (
      None if iou is None else pytest.approx(iou, abs=1e-12)
    )
    assert scores.per_class_boundary_iou[name] == (
      None if edge is None else pytest.approx(edge, abs=1e-12)
    )
  # Boundaries are harder than regions: shifted blobs lose more at edges.
  assert scores.mean_boundary_iou < scores.mean_iou
  assert scores.per_class_boundary_iou['absent'] is None
  assert scores.absent_classes() == ['absent']
  assert (scores.images, scores.void_images) == (5, 1)
  labels = np.concatenate([m.ravel() for m in label_maps])
  assert scores.label_pixels == {
    name: int(np.sum(labels == c)) for c, name in enumerate(names)
  }


def test_split_counts_merge_like_one_pass():
  label_maps, prediction_maps = _blobs(1)
  one = metrics.SplitCounts(3)
  halves = [metrics.SplitCounts(3), metrics.SplitCounts(3)]
  for i, (label, prediction) in enumerate(
    zip(label_maps, prediction_maps, strict=True)
  ):
    one.add(label, prediction)
    halves[i % 2].add(label, prediction)
  void = np.full((4, 4), IGNORE, np.uint8)
  for counts in (one, one, *halves):  # One all-void image in each half.
    counts.add(void, np.zeros((4, 4), np.int64))
  merged = halves[0].merge(halves[1])
  assert merged.scores(['x', 'y', 'z']) == one.scores(['x', 'y', 'z'])
  assert (merged.images, merged.void_images) == (len(label_maps) + 2, 2)


def test_nothing_labelled_means_no_scores_not_nan():
  counts = metrics.SplitCounts(2)
  counts.add(np.full((4, 4), IGNORE, np.uint8), np.zeros((4, 4), np.int64))
  scores = counts.scores(['bg', 'fg'])
  assert scores.mean_iou is None
  assert scores.pixel_accuracy is None
  assert scores.mean_boundary_iou is None
  assert set(scores.per_class_iou.values()) == {None}
  assert scores.void_images == 1
  assert metrics.format_score(scores.mean_iou) == 'n/a'
  assert metrics.Scores.from_json(scores.to_json()) == scores


def test_ignore_label_is_255_and_left_out():
  """255 is PASCAL VOC's void label, which DeepLab ignores."""
  assert features.IGNORE_LABEL == 255
  label = np.array([[0, 255], [1, 255]])
  prediction = np.array([[0, 1], [1, 0]])
  np.testing.assert_array_equal(
    metrics.confusion_matrix(label, prediction, 2), [[1, 0], [0, 1]]
  )


def test_class_names_must_match_the_matrix():
  with pytest.raises(ValueError):
    metrics.scores_from_confusion(np.eye(2, dtype=np.int64), ['background'])


def test_decode_label_png_reads_class_ids_and_refuses_rgb():
  mask = np.array([[0, 1], [255, 2]], np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(mask).save(buffer, 'PNG')
  np.testing.assert_array_equal(
    metrics.decode_label_png(buffer.getvalue()), mask
  )
  buffer = io.BytesIO()
  Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(buffer, 'PNG')
  with pytest.raises(
    ValueError,
    match=r'^label mask has shape \(2, 2, 3\); expected a single-channel PNG '
    'of class ids$',
  ):
    metrics.decode_label_png(buffer.getvalue())
