"""data.polygon reproduces cv2.fillPoly; expected pixels were drawn by cv2 4.14.

The large randomized comparison against the SDK lives in
test_data_supervisely.py (committed oracle fixtures); these cases pin the
rules one by one: boundary pixels in, even-odd self-intersection, holes
cleared with their boundary, clipping at the image border.
"""

import numpy as np

from data.readers import polygon


def _mask(rows):
  return np.array(rows, dtype=bool)


def test_triangle_matches_cv2_pixels():
  got = polygon.fill_polygons((8, 10), [np.array([[1, 1], [8, 2], [3, 6]])])
  expected = _mask(
    [
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0, 1, 1, 1, 1, 0, 0, 0, 0, 0],
      [0, 1, 1, 1, 1, 1, 1, 1, 1, 0],
      [0, 0, 1, 1, 1, 1, 1, 1, 0, 0],
      [0, 0, 1, 1, 1, 1, 1, 0, 0, 0],
      [0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
      [0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
  )
  np.testing.assert_array_equal(got, expected)


def test_self_intersecting_bowtie_matches_cv2_pixels():
  got = polygon.fill_polygons(
    (7, 9), [np.array([[0, 0], [8, 6], [8, 0], [0, 6]])]
  )
  expected = _mask(
    [
      [1, 0, 0, 0, 0, 0, 0, 0, 1],
      [1, 1, 1, 0, 0, 0, 0, 1, 1],
      [1, 1, 1, 1, 0, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0, 0, 1, 1],
      [1, 0, 0, 0, 0, 0, 0, 0, 1],
    ]
  )
  np.testing.assert_array_equal(got, expected)


def test_points_outside_are_clipped_to_the_image():
  got = polygon.fill_polygons(
    (6, 6), [np.array([[-3, -2], [4, -2], [4, 3], [-3, 3]])]
  )
  expected = np.zeros((6, 6), bool)
  expected[0:4, 0:5] = True
  np.testing.assert_array_equal(got, expected)


def test_rectangle_includes_its_boundary_and_hole_clears_its_boundary():
  got = polygon.polygon_mask(
    (12, 12),
    np.array([[1, 1], [10, 1], [10, 10], [1, 10]]),
    [np.array([[4, 4], [7, 4], [7, 7], [4, 7]])],
  )
  expected = np.zeros((12, 12), bool)
  expected[1:11, 1:11] = True
  expected[4:8, 4:8] = False
  np.testing.assert_array_equal(got, expected)
  assert got.sum() == 100 - 16


def test_polygon_entirely_outside_draws_nothing():
  got = polygon.fill_polygons(
    (5, 5), [np.array([[10, 10], [20, 10], [20, 20]])]
  )
  assert not got.any()


def test_degenerate_polygons_draw_their_outline():
  # A horizontal segment has no fill edges; cv2 still draws the line.
  got = polygon.fill_polygons((4, 6), [np.array([[1, 2], [4, 2], [2, 2]])])
  expected = np.zeros((4, 6), bool)
  expected[2, 1:5] = True
  np.testing.assert_array_equal(got, expected)
