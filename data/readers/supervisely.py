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
from typing import Dict, List, Optional, Tuple
import zlib

import numpy as np

from data import annotation_json
from data import example as example_lib
from data import features
from data import files
from data import guard
from data import images
from data import labels
from data import problems
from data.readers import polygon
from data.readers import polygon_crop
from data.readers import source

PERSON = 'person'
# Supervisely Person class titles -> class names (None: ignore).
CLASS_NAMES = {'person_poly': PERSON, 'person_bmp': PERSON, 'neutral': None}
# ... as class ids in labels.PEOPLE_CLASSES.
CLASS_IDS = {
  title: labels.PEOPLE_CLASSES.index(name) if name else features.IGNORE_LABEL
  for title, name in CLASS_NAMES.items()
}

BITMAP = 'bitmap'
POLYGON = 'polygon'
IMAGE_DIR = 'img'
ANN_DIR = 'ann'
# Points further out than this are not clipping noise but garbage; they would
# also make the scanline fill walk millions of empty rows.
_MAX_COORDINATE = 1 << 20
# Vertices read from one polygon ring and from one annotation. Supervisely
# Person's most detailed polygons have a few hundred; rasterizing costs time
# and memory per vertex (60,000 took 17 s and 2 GB before this bound).
MAX_RING_VERTICES = 10_000
MAX_ANNOTATION_VERTICES = 100_000
# Largest side an annotation may declare.
_MAX_SIDE = 1 << 16


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


def layout(config) -> source.Layout:
  """One input split, the whole project: ExampleGen hashes it into splits."""
  project = find_project(config.data_root)
  for name in files.list_dir(project):
    folder = files.join(project, name)
    if name.startswith('.') or not files.is_dir(folder):
      continue
    has = {
      d
      for d in (IMAGE_DIR, ANN_DIR, 'images', 'annotations')
      if files.is_dir(files.join(folder, d))
    }
    if has and IMAGE_DIR not in has:
      raise FileNotFoundError(
        f'{problems.printable(folder)}: a Supervisely dataset folder holds '
        f'{IMAGE_DIR}/ and {ANN_DIR}/, but this one has {sorted(has)}; '
        f'rename its image folder to {IMAGE_DIR}/'
      )
  return source.Layout(
    project, ((source.ALL, 'meta.json'),), ('meta.json', '*/img/*', '*/ann/*')
  )


class SuperviselySource(source.Source):
  """Reads a Supervisely project (current or legacy format).

  image/source is the dataset folder's name. The person classes take the
  id of 'person' in the config's labels (after its class_map).
  """

  def __init__(self, project_dir: str, config):
    self._project = project_dir
    self._root = guard.DataRoot(project_dir)
    self._max_pixels = config.max_image_pixels
    self._shapes = read_shapes(project_dir)
    person = config.class_ids([PERSON])[PERSON]
    self._class_ids = {
      title: person if name else features.IGNORE_LABEL
      for title, name in CLASS_NAMES.items()
    }

  def list_keys(self, split_pattern: str):
    del split_pattern  # One input split: the whole project.
    return list_items(self._project), {}

  def read(self, key: 'Item'):
    return read_example(
      key, self._shapes, self._root, self._max_pixels, self._class_ids
    )


def read_shapes(project_dir: str) -> Dict[str, str]:
  """Class title -> shape ('bitmap', 'polygon', ...) from meta.json."""
  path = files.join(project_dir, 'meta.json')
  try:
    meta = annotation_json.parse(files.read_bytes(path), path)
    classes = annotation_json.expect(
      annotation_json.expect(meta, dict, path, 'meta.json').get('classes', []),
      list,
      path,
      'classes',
    )
    shapes = {}
    for index, entry in enumerate(classes):
      entry = annotation_json.expect(entry, dict, path, f'classes[{index}]')
      title = annotation_json.expect(
        entry.get('title'), str, path, f'classes[{index}].title'
      )
      shapes[title] = entry.get('shape') or ''
    return shapes
  except problems.BadExample as e:
    raise ValueError(
      f'{e}; expected {{"classes": [{{"title": ..., "shape": ...}}, ...]}}'
    ) from e


def list_items(project_dir: str) -> List[Item]:
  """Every image and every annotation of the project, paired, sorted.

  An image without annotation and an annotation without image are still
  listed, so that they are reported (or fail the run), never dropped.
  """
  items = []
  for dataset in files.list_dir(project_dir):
    img_dir = files.join(project_dir, dataset, IMAGE_DIR)
    ann_dir = files.join(project_dir, dataset, ANN_DIR)
    if dataset.startswith('.') or not files.is_dir(img_dir):
      continue  # Not a dataset (layout() refuses misnamed ones).
    # Every file, whatever its extension: one the reader cannot decode is
    # reported as such, never skipped unseen.
    image_names = [n for n in files.list_dir(img_dir) if not n.startswith('.')]
    anns = (
      set(n for n in files.list_dir(ann_dir) if n.endswith('.json'))
      if files.is_dir(ann_dir)
      else set()
    )
    for name in image_names:
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


def decode_bitmap(data: str, path: str, height: int, width: int) -> np.ndarray:
  """Boolean mask from a bitmap's `data`: base64 -> zlib -> PNG.

  The mask is what the Supervisely SDK reads (Bitmap.base64_2_data, which
  decodes with OpenCV): the non-zero pixels of the alpha channel when the
  PNG has one (gray or colour with alpha, a palette or RGB image with a
  tRNS chunk), else the non-zero pixels of a gray PNG, whose tRNS chunk
  OpenCV ignores. An RGB or palette PNG without transparency has no mask in
  it: the SDK refuses it too. Refused here and read by the SDK: 16-bit
  colour and gray-alpha PNGs, whose samples PIL cuts to their high byte (an
  alpha of 255 in 65535 would read as 0). Raw (not zlib-compressed) PNGs,
  which recent SDKs also accept, are read by the same rule. The base64 is
  read as the SDK reads it, line breaks and other stray characters skipped.
  Nothing is inflated or decoded past what a bitmap as large as the image
  (height x width) can need.
  """
  try:
    raw = base64.b64decode(data)
  except (binascii.Error, ValueError) as e:
    raise problems.BadExample(
      problems.BAD_BITMAP, path, f'bitmap data is not base64: {e}'
    ) from e
  raw = _inflate(raw, path, height, width)
  image = images.open_bitmap(raw, path, height, width)
  if images.png_bit_depth(raw) == 16 and image.mode != 'I;16':
    raise problems.BadExample(
      problems.BAD_BITMAP,
      path,
      'a 16-bit colour or gray-alpha bitmap PNG: it would be read from the '
      'high byte of each sample only; save it with 8 bits per sample',
    )
  if image.mode in ('P', 'RGB') and 'transparency' in image.info:
    image = image.convert('RGBA')
  if image.mode in ('RGBA', 'LA'):
    return np.asarray(image.getchannel('A')) != 0
  if image.mode in ('1', 'L', 'I;16'):
    return np.asarray(image) != 0
  raise problems.BadExample(
    problems.BAD_BITMAP,
    path,
    f'bitmap PNG has mode {image.mode} without transparency; expected an '
    'alpha channel or a single channel',
  )


def _inflate(raw: bytes, path: str, height: int, width: int) -> bytes:
  """zlib-inflated bytes, at most what a height x width PNG can hold.

  The bound is 8 bytes per pixel (16-bit RGBA, uncompressed) plus a filter
  byte per row and 64 KB for chunks; data that is not zlib is returned as
  it is (a raw PNG).
  """
  limit = height * (8 * width + 1) + (1 << 16)
  inflater = zlib.decompressobj()
  try:
    out = inflater.decompress(raw, limit)
  except zlib.error:
    return raw  # Uncompressed PNG; if it is not one, PIL says so.
  if inflater.unconsumed_tail:
    raise problems.BadExample(
      problems.BITMAP_TOO_LARGE,
      path,
      f'bitmap data inflates past {limit:,} bytes, more than a bitmap of the '
      f'image size {height}x{width} can hold; it was not inflated further',
    )
  return out


def _geometry_type(
  obj: dict, shapes: Dict[str, str], path: str, where: str
) -> str:
  """Current objects name their geometry; legacy ones rely on meta.json."""
  for key in ('geometryType', 'type'):
    if obj.get(key) is not None:
      return annotation_json.expect(obj[key], str, path, f'{where}.{key}')
  if shapes.get(obj['classTitle']):
    return shapes[obj['classTitle']]
  if obj.get('bitmap'):
    return BITMAP
  return POLYGON


def _ring(value, path: str, where: str) -> np.ndarray:
  """A ring's [[x, y], ...] as int64, truncated like the SDK's np.array."""
  points = annotation_json.points(
    value, path, where, _MAX_COORDINATE, MAX_RING_VERTICES
  )
  if len(points) < 3:
    raise problems.BadExample(
      problems.BAD_ANNOTATION,
      path,
      f'{where} has {len(points)} points; a polygon needs at least 3',
    )
  return np.asarray(points, dtype=np.float64).astype(np.int64)


def _polygon_pixels(
  obj: dict, height: int, width: int, path: str, where: str
) -> Tuple[np.ndarray, bool, int]:
  """(mask, clipped, vertices): the polygon's pixels, whether it left the
  image, and how many vertices it has."""
  pts = obj.get('points')
  if pts is None:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'{where} has no "points"'
    )
  annotation_json.expect(pts, dict, path, f'{where}.points')
  exterior = _ring(pts.get('exterior'), path, f'{where}.points.exterior')
  holes = pts.get('interior')
  holes = [] if holes is None else holes
  annotation_json.expect(holes, list, path, f'{where}.points.interior')
  interior = [
    _ring(h, path, f'{where}.points.interior[{i}]') for i, h in enumerate(holes)
  ]
  vertices = len(exterior) + sum(len(h) for h in interior)
  inside = (exterior.min(0) >= 0).all() and (
    exterior.max(0) < (width, height)
  ).all()
  if inside:
    mask = polygon.polygon_mask((height, width), exterior, interior)
    return mask, False, vertices
  pieces = polygon_crop.crop_to_image(exterior, interior, height, width)
  mask = np.zeros((height, width), dtype=bool)
  for piece_exterior, piece_holes in pieces:
    mask |= polygon.polygon_mask((height, width), piece_exterior, piece_holes)
  return mask, True, vertices


def _bitmap_pixels(
  obj: dict, height: int, width: int, path: str, where: str
) -> Tuple[np.ndarray, bool]:
  """(mask, clipped): the bitmap pasted at its origin, cut to the image."""
  bitmap = obj.get('bitmap')
  if bitmap is None:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'{where} has no "bitmap"'
    )
  annotation_json.expect(bitmap, dict, path, f'{where}.bitmap')
  data = annotation_json.expect(
    bitmap.get('data'), str, path, f'{where}.bitmap.data'
  )
  origin = annotation_json.points(
    [bitmap.get('origin')], path, f'{where}.bitmap.origin', _MAX_COORDINATE, 1
  )[0]
  pixels = decode_bitmap(data, path, height, width)
  x, y = int(origin[0]), int(origin[1])
  mask = np.zeros((height, width), dtype=bool)
  top, left = max(y, 0), max(x, 0)
  bottom = min(y + pixels.shape[0], height)
  right = min(x + pixels.shape[1], width)
  if top < bottom and left < right:
    mask[top:bottom, left:right] = pixels[
      top - y : bottom - y, left - x : right - x
    ]
  clipped = bool(pixels.sum() != mask.sum())
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
  if objects is None:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, 'the annotation has no "objects"'
    )
  annotation_json.expect(objects, list, path, 'objects')
  mask = np.zeros((height, width), dtype=np.uint8)
  notes = {}
  vertices = 0
  for index, obj in enumerate(objects):
    where = f'objects[{index}]'
    annotation_json.expect(obj, dict, path, where)
    title = annotation_json.expect(
      obj.get('classTitle'), str, path, f'{where}.classTitle'
    )
    if title not in class_ids:
      raise problems.BadExample(
        problems.UNKNOWN_CLASS,
        path,
        f'{where} has class {title!r}; known classes: {sorted(class_ids)}',
      )
    kind = _geometry_type(obj, shapes, path, where)
    if kind == BITMAP:
      pixels, clipped = _bitmap_pixels(obj, height, width, path, where)
    elif kind == POLYGON:
      pixels, clipped, count = _polygon_pixels(obj, height, width, path, where)
      vertices += count
      if vertices > MAX_ANNOTATION_VERTICES:
        raise problems.BadExample(
          problems.TOO_MANY_VERTICES,
          path,
          f'its polygons have more than {MAX_ANNOTATION_VERTICES} vertices '
          'in all',
        )
    else:
      raise problems.BadExample(
        problems.BAD_ANNOTATION,
        path,
        f'{where} has geometry {kind!r}; supported: bitmap, polygon',
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
  ann = annotation_json.expect(
    annotation_json.parse(data, path), dict, path, 'the top level'
  )
  size = ann.get('size')
  if size is None:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, 'the annotation has no "size"'
    )
  annotation_json.expect(size, dict, path, 'size')
  height, width = (
    annotation_json.integer(size.get(key), path, f'size.{key}', 1, _MAX_SIDE)
    for key in ('height', 'width')
  )
  return ann, height, width


def read_example(
  item: Item,
  shapes: Dict[str, str],
  root: guard.DataRoot,
  max_pixels: int,
  class_ids: Optional[Dict[str, int]] = None,
) -> Tuple[example_lib.SegmentationExample, Dict[str, int]]:
  """(example, notes) of one project item; raises problems.BadExample."""
  if item.image_path is None:
    raise problems.BadExample(
      problems.MISSING_IMAGE,
      item.ann_path,
      f'annotation has no image {item.image_name} in '
      f'{item.dataset}/{IMAGE_DIR}',
    )
  if item.ann_path is None:
    raise problems.BadExample(
      problems.MISSING_MASK,
      item.image_path,
      f'image has no annotation {ANN_DIR}/{item.image_name}.json (nor '
      f'{ANN_DIR}/<stem>.json)',
    )
  guard.check_name(item.image_path)
  image_bytes = root.read(item.image_path, problems.MISSING_IMAGE)
  info = example_lib.inspect_image(image_bytes, item.image_path, max_pixels)
  ann, height, width = parse_annotation(
    root.read(item.ann_path, problems.MISSING_MASK), item.ann_path
  )
  if (height, width) != (info.height, info.width):
    raise problems.BadExample(
      problems.SIZE_MISMATCH,
      item.ann_path,
      f'annotation size {height}x{width} (HxW) differs from image '
      f'{item.image_path} size {info.height}x{info.width}',
    )
  mask, notes = render_annotation(
    ann, height, width, item.ann_path, shapes, class_ids
  )
  return example_lib.segmentation_example(
    item.filename, item.dataset, image_bytes, info, mask
  ), notes
