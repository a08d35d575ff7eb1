"""COCO segmentations -> pixel masks, as the COCO API draws them.

COCO stores an instance as polygons (`[[x1, y1, x2, y2, ...], ...]`, the
union of the parts) or as run-length encoding (RLE) of the column-major
mask: uncompressed (`{"counts": [n0, n1, ...], "size": [h, w]}`, runs of
0s and 1s alternating from 0) or compressed (`counts` as the COCO API's
LEB128-like string). The pixels must be exactly those of the COCO API
(pycocotools, common/maskApi.c), which every COCO-trained model and every
COCO metric uses, so its rules are reimplemented here in numpy:

* polygons: vertices scaled by 5 and rounded, edges walked densely, and
  the pixel boundary taken where the walk changes column (`rleFrPoly`);
  each part is filled alone and the parts are united;
* compressed counts: 5 bits per character (offset 48), a continuation bit
  (0x20) and a sign bit (0x10); from the fourth count on, each is a delta
  to the count two before (`rleFrString`).

tests/test_data_readers_coco.py compares every pixel with pycocotools.
Every input is checked first (`SegmentationError` says what is wrong):
the caller has already refused a size over the pixel limit, and a polygon
whose dense boundary would exceed MAX_BOUNDARY_POINTS is refused before it
is walked.
"""

from typing import Sequence

import numpy as np

# The COCO API's upsampling of polygon vertices (maskApi.c, rleFrPoly).
_SCALE = 5.0
# Points of a polygon's dense boundary (about 5x its perimeter in pixels):
# 16 M points cost ~0.5 GB while walked; a 640x480 image's polygons have
# thousands. A 100,000-vertex outline of a COCO image is far below it.
MAX_BOUNDARY_POINTS = 16_000_000
# Characters of one compressed count: 7 x 5 bits cover 2^31 pixels.
_MAX_COUNT_CHARS = 7


class SegmentationError(ValueError):
  """A segmentation the COCO API would misdraw or crash on."""


def check_counts(counts: np.ndarray, height: int, width: int) -> None:
  """SegmentationError unless the runs (int64) are >= 0 and cover the
  image."""
  if counts.size and counts.min() < 0:
    raise SegmentationError('RLE counts hold a negative run')
  total = int(counts.sum())
  if total != height * width:
    raise SegmentationError(
      f'RLE runs sum to {total} pixels, not height x width = '
      f'{height} x {width} = {height * width}'
    )


def decode_counts(counts: np.ndarray, height: int, width: int) -> np.ndarray:
  """The (height, width) bool mask of RLE counts (int64 runs from 0,
  column-major)."""
  check_counts(counts, height, width)
  values = np.arange(counts.size) % 2 == 1
  return np.repeat(values, counts).reshape(width, height).T


def string_counts(text: str) -> np.ndarray:
  """The counts of a compressed RLE string (the COCO API's encoding)."""
  # UTF-8 puts every character past ASCII in bytes over 127: refused below
  # (an 'ascii' encoding with errors replaced would read them as '?').
  codes = (
    np.frombuffer(text.encode('utf-8', 'surrogatepass'), np.uint8).astype(
      np.int64
    )
    - 48
  )
  if codes.size == 0:
    return codes
  if codes.min() < 0 or codes.max() > 63:
    raise SegmentationError(
      'compressed RLE counts hold characters outside the 64 the encoding '
      "uses ('0' to 'o')"
    )
  more = (codes & 0x20) != 0
  if more[-1]:
    raise SegmentationError('compressed RLE counts end inside a number')
  ends = np.flatnonzero(~more)
  starts = np.concatenate([[0], ends[:-1] + 1])
  lengths = ends - starts + 1
  if lengths.max() > _MAX_COUNT_CHARS:
    raise SegmentationError(
      f'a compressed RLE count spans {lengths.max()} characters; at most '
      f'{_MAX_COUNT_CHARS} encode a count of an image'
    )
  shift = 5 * (np.arange(codes.size) - np.repeat(starts, lengths))
  values = np.add.reduceat((codes & 0x1F) << shift, starts)
  negative = (codes[ends] & 0x10) != 0
  values = np.where(negative, values - (1 << (5 * lengths)), values)
  # From the fourth count on, a count is a delta to the one two before:
  # running sums over the odd counts and over the even ones from the third.
  values[1::2] = np.cumsum(values[1::2])
  values[2::2] = np.cumsum(values[2::2])
  return values


def polygon_mask(
  coordinates: Sequence[float], height: int, width: int
) -> np.ndarray:
  """The (height, width) bool mask of one polygon part [x1, y1, x2, ...]."""
  xy = np.asarray(coordinates, dtype=np.float64)
  # C's (int) cast truncates toward zero.
  x = np.trunc(_SCALE * xy[0::2] + 0.5).astype(np.int64)
  y = np.trunc(_SCALE * xy[1::2] + 0.5).astype(np.int64)
  xs, ys = x, y
  xe, ye = np.roll(x, -1), np.roll(y, -1)
  dx, dy = np.abs(xe - xs), np.abs(ye - ys)
  along_x = dx >= dy
  flip = (along_x & (xs > xe)) | (~along_x & (ys > ye))
  xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
  ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
  steps = np.maximum(dx, dy)
  lengths = steps + 1
  total = int(lengths.sum())
  if total > MAX_BOUNDARY_POINTS:
    raise SegmentationError(
      f'the polygon walks {total} boundary points (5 per pixel of '
      f'perimeter), over the limit of {MAX_BOUNDARY_POINTS}'
    )
  with np.errstate(divide='ignore', invalid='ignore'):
    # A zero-length edge has one point, whose slope is never used.
    slope = np.where(
      along_x,
      (ye - ys) / np.where(dx == 0, 1, dx),
      (xe - xs) / np.where(dy == 0, 1, dy),
    )
  edge = np.repeat(np.arange(x.size), lengths)
  d = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
  t = np.where(flip[edge], steps[edge] - d, d)
  major = along_x[edge]
  u = np.where(
    major, t + xs[edge], np.trunc(xs[edge] + slope[edge] * t + 0.5)
  ).astype(np.int64)
  v = np.where(
    major, np.trunc(ys[edge] + slope[edge] * t + 0.5), t + ys[edge]
  ).astype(np.int64)
  del edge, d, t, major
  # Where the walk changes column, the pixel boundary crosses that column.
  changed = np.flatnonzero(u[1:] != u[:-1]) + 1
  u_now, u_before = u[changed], u[changed - 1]
  column = np.where(u_now < u_before, u_now, u_now - 1).astype(np.float64)
  column = (column + 0.5) / _SCALE - 0.5
  keep = (np.floor(column) == column) & (column >= 0) & (column <= width - 1)
  row = np.minimum(v[changed], v[changed - 1]).astype(np.float64)
  row = np.ceil(np.clip((row + 0.5) / _SCALE - 0.5, 0, height))
  positions = column[keep].astype(np.int64) * height + row[keep].astype(
    np.int64
  )
  return _toggle_mask(positions, height, width)


def _toggle_mask(positions: np.ndarray, height: int, width: int) -> np.ndarray:
  """The mask that switches between 0 and 1 at each column-major position
  (a position listed twice switches back)."""
  positions, repeats = np.unique(positions, return_counts=True)
  positions = positions[repeats % 2 == 1]
  positions = positions[positions < height * width]
  counts = np.diff(np.concatenate([[0], positions, [height * width]]))
  return decode_counts(counts, height, width)
