"""model.metrics against an independent per-class computation."""

import io

import numpy as np
from PIL import Image
import pytest

from data import features
from model import metrics
from tests.fixtures.iou_reference import random_split
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
    (np.array([[0, 1]]), np.array([[0]]), '2 pixels'),
  ],
)
def test_out_of_range_values_are_errors(label, prediction, message):
  with pytest.raises(ValueError, match=message):
    metrics.confusion_matrix(label, prediction, 2)


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
