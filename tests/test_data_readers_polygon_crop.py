"""data.readers.polygon_crop: what the Supervisely SDK keeps of a polygon
that leaves the image (shapely's intersection with [0, w-1] x [0, h-1]).

The SDK's own drawings of whole projects are compared in
test_data_readers_supervisely.py; these cases pin the shapes of the
intersection one by one.
"""

import numpy as np

from data.readers import polygon_crop


def _points(rows):
  return np.array(rows, dtype=np.int64)


def test_a_polygon_entirely_outside_keeps_nothing():
  far = _points([[20, 20], [30, 20], [30, 30]])
  assert polygon_crop.crop_to_image(far, [], 10, 10) == []


def test_a_triangular_hole_inside_the_image_is_kept():
  # A square leaving the image on the right, with a triangle hole inside.
  square = _points([[2, 2], [14, 2], [14, 8], [2, 8]])
  hole = _points([[3, 3], [6, 3], [4, 6]])
  ((exterior, holes),) = polygon_crop.crop_to_image(square, [hole], 10, 10)
  assert sorted(map(tuple, exterior)) == [(2, 2), (2, 8), (9, 2), (9, 8)]
  assert len(holes) == 1
  assert sorted(map(tuple, holes[0])) == [(3, 3), (4, 6), (6, 3)]


def test_a_piece_beside_a_point_of_the_border_is_kept():
  """A self-intersecting polygon whose intersection with the image is a
  collection: a polygon and a point where it touches the border. The
  polygon's vertices are rounded to pixels (5.5 to 6, as Python and the SDK
  round), the point gives no piece."""
  crossing = _points([[-3, 12], [3, -1], [0, 10], [7, 9]])
  ((exterior, holes),) = polygon_crop.crop_to_image(crossing, [], 10, 10)
  assert exterior.tolist() == [[3, 0], [3, 0], [0, 9], [0, 9], [0, 6]]
  assert holes == []
