"""Supervisely projects (Supervisely Person and the embedded demo) -> examples.

A project is `meta.json` plus dataset folders `<ds>/img/<image>` and
`<ds>/ann/<annotation>.json`. Two generations of the format are read:

* current (what the official `supervisely` SDK writes): the annotation of
  `x.png` is `ann/x.png.json`; each object names its `geometryType`;
* legacy (the 2018 Supervisely Person release): every object carries both a
  `bitmap` and a `points` field, its shape comes from `meta.json` (or a
  `type` field), tags are plain strings, and the annotation may be named after
  the image stem (`ann/x.json`).

Bitmaps are base64(zlib(PNG)); the PNG's alpha channel (or its only channel,
or its palette transparency) is the mask, pasted at `origin` = [x, y].
Polygons are drawn with data.polygon, which reproduces the SDK's cv2
rasterizer; a polygon that leaves the image is first cropped to it the way
the SDK's loader does (data.polygon_crop). Objects are drawn in file order,
later ones on top, as the SDK's `Annotation.draw` does. Person classes
become 1, `neutral` becomes 255 (ignored by loss and metrics), the rest of
the image 0.
"""

import base64
import binascii
import dataclasses
import json
from typing import Dict, List, Optional, Sequence, Tuple
import zlib

import numpy as np

from data import example as example_lib
from data import features
from data import files
from data import images
from data import ingest
from data import labels
from data import polygon
from data import polygon_crop
from data import problems

# Supervisely Person class titles -> class ids in labels.PEOPLE_CLASSES.
PERSON_ID = labels.PEOPLE_CLASSES.index('person')
CLASS_IDS = {
  'person_poly': PERSON_ID,
  'person_bmp': PERSON_ID,
  'neutral': features.IGNORE_LABEL,
}

BITMAP = 'bitmap'
POLYGON = 'polygon'
_IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
# Points further out than this are not clipping noise but garbage; they would
# also make the scanline fill walk millions of empty rows.
_MAX_COORDINATE = 1 << 20


@dataclasses.dataclass(frozen=True)
class Item:
  """One image of a project, located but not read yet (cheap to pickle)."""

  dataset: str
  image_name: str  # File name in img/ (for an orphan annotation: its guess).
  image_path: Optional[str]  # None: the annotation has no image.
  ann_path: Optional[str]  # None: the image has no annotation.

  @property
  def filename(self) -> str:
    """The value of image/filename: `<dataset>/<image file name>`."""
    return f'{self.dataset}/{self.image_name}'


def find_project(data_root: str) -> str:
  """The folder holding meta.json: data_root or its only child with one.

  Archives of Supervisely Person unpack to a single folder, so both the
  archive's folder and its parent are accepted.
  """
  if files.exists(files.join(data_root, 'meta.json')):
    return data_root
  if files.is_dir(data_root):
    candidates = [
      files.join(data_root, name)
      for name in files.list_dir(data_root)
      if files.exists(files.join(data_root, name, 'meta.json'))
    ]
    if len(candidates) == 1:
      return candidates[0]
  raise FileNotFoundError(
    f'{data_root}: not a Supervisely project: expected meta.json in it or in '
    'exactly one of its sub-folders'
  )


def layout(data_root: str, voc_aug: bool = False) -> ingest.Layout:
  """One input split, the whole project: ExampleGen hashes it into splits."""
  del voc_aug  # VOC only; the registry refuses it for other datasets.
  project = find_project(data_root)
  return ingest.Layout(
    project, (('all', 'meta.json'),), ('meta.json', '*/img/*', '*/ann/*')
  )


class SuperviselySource(ingest.Source):
  """Reads a Supervisely project (current or legacy format)."""

  def __init__(self, project_dir: str, voc_aug: bool = False):
    del voc_aug  # VOC only.
    self._project = project_dir
    self._shapes = read_shapes(project_dir)

  def list_keys(self, split_pattern: str):
    del split_pattern  # One input split: the whole project.
    return list_items(self._project), {}

  def read(self, key: 'Item'):
    return read_example(key, self._shapes)


def read_shapes(project_dir: str) -> Dict[str, str]:
  """Class title -> shape ('bitmap', 'polygon', ...) from meta.json."""
  path = files.join(project_dir, 'meta.json')
  try:
    meta = json.loads(files.read_bytes(path))
    return {c['title']: c.get('shape', '') for c in meta.get('classes', [])}
  except (ValueError, TypeError, KeyError, AttributeError) as e:
    raise ValueError(
      f'{path}: malformed meta.json: {e!r}; expected '
      '{"classes": [{"title": ..., "shape": ...}, ...]}'
    ) from e


def list_items(project_dir: str) -> List[Item]:
  """Every image and every annotation of the project, paired, sorted.

  An image without annotation and an annotation without image are still
  listed, so that they are reported (or fail the run), never dropped.
  """
  items = []
  for dataset in files.list_dir(project_dir):
    img_dir = files.join(project_dir, dataset, 'img')
    ann_dir = files.join(project_dir, dataset, 'ann')
    if not files.is_dir(img_dir):
      continue
    images = [
      n
      for n in files.list_dir(img_dir)
      if n.lower().endswith(_IMAGE_EXTENSIONS)
    ]
    anns = (
      set(n for n in files.list_dir(ann_dir) if n.endswith('.json'))
      if files.is_dir(ann_dir)
      else set()
    )
    for name in images:
      stem = name.rsplit('.', 1)[0]
      ann = next(
        (a for a in (name + '.json', stem + '.json') if a in anns), None
      )
      anns.discard(ann)
      items.append(
        Item(
          dataset,
          name,
          files.join(img_dir, name),
          files.join(ann_dir, ann) if ann else None,
        )
      )
    for ann in sorted(anns):
      items.append(
        Item(dataset, ann[: -len('.json')], None, files.join(ann_dir, ann))
      )
  return items


def rasterize_polygon(
  exterior: Sequence[Sequence[int]],
  interior: Sequence[Sequence[Sequence[int]]],
  height: int,
  width: int,
) -> np.ndarray:
  """Boolean mask of a Supervisely polygon ([x, y] points), as the SDK
  draws it."""
  return polygon.polygon_mask(
    (height, width),
    np.asarray(exterior, dtype=np.int64).reshape(-1, 2),
    [np.asarray(h, dtype=np.int64).reshape(-1, 2) for h in interior],
  )


def decode_bitmap(data: str, path: str) -> np.ndarray:
  """Boolean mask from a bitmap's `data`: base64 -> zlib -> PNG.

  The mask is the alpha channel when there is one (RGBA, LA, or a palette or
  gray image with transparency), else the single channel (L, 1, I;16) != 0.
  An RGB PNG without alpha has no mask in it: the SDK refuses it too. Raw
  (not zlib-compressed) PNGs, which recent SDKs also accept, are read too.
  """
  try:
    raw = base64.b64decode(data, validate=True)
  except (binascii.Error, ValueError, TypeError) as e:
    raise problems.BadExample(
      problems.BAD_BITMAP, path, f'bitmap data is not base64: {e}'
    ) from e
  try:
    raw = zlib.decompress(raw)
  except zlib.error:
    pass  # Uncompressed PNG; if it is not one, PIL says so below.
  image = images.open_image(
    raw, path, problems.BAD_BITMAP, 'bitmap', formats=('PNG',)
  )
  if image.mode in ('P', 'L', 'RGB') and 'transparency' in image.info:
    image = image.convert('RGBA' if image.mode != 'L' else 'LA')
  if image.mode in ('RGBA', 'LA', 'PA', 'RGBa', 'La'):
    return np.asarray(image.getchannel('A')) != 0
  if image.mode in ('L', '1', 'I;16', 'I', 'I;16B', 'F'):
    return np.asarray(image) != 0
  raise problems.BadExample(
    problems.BAD_BITMAP,
    path,
    f'bitmap PNG has mode {image.mode} without transparency; expected an '
    'alpha channel or a single channel',
  )


def _geometry_type(obj: dict, shapes: Dict[str, str]) -> str:
  """Current objects name their geometry; legacy ones rely on meta.json."""
  for value in (
    obj.get('geometryType'),
    obj.get('type'),
    shapes.get(obj.get('classTitle')),
  ):
    if value:
      return value
  if obj.get('bitmap'):
    return BITMAP
  return POLYGON


def _points(value, path: str, what: str) -> np.ndarray:
  """[[x, y], ...] as int64, truncated like the SDK's np.array(..., int64)."""
  try:
    points = np.asarray(value, dtype=np.float64)
  except (TypeError, ValueError) as e:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'{what} is not a list of [x, y] numbers'
    ) from e
  if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
    raise problems.BadExample(
      problems.BAD_ANNOTATION,
      path,
      f'{what} has shape {points.shape}; a polygon needs at least 3 [x, y] '
      'points',
    )
  if not np.isfinite(points).all() or np.abs(points).max() > _MAX_COORDINATE:
    raise problems.BadExample(
      problems.BAD_ANNOTATION,
      path,
      f'{what} has a coordinate beyond +-{_MAX_COORDINATE}',
    )
  return points.astype(np.int64)


def _polygon_pixels(
  obj: dict, height: int, width: int, path: str
) -> Tuple[np.ndarray, bool]:
  """(mask, clipped): the polygon's pixels and whether it left the image."""
  pts = obj.get('points')
  if not isinstance(pts, dict):
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, 'polygon object has no "points" object'
    )
  exterior = _points(pts.get('exterior'), path, 'points.exterior')
  interior = [
    _points(h, path, f'points.interior[{i}]')
    for i, h in enumerate(pts.get('interior') or [])
  ]
  inside = (exterior.min(0) >= 0).all() and (
    exterior.max(0) < (width, height)
  ).all()
  if inside:
    return polygon.polygon_mask((height, width), exterior, interior), False
  pieces = polygon_crop.crop_to_image(exterior, interior, height, width)
  mask = np.zeros((height, width), dtype=bool)
  for piece_exterior, piece_holes in pieces:
    mask |= polygon.polygon_mask((height, width), piece_exterior, piece_holes)
  return mask, True


def _bitmap_pixels(
  obj: dict, height: int, width: int, path: str
) -> Tuple[np.ndarray, bool]:
  """(mask, clipped): the bitmap pasted at its origin, cut to the image."""
  bitmap = obj.get('bitmap')
  if not isinstance(bitmap, dict) or not isinstance(bitmap.get('data'), str):
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, 'bitmap object has no "bitmap.data" string'
    )
  origin = bitmap.get('origin')
  if (
    not isinstance(origin, (list, tuple))
    or len(origin) != 2
    or not all(isinstance(v, (int, float)) for v in origin)
  ):
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'bitmap origin {origin!r} is not [x, y]'
    )
  data = decode_bitmap(bitmap['data'], path)
  x, y = int(origin[0]), int(origin[1])
  mask = np.zeros((height, width), dtype=bool)
  top, left = max(y, 0), max(x, 0)
  bottom = min(y + data.shape[0], height)
  right = min(x + data.shape[1], width)
  if top < bottom and left < right:
    mask[top:bottom, left:right] = data[
      top - y : bottom - y, left - x : right - x
    ]
  clipped = bool(data.sum() != mask.sum())
  return mask, clipped


def render_annotation(
  ann: dict,
  height: int,
  width: int,
  path: str,
  shapes: Dict[str, str],
  class_ids: Optional[Dict[str, int]] = None,
) -> Tuple[np.ndarray, Dict[str, int]]:
  """(uint8 class-id mask, notes) of a parsed annotation.

  Notes count repairs, e.g. {'clipped_polygon': 2}.
  """
  class_ids = CLASS_IDS if class_ids is None else class_ids
  objects = ann.get('objects')
  if not isinstance(objects, list):
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, '"objects" is missing or not a list'
    )
  mask = np.zeros((height, width), dtype=np.uint8)
  notes = {}
  for index, obj in enumerate(objects):
    if not isinstance(obj, dict):
      raise problems.BadExample(
        problems.BAD_ANNOTATION, path, f'objects[{index}] is not an object'
      )
    title = obj.get('classTitle')
    if title not in class_ids:
      raise problems.BadExample(
        problems.UNKNOWN_CLASS,
        path,
        f'objects[{index}] has class {title!r}; known classes: '
        f'{sorted(class_ids)}',
      )
    kind = _geometry_type(obj, shapes)
    if kind == BITMAP:
      pixels, clipped = _bitmap_pixels(obj, height, width, path)
    elif kind == POLYGON:
      pixels, clipped = _polygon_pixels(obj, height, width, path)
    else:
      raise problems.BadExample(
        problems.BAD_ANNOTATION,
        path,
        f'objects[{index}] has geometry {kind!r}; supported: bitmap, polygon',
      )
    if clipped:
      note = (
        problems.CLIPPED_POLYGON if kind == POLYGON else problems.CLIPPED_BITMAP
      )
      notes[note] = notes.get(note, 0) + 1
    mask[pixels] = class_ids[title]
  return mask, notes


def parse_annotation(data: bytes, path: str) -> Tuple[dict, int, int]:
  """(annotation, height, width) of an annotation file's bytes."""
  try:
    ann = json.loads(data)
  except (ValueError, UnicodeDecodeError) as e:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'not valid JSON (truncated?): {e}'
    ) from e
  if not isinstance(ann, dict):
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, 'top level is not a JSON object'
    )
  size = ann.get('size')
  try:
    height, width = int(size['height']), int(size['width'])
  except (TypeError, KeyError, ValueError) as e:
    raise problems.BadExample(
      problems.BAD_ANNOTATION,
      path,
      f'"size" {size!r} is not {{"height": int, "width": int}}',
    ) from e
  return ann, height, width


def read_example(
  item: Item, shapes: Dict[str, str]
) -> Tuple[example_lib.SegmentationExample, Dict[str, int]]:
  """(example, notes) of one project item; raises problems.BadExample."""
  if item.image_path is None:
    raise problems.BadExample(
      problems.MISSING_IMAGE,
      item.ann_path,
      f'annotation has no image {item.image_name} in {item.dataset}/img',
    )
  if item.ann_path is None:
    raise problems.BadExample(
      problems.MISSING_MASK,
      item.image_path,
      f'image has no annotation ann/{item.image_name}.json (nor '
      f'ann/<stem>.json)',
    )
  image_bytes = files.read_bytes(item.image_path)
  info = example_lib.inspect_image(image_bytes, item.image_path)
  ann, height, width = parse_annotation(
    files.read_bytes(item.ann_path), item.ann_path
  )
  if (height, width) != (info.height, info.width):
    raise problems.BadExample(
      problems.SIZE_MISMATCH,
      item.ann_path,
      f'annotation size {height}x{width} (HxW) differs from image '
      f'{item.image_path} size {info.height}x{info.width}',
    )
  mask, notes = render_annotation(ann, height, width, item.ann_path, shapes)
  return example_lib.SegmentationExample(
    item.filename, image_bytes, info, example_lib.encode_mask(mask)
  ), notes
