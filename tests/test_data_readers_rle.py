"""data.readers.rle draws COCO segmentations pixel for pixel as pycocotools."""

import numpy as np
from pycocotools import mask as coco_mask
import pytest

from data.readers import rle


def _reference(polygon, height, width):
  rles = coco_mask.frPyObjects([list(map(float, polygon))], height, width)
  return coco_mask.decode(rles)[:, :, 0].astype(bool)


def test_polygons_match_pycocotools_on_random_shapes():
  rng = np.random.default_rng(0)
  for index in range(1500):
    height, width = (int(v) for v in rng.integers(1, 50, 2))
    points = rng.uniform(-8, 58, 2 * int(rng.integers(3, 12)))
    if index % 3 == 0:
      points = np.round(points)  # Vertices on pixel corners and centres.
    elif index % 3 == 1:
      points = np.round(points * 2) / 2
    got = rle.polygon_mask(points.tolist(), height, width)
    np.testing.assert_array_equal(
      got, _reference(points, height, width), err_msg=str(points.tolist())
    )


def test_polygons_of_level_upright_and_diagonal_edges_match_pycocotools():
  # Edges where the walk along x and the walk along y tie (|dx| = |dy|),
  # or one of them is 0, in both directions.
  rng = np.random.default_rng(1)
  steps = np.array([(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1)])
  for _ in range(600):
    height, width = (int(v) for v in rng.integers(1, 30, 2))
    start = rng.integers(-4, 34, 2)
    moves = steps[rng.integers(0, len(steps), int(rng.integers(2, 8)))]
    lengths = rng.integers(1, 12, len(moves))[:, None]
    points = np.concatenate([[start], start + np.cumsum(moves * lengths, 0)])
    if rng.random() < 0.5:
      points = points + 0.5  # Vertices on pixel centres.
    polygon = points.ravel().tolist()
    np.testing.assert_array_equal(
      rle.polygon_mask(polygon, height, width),
      _reference(polygon, height, width),
      err_msg=str(polygon),
    )


def test_a_polygon_of_100000_vertices_matches_pycocotools():
  angles = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
  radius = 200 + 40 * np.sin(angles * 37)
  points = np.stack(
    [320 + radius * np.cos(angles), 240 + radius * np.sin(angles)], 1
  ).ravel()
  got = rle.polygon_mask(points.tolist(), 480, 640)
  np.testing.assert_array_equal(got, _reference(points, 480, 640))
  assert 100_000 < got.sum() < 480 * 640


def test_compressed_counts_round_trip_pycocotools_encoding():
  rng = np.random.default_rng(1)
  for _ in range(200):
    height, width = (int(v) for v in rng.integers(1, 70, 2))
    mask = rng.random((height, width)) < rng.random()
    mask[: rng.integers(0, height + 1)] = True  # Long runs too.
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = rle.string_counts(encoded['counts'].decode())
    np.testing.assert_array_equal(
      rle.decode_counts(counts, height, width), mask
    )


_OUTSIDE = (
  'compressed RLE counts hold characters outside the 64 the encoding uses '
  "('0' to 'o')"
)


@pytest.mark.parametrize(
  'text,message',
  [
    ('0~', _OUTSIDE),
    ('0 ', _OUTSIDE),
    ('0p', _OUTSIDE),  # One past 'o'.
    ('0\u00e9', _OUTSIDE),  # Not ASCII: was read as '?'.
    ('0\ud800', _OUTSIDE),  # A lone surrogate, which JSON can hold.
    ('0P', 'compressed RLE counts end inside a number'),
    (
      'PPPPPPPP0',
      'a compressed RLE count spans 9 characters; at most 7 encode a count '
      'of an image',
    ),
  ],
)
def test_bad_compressed_counts_are_refused(text, message):
  with pytest.raises(rle.SegmentationError) as error:
    rle.string_counts(text)
  assert str(error.value) == message


def test_compressed_counts_at_their_limits_are_read():
  assert rle.string_counts('').tolist() == []
  # Seven characters: 6 of 5 bits with more to come, the last its sign's.
  assert rle.string_counts('PPPPPP0').tolist() == [0]
  assert rle.string_counts('O').tolist() == [-1]  # 0x1F: sign bit set.


def test_counts_must_cover_the_image_exactly():
  with pytest.raises(rle.SegmentationError) as error:
    rle.decode_counts(np.array([5, 6]), 3, 4)
  assert str(error.value) == (
    'RLE runs sum to 11 pixels, not height x width = 3 x 4 = 12'
  )
  with pytest.raises(rle.SegmentationError) as error:
    rle.decode_counts(np.array([14, -2]), 3, 4)
  assert str(error.value) == 'RLE counts hold a negative run'
  # A string that decodes to a negative delta-coded count.
  with pytest.raises(rle.SegmentationError, match='negative run'):
    rle.decode_counts(rle.string_counts('11A'), 3, 4)


def test_an_enormous_outline_is_refused_before_it_is_walked():
  zigzag = [0, 0, 60000, 0] * 40 + [0, 10]
  with pytest.raises(rle.SegmentationError, match='boundary points'):
    rle.polygon_mask(zigzag, 100, 100)
