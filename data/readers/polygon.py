"""Polygon rasterization that reproduces OpenCV's `cv2.fillPoly` exactly.

Supervisely draws polygon labels with `cv2.fillPoly` (supervisely/geometry/
polygon.py: exterior filled with 1, then all holes filled with 0). Its rule is
not the textbook "pixel centre inside" rule: every edge is first drawn as an
8-connected Bresenham line (so boundary pixels are always in), then scanlines
are filled even-odd between edge crossings kept in 16.16 fixed point, and
edges that leave the image are re-anchored on their clipped end points. PIL's
ImageDraw differs on a few pixels per edge, which is enough to move a thin
limb. So this module ports the integer arithmetic of OpenCV 4.x drawing.cpp
(`CollectPolyEdges`, `FillEdgeCollection`, `LineIterator`, `clipLine`) to numpy
instead of adding OpenCV (and its 60 MB wheel) as a dependency.
tests/fixtures/supervisely_sdk holds masks drawn by the SDK itself;
tests/test_data_readers_supervisely.py compares against them, and
tests/test_data_readers_polygon.py against cv2.fillPoly itself.

Coordinates are integer (x, y) = (column, row); points outside the image are
allowed and clipped exactly as OpenCV clips them.
"""

from typing import List, Sequence, Tuple

import numpy as np

_XY_SHIFT = 16
_XY_ONE = 1 << _XY_SHIFT


def _trunc_div(a: int, b: int) -> int:
  """C integer division (truncates toward zero), unlike Python's `//`."""
  q = abs(a) // abs(b)
  return q if (a >= 0) == (b >= 0) else -q


def _clip_line(
  width: int, height: int, x1: int, y1: int, x2: int, y2: int
) -> Tuple[bool, int, int, int, int]:
  """OpenCV `clipLine`: Cohen-Sutherland clip to [0, w-1] x [0, h-1].

  Returns (inside, x1, y1, x2, y2). Like OpenCV, the end points may have been
  moved even when the line turns out to miss the image; callers rely on that.
  """
  right, bottom = width - 1, height - 1
  if width <= 0 or height <= 0:
    return False, x1, y1, x2, y2
  c1 = (x1 < 0) + (x1 > right) * 2 + (y1 < 0) * 4 + (y1 > bottom) * 8
  c2 = (x2 < 0) + (x2 > right) * 2 + (y2 < 0) * 4 + (y2 > bottom) * 8
  if (c1 & c2) == 0 and (c1 | c2) != 0:
    if c1 & 12:
      a = 0 if c1 < 8 else bottom
      x1 += int(float(a - y1) * (x2 - x1) / (y2 - y1))
      y1 = a
      c1 = (x1 < 0) + (x1 > right) * 2
    if c2 & 12:
      a = 0 if c2 < 8 else bottom
      x2 += int(float(a - y2) * (x2 - x1) / (y2 - y1))
      y2 = a
      c2 = (x2 < 0) + (x2 > right) * 2
    if (c1 & c2) == 0 and (c1 | c2) != 0:
      if c1:
        a = 0 if c1 == 1 else right
        y1 += int(float(a - x1) * (y2 - y1) / (x2 - x1))
        x1 = a
        c1 = 0
      if c2:
        a = 0 if c2 == 1 else right
        y2 += int(float(a - x2) * (y2 - y1) / (x2 - x1))
        x2 = a
        c2 = 0
  return (c1 | c2) == 0, x1, y1, x2, y2


def _line_pixels(
  width: int, height: int, x1: int, y1: int, x2: int, y2: int
) -> List[Tuple[int, int]]:
  """Pixels of OpenCV's 8-connected `Line` (LineIterator, left to right)."""
  if not (
    0 <= x1 < width
    and 0 <= x2 < width
    and 0 <= y1 < height
    and 0 <= y2 < height
  ):
    inside, x1, y1, x2, y2 = _clip_line(width, height, x1, y1, x2, y2)
    if not inside:
      return []
  dx, dy = x2 - x1, y2 - y1
  if dx < 0:  # leftToRight: always walk from the left end point.
    dx, dy = -dx, -dy
    x1, y1, x2, y2 = x2, y2, x1, y1
  step_x, step_y = 1, 1
  if dy < 0:
    dy, step_y = -dy, -1
  vertical = dy > dx
  if vertical:
    dx, dy = dy, dx
  err = dx - (dy + dy)
  plus_delta, minus_delta = dx + dx, -(dy + dy)
  x, y = x1, y1
  pixels = []
  for _ in range(dx + 1):
    pixels.append((x, y))
    carry = err < 0
    err += minus_delta + (plus_delta if carry else 0)
    if vertical:
      y += step_y
      if carry:
        x += step_x
    else:
      x += step_x
      if carry:
        y += step_y
  return pixels


def _collect_edges(
  width: int,
  height: int,
  points: np.ndarray,
  outline: List[Tuple[int, int]],
  edges: List[Tuple[int, ...]],
) -> None:
  """OpenCV `CollectPolyEdges` with shift 0 and an 8-connected line type.

  Appends the outline pixels to `outline` and (y0, y1, x, dx) fixed-point
  edges to `edges`; horizontal edges only contribute their outline.
  """
  n = len(points)
  px0, py0 = int(points[n - 1][0]), int(points[n - 1][1])
  for i in range(n):
    px1, py1 = int(points[i][0]), int(points[i][1])
    outline.extend(_line_pixels(width, height, px0, py0, px1, py1))
    # The edge is anchored on the clipped end points when the segment leaves
    # the image (OpenCV: "a more accurate PolyEdge"), on the originals if not.
    t0x, t0y, t1x, t1y = px0, py0, px1, py1
    c0y, c1y = py0, py1
    if not (
      0 <= px0 < width
      and 0 <= px1 < width
      and 0 <= py0 < height
      and 0 <= py1 < height
    ):
      _, t0x, t0y, t1x, t1y = _clip_line(width, height, px0, py0, px1, py1)
      if t0y != t1y:
        c0y, c1y = t0y, t1y
    c0x, c1x = t0x << _XY_SHIFT, t1x << _XY_SHIFT
    if py0 != py1:
      dx = _trunc_div(c1x - c0x, c1y - c0y)
      if py0 < py1:
        edges.append((py0, py1, c0x + (py0 - c0y) * dx, dx))
      else:
        edges.append((py1, py0, c1x + (py1 - c1y) * dx, dx))
    px0, py0 = px1, py1


def _fill_edges(mask: np.ndarray, edges: List[Tuple[int, ...]]) -> None:
  """OpenCV `FillEdgeCollection`, vectorized over rows.

  OpenCV keeps the edges crossing a row in a list sorted by x, pairs
  neighbours (even-odd) and fills [ceil(left), floor(right)] in 16.16 fixed
  point. An edge covers rows y0 <= y < y1 and its x moves by dx per row, in
  exact integer steps, so sorting each row's crossings and pairing them
  gives the same spans without the per-row list walk.
  """
  height, width = mask.shape
  if len(edges) < 2:
    return
  e = np.array(edges, dtype=np.int64)
  y0, y1, x0, dx = e[:, 0], e[:, 1], e[:, 2], e[:, 3]
  start = np.maximum(y0, 0)
  lengths = np.maximum(np.minimum(y1, height) - start, 0)
  if not lengths.any():
    return
  edge = np.repeat(np.arange(len(e)), lengths)
  first = np.repeat(np.cumsum(lengths) - lengths, lengths)
  rows = start[edge] + np.arange(len(edge)) - first
  xs = x0[edge] + (rows - y0[edge]) * dx[edge]
  order = np.lexsort((xs, rows))
  rows, xs = rows[order][0::2], xs[order]
  lefts = (xs[0::2] + _XY_ONE - 1) >> _XY_SHIFT
  rights = xs[1::2] >> _XY_SHIFT
  keep = (lefts < width) & (rights >= 0) & (lefts <= rights)
  rows = rows[keep]
  lefts = np.maximum(lefts[keep], 0)
  rights = np.minimum(rights[keep], width - 1)
  coverage = np.zeros((height, width + 1), dtype=np.int32)
  np.add.at(coverage, (rows, lefts), 1)
  np.add.at(coverage, (rows, rights + 1), -1)
  mask |= np.cumsum(coverage[:, :width], axis=1) > 0


def fill_polygons(
  shape: Tuple[int, int], contours: Sequence[np.ndarray]
) -> np.ndarray:
  """Boolean mask of `cv2.fillPoly(zeros(shape), contours, 1)`.

  Args:
    shape: (height, width) of the image.
    contours: integer arrays of (x, y) points; all contours are filled
      together, even-odd, as one `fillPoly` call does.
  """
  height, width = shape
  mask = np.zeros((height, width), dtype=bool)
  outline: List[Tuple[int, int]] = []
  edges: List[Tuple[int, ...]] = []
  for points in contours:
    points = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    if len(points):
      _collect_edges(width, height, points, outline, edges)
  if outline:
    xy = np.array(outline, dtype=np.int64)
    mask[xy[:, 1], xy[:, 0]] = True
  _fill_edges(mask, edges)
  return mask


def polygon_mask(
  shape: Tuple[int, int],
  exterior: np.ndarray,
  interiors: Sequence[np.ndarray] = (),
) -> np.ndarray:
  """Pixels Supervisely's Polygon._draw_impl sets: exterior minus holes."""
  mask = fill_polygons(shape, [exterior])
  if interiors:
    mask &= ~fill_polygons(shape, list(interiors))
  return mask
