"""model.boundary against the paper's definition, computed step by step."""

import numpy as np
import pytest

from data import features
from model import boundary
from tests.fixtures.iou_reference import reference_boundary
from tests.fixtures.iou_reference import reference_boundary_iou

IGNORE = features.IGNORE_LABEL


@pytest.mark.parametrize(
  'height,width,expected',
  [(1, 1, 1), (10, 10, 1), (30, 40, 1), (375, 500, 12), (480, 640, 16)],
)
def test_boundary_width_is_two_percent_of_the_diagonal(height, width, expected):
  # 0.02 * 625 = 12.5 rounds to 12 (round half to even, as the reference's
  # Python round does); 0.02 * 800 = 16.
  assert boundary.boundary_width(height, width) == expected


def test_square_boundary_is_a_band_of_width_d_image_border_included():
  mask = np.zeros((60, 80), bool)
  mask[10:50, 0:40] = True  # Touches the image's left border.
  d = boundary.boundary_width(60, 80)
  assert d == 2
  edge = boundary.mask_boundary(mask, d)
  interior = np.zeros_like(mask)
  interior[10 + d : 50 - d, d : 40 - d] = True
  np.testing.assert_array_equal(edge, mask & ~interior)
  # The left image border is boundary too.
  assert edge[20, 0] and edge[20, 1] and not edge[20, 2]


@pytest.mark.parametrize('seed', range(4))
def test_mask_boundary_equals_reference_on_random_shapes(seed):
  rng = np.random.default_rng(seed)
  height, width = rng.integers(20, 140, size=2)
  mask = np.zeros((height, width), bool)
  for _ in range(4):
    y, x = rng.integers(0, height), rng.integers(0, width)
    h, w = rng.integers(1, 50, size=2)
    mask[y : y + h, x : x + w] = True
  mask ^= rng.random(mask.shape) < 0.02  # Holes and specks.
  d = boundary.boundary_width(height, width)
  np.testing.assert_array_equal(
    boundary.mask_boundary(mask, d), reference_boundary(mask)
  )


def test_counts_leave_out_void_pixels_and_absent_classes():
  label = np.zeros((30, 30), np.uint8)
  label[5:25, 5:25] = 1
  label[:, :3] = IGNORE
  prediction = np.zeros((30, 30), np.int64)
  prediction[6:25, 5:25] = 1
  counts = boundary.boundary_counts(label, prediction, 3)
  ious, _ = reference_boundary_iou([label], [prediction], 3)
  for c in range(2):
    assert counts[0, c] / counts[1, c] == pytest.approx(ious[c], abs=1e-12)
  assert counts[:, 2].tolist() == [0, 0]  # Class 2: nowhere.
  # An image whose labels are all void counts nothing, whatever predicted.
  void = np.full((30, 30), IGNORE, np.uint8)
  assert not boundary.boundary_counts(void, prediction, 3).any()


def test_mismatched_shapes_are_an_error():
  with pytest.raises(ValueError, match='one 2-D shape'):
    boundary.boundary_counts(np.zeros((2, 3)), np.zeros((3, 2)), 2)
