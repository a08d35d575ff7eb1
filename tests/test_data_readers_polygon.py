"""data.polygon reproduces cv2.fillPoly; expected pixels were drawn by cv2 4.14.

These cases pin the rules one by one: boundary pixels in, even-odd
self-intersection, holes cleared with their boundary, clipping at the image
border. test_random_polygons_across_the_borders_match_opencv compares 600
random cases with cv2.fillPoly itself, run in the clients venv; the
comparison against the Supervisely SDK's drawings is in
test_data_readers_supervisely.py (committed oracle fixtures).
"""

import os
import subprocess

import numpy as np
import pytest

import clients
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


def _random_cases(rng, count, coordinates):
  """Small images with `count` random polygons of 1 to 3 contours.

  `coordinates(rng, n, size)` draws n coordinates for an image side.
  """
  cases = []
  for _ in range(count):
    height, width = (int(v) for v in rng.integers(1, 24, 2))
    contours = []
    for _ in range(int(rng.integers(1, 4))):
      n = int(rng.integers(1, 9))
      x = coordinates(rng, n, width)
      y = coordinates(rng, n, height)
      contours.append(np.stack([x, y], 1).astype(np.int32))
    cases.append(((height, width), contours))
  return cases


def _across_the_image(rng, n, size):
  """Several image sizes beyond each side: edges enter and leave through
  all four borders and corners (OpenCV's clipLine)."""
  return rng.integers(-3 * size, 4 * size + 1, n)


def _on_the_borders(rng, n, size):
  """On, just inside and just outside each border: where "inside the
  image" ends (size - 1 is the last pixel; size is outside)."""
  return rng.choice([-1, 0, 1, size - 2, size - 1, size, size + 1], n)


def _assert_matches_opencv(cases, tmp_path):
  """cv2.fillPoly itself (OpenCV in the clients venv) is the oracle.
  Returns how many cases draw part of the image but not all of it."""
  arrays = {}
  for i, (shape, contours) in enumerate(cases):
    arrays[f'shape_{i}'] = np.array(shape)
    for j, points in enumerate(contours):
      arrays[f'contour_{i}_{j}'] = points
  np.savez(tmp_path / 'cases.npz', **arrays)
  subprocess.run(
    [
      clients.python(),
      os.path.join(
        os.path.dirname(__file__), 'fixtures', 'opencv_fill_poly.py'
      ),
      str(tmp_path / 'cases.npz'),
      str(tmp_path / 'masks.npz'),
    ],
    check=True,
    timeout=120,
  )
  drawn = np.load(tmp_path / 'masks.npz')
  partial = 0
  for i, (shape, contours) in enumerate(cases):
    expected = drawn[f'mask_{i}'].astype(bool)
    got = polygon.fill_polygons(shape, contours)
    np.testing.assert_array_equal(got, expected, err_msg=f'case {i}')
    partial += expected.any() and not expected.all()
  return partial


def test_random_polygons_across_the_borders_match_opencv(tmp_path):
  """Some cases hold several contours, filled together even-odd."""
  cases = _random_cases(np.random.default_rng(21), 600, _across_the_image)
  # Most cases draw part of the image: the clipping is what is compared.
  assert _assert_matches_opencv(cases, tmp_path) > len(cases) // 3


def test_polygons_with_vertices_on_the_borders_match_opencv(tmp_path):
  cases = _random_cases(np.random.default_rng(22), 600, _on_the_borders)
  assert _assert_matches_opencv(cases, tmp_path) > len(cases) // 3


@pytest.mark.parametrize('shape', [(0, 5), (5, 0), (0, 0)])
def test_an_image_without_pixels_draws_nothing(shape):
  # The triangle crosses every border of the 5-pixel side.
  triangle = np.array([[-2, -2], [8, 3], [1, 9]])
  got = polygon.fill_polygons(shape, [triangle])
  assert got.shape == shape
