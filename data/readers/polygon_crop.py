"""Cropping a polygon to the image the way the Supervisely SDK does.

supervisely.Annotation crops every label whose bounding box is not inside
[0, w-1] x [0, h-1] when it is built or loaded (Label.crop -> Polygon.crop):
shapely `buffer(0)` of the polygon intersected with that rectangle, new
vertices rounded, pieces under 3 points dropped; it then draws the pieces
with cv2 (data.polygon). Clipping while rasterizing instead would differ
along the border, so the reader crops first, as the SDK does.
"""

from typing import List, Tuple

import numpy as np
from shapely import geometry

Piece = Tuple[np.ndarray, List[np.ndarray]]  # (exterior, holes), (x, y) ints.


def crop_to_image(
  exterior: np.ndarray, interior: List[np.ndarray], height: int, width: int
) -> List[Piece]:
  """The pieces the SDK keeps of a polygon that leaves the image."""
  window = geometry.Polygon(
    [(0, 0), (0, width - 1), (height - 1, width - 1), (height - 1, 0)]
  )
  try:
    shape = (
      geometry.Polygon(exterior[:, ::-1], holes=[h[:, ::-1] for h in interior])
      .buffer(0)
      .intersection(window)
    )
    pieces = _coords_list(geometry.mapping(shape))
  except Exception:  # The SDK logs and drops polygons shapely rejects.
    return []

  def points(ring):
    return np.array(
      [(round(col), round(row)) for row, col in ring], dtype=np.int64
    ).reshape(-1, 2)

  return [
    (points(piece[0]), [points(h) for h in piece[1:] if len(h) > 2])
    for piece in pieces
    if piece and len(piece[0]) >= 3
  ]


def _coords_list(shape: dict) -> list:
  """Pieces of a shapely `mapping`, as the SDK's shapely_figure_to_coords_list.

  Each piece is [exterior, *holes], rings without the repeated end point.
  Points and lines (where the polygon only touches the image's border) have
  no area and give no piece: the SDK turns them into point lists that it
  then drops.
  """
  kind = shape['type']

  def dedupe(rings):  # shapely closes every ring: drop the repeated point.
    return [list(r[:-1]) for r in rings]

  if kind == 'Polygon':
    return [dedupe(shape['coordinates'])]
  if kind == 'MultiPolygon':
    return [dedupe(p) for p in shape['coordinates']]
  if kind == 'GeometryCollection':
    return [piece for g in shape['geometries'] for piece in _coords_list(g)]
  return []
