"""COCO instances JSON -> semantic examples.

Layout (COCO 2017): `annotations/instances_<split>*.json`, the images of a
file in the folder named like its suffix (`instances_train2017.json` ->
`train2017/`). `instances_train*` is the train split, `instances_val*` the
eval split. image/filename is `<image folder>/<file_name>`, image/source
the folder (`train2017`).

The semantic mask of an image (the rule docs/data.md documents):

* each non-crowd instance of a selected category paints its class;
* a pixel painted by two different classes is ignore (255);
* a pixel inside a selected crowd region that no non-crowd instance
  paints is ignore;
* every other pixel is background (0).

Selected categories are those the label set holds, after --class_map and,
for the VOC label set, the standard COCO-to-VOC names (COCO_TO_VOC). Every
image of the file is an example; one without a selected instance is all
background. Instances are drawn exactly as the COCO API draws them
(data/readers/rle.py).

A file is parsed once, on the worker that lists it; each key then carries
its image's entry and annotations, so workers never parse it again.
Problems of the file itself (truncated, not an object) make one bad
example naming it; problems of an image or an annotation make that image a
bad example naming the annotation id.
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from data import annotation_json
from data import example as example_lib
from data import features
from data import files
from data import guard
from data import labels
from data import problems
from data.readers import rle
from data.readers import source

ANNOTATIONS_DIR = 'annotations'
FILE_PREFIX = 'instances_'
# Output split -> the prefix of its file's suffix.
SPLIT_PREFIXES = {features.TRAIN_SPLIT: 'train', features.EVAL_SPLIT: 'val'}
# The standard correspondence of COCO's categories to VOC's 20 classes: six
# renamed; bicycle, bird, boat, bottle, bus, car, cat, chair, cow, dog,
# horse, person, sheep and train share their names.
COCO_TO_VOC = {
  'airplane': 'aeroplane',
  'motorcycle': 'motorbike',
  'couch': 'sofa',
  'dining table': 'diningtable',
  'potted plant': 'pottedplant',
  'tv': 'tvmonitor',
}
# Coordinates further out than this are garbage, not annotation noise.
_MAX_COORDINATE = float(1 << 20)
# Numbers of one polygon part: 100,000 vertices (COCO's largest have a few
# hundred); rle.MAX_BOUNDARY_POINTS bounds the cost of drawing it.
MAX_POLYGON_NUMBERS = 200_000
_MAX_SIDE = 1 << 16
_MAX_ID = (1 << 63) - 1


def _split_files(data_root: str) -> Dict[str, str]:
  """Output split -> annotation file, relative to data_root."""
  found = {}
  for split, prefix in SPLIT_PREFIXES.items():
    pattern = files.join(data_root, ANNOTATIONS_DIR, FILE_PREFIX + prefix + '*')
    paths = [p for p in files.glob(pattern) if p.endswith('.json')]
    if len(paths) != 1:
      raise FileNotFoundError(
        f'{data_root}: expected one {ANNOTATIONS_DIR}/{FILE_PREFIX}{prefix}'
        f'*.json for the {split} split, found '
        f'{[os.path.basename(p) for p in paths]}'
      )
    found[split] = ANNOTATIONS_DIR + '/' + os.path.basename(paths[0])
  return found


def image_dir(annotation_file: str) -> str:
  """The image folder of an annotation file: instances_X.json -> X."""
  return os.path.basename(annotation_file)[len(FILE_PREFIX) : -len('.json')]


def layout(config) -> source.Layout:
  """The train and eval annotation files, with their image folders."""
  splits = _split_files(config.data_root)
  patterns = []
  for relative in splits.values():
    folder = image_dir(relative)
    if not files.is_dir(files.join(config.data_root, folder)):
      raise FileNotFoundError(
        f'{config.data_root}: {relative} needs its images in {folder}/'
      )
    patterns += [relative, folder + '/*']
  return source.Layout(config.data_root, tuple(splits.items()), tuple(patterns))


def default_labels(data_root: str):
  raise ValueError(
    f'{data_root}: --format coco needs --labels: people, voc (COCO-to-VOC '
    'names), or a label file naming the COCO categories to train on'
  )


@dataclasses.dataclass(frozen=True)
class Item:
  """One image of an annotation file, with what the file says of it."""

  annotation_file: str
  image: Any  # The file's `images` entry (checked when read).
  annotations: Tuple[Any, ...]
  categories: Tuple[Tuple[int, str], ...]  # (id, name) of the file.
  problem: Optional[Tuple[str, str, str]] = None  # A BadExample's fields.


class CocoSource(source.Source):
  """Reads COCO annotation files; a key is one image (an Item)."""

  def __init__(self, root: str, config):
    self._root = root
    self._guard = guard.DataRoot(root)
    self._max_pixels = config.max_image_pixels
    mapping = dict(COCO_TO_VOC) if config.labels == labels.VOC_CLASSES else {}
    mapping.update(config.class_map)
    self._labels = config.labels
    self._mapping = mapping

  def list_keys(self, split_pattern: str):
    path = files.join(self._root, split_pattern)
    try:
      data = annotation_json.parse(
        self._guard.read(path, problems.MISSING_MASK),
        path,
        non_finite_allowed=True,
      )
      annotation_json.expect(data, dict, path, 'the file')
      images = annotation_json.expect(data.get('images'), list, path, 'images')
      annotations = annotation_json.expect(
        data.get('annotations', []), list, path, 'annotations'
      )
      categories = _categories(data.get('categories'), path)
    except problems.BadExample as e:
      return [Item(split_pattern, None, (), (), _fields(e))], {}
    del data
    return _items(split_pattern, path, images, annotations, categories), {}

  def read(self, key: Item):
    if key.problem:
      raise problems.BadExample(*key.problem)
    path = files.join(self._root, key.annotation_file)
    image = key.image
    where = f'image id {image["id"]}'
    name = annotation_json.expect(
      image.get('file_name'), str, path, f'{where}: file_name'
    )
    height, width = (
      annotation_json.integer(image.get(k), path, f'{where}: {k}', 1, _MAX_SIDE)
      for k in ('height', 'width')
    )
    relative = image_dir(key.annotation_file) + '/' + name
    image_path = files.join(self._root, relative)
    _check_pixels(height, width, self._max_pixels, image_path, where)
    guard.check_name(image_path)
    image_bytes = self._guard.read(image_path, problems.MISSING_IMAGE)
    info = example_lib.inspect_image(image_bytes, image_path, self._max_pixels)
    if (info.height, info.width) != (height, width):
      raise problems.BadExample(
        problems.SIZE_MISMATCH,
        image_path,
        f'{path} says {where} is {height}x{width} (HxW); the image is '
        f'{info.height}x{info.width}',
      )
    class_ids = labels.class_ids(
      [n for _, n in key.categories], self._labels, self._mapping
    )
    by_id = {cid: class_ids[n] for cid, n in key.categories}
    mask = semantic_mask(
      key.annotations, by_id, height, width, path, self._max_pixels
    )
    return example_lib.segmentation_example(
      relative, image_dir(key.annotation_file), image_bytes, info, mask
    ), {}


def _fields(e: problems.BadExample) -> Tuple[str, str, str]:
  return (e.problem, e.path, e.detail)


def _categories(value: Any, path: str) -> Tuple[Tuple[int, str], ...]:
  categories = annotation_json.expect(value, list, path, 'categories')
  out = {}
  for index, entry in enumerate(categories):
    where = f'categories[{index}]'
    entry = annotation_json.expect(entry, dict, path, where)
    cid = annotation_json.integer(
      entry.get('id'), path, f'{where}.id', 0, _MAX_ID
    )
    name = annotation_json.expect(entry.get('name'), str, path, f'{where}.name')
    if cid in out:
      raise problems.BadExample(
        problems.BAD_ANNOTATION,
        path,
        f'{where}: category id {cid} is also {out[cid]!r}',
      )
    out[cid] = name
  return tuple(out.items())


def _items(
  relative: str,
  path: str,
  images: List[Any],
  annotations: List[Any],
  categories: Tuple[Tuple[int, str], ...],
) -> List[Item]:
  """One Item per image entry, and one bad Item per orphan annotation."""
  bad = []
  entries: Dict[int, List[Any]] = {}
  for index, image in enumerate(images):
    try:
      image = annotation_json.expect(image, dict, path, f'images[{index}]')
      image_id = annotation_json.integer(
        image.get('id'), path, f'images[{index}].id', 0, _MAX_ID
      )
    except problems.BadExample as e:
      bad.append(Item(relative, None, (), (), _fields(e)))
      continue
    entries.setdefault(image_id, []).append(image)
  attached: Dict[int, List[Any]] = {i: [] for i in entries}
  for index, ann in enumerate(annotations):
    where = f'annotations[{index}]'
    try:
      ann = annotation_json.expect(ann, dict, path, where)
      image_id = annotation_json.integer(
        ann.get('image_id'),
        path,
        f'{where} (id {ann.get("id")}).image_id',
        0,
        _MAX_ID,
      )
      if image_id not in attached:
        raise problems.BadExample(
          problems.MISSING_IMAGE,
          path,
          f'annotation id {ann.get("id")} is of image id {image_id}, which '
          'the file does not list in images',
        )
    except problems.BadExample as e:
      bad.append(Item(relative, None, (), (), _fields(e)))
      continue
    attached[image_id].append(ann)
  items = []
  for image_id, listed in entries.items():
    for image in listed:
      problem = None
      if len(listed) > 1:
        problem = (
          problems.BAD_ANNOTATION,
          path,
          f'image id {image_id} is listed {len(listed)} times (file_name '
          f'{image.get("file_name")!r}); its annotations would be ambiguous',
        )
      items.append(
        Item(relative, image, tuple(attached[image_id]), categories, problem)
      )
  return items + bad


def _check_pixels(
  height: int, width: int, max_pixels: int, path: str, where: str
) -> None:
  if height * width > max_pixels:
    raise problems.BadExample(
      problems.IMAGE_TOO_LARGE,
      path,
      f'{where} declares {width}x{height} = {width * height} pixels, over '
      f'the limit of {max_pixels} (--max_image_pixels); nothing was decoded',
    )


def semantic_mask(
  annotations,
  class_of: Dict[int, int],
  height: int,
  width: int,
  path: str,
  max_pixels: int,
) -> np.ndarray:
  """The (height, width) uint8 class-id mask of an image's annotations.

  Args:
    annotations: the image's annotation objects, as parsed.
    class_of: category id -> class id (0: not selected).
    height, width: the image's size.
    path: the annotation file, for errors.
    max_pixels: the limit on an RLE's declared size.
  Raises problems.BadExample naming the annotation id.
  """
  label = np.zeros((height, width), np.uint8)
  crowd = None
  for ann in annotations:
    where = f'annotation id {ann.get("id")}'
    cid = annotation_json.integer(
      ann.get('category_id'), path, f'{where}: category_id', 0, _MAX_ID
    )
    if cid not in class_of:
      raise problems.BadExample(
        problems.UNKNOWN_CLASS,
        path,
        f'{where}: category_id {cid} is not in categories {sorted(class_of)}',
      )
    iscrowd = ann.get('iscrowd', 0)
    if iscrowd not in (0, 1) or isinstance(iscrowd, (bool, float)):
      raise problems.BadExample(
        problems.WRONG_TYPE,
        path,
        f'{where}: iscrowd is {iscrowd!r}, expected 0 or 1',
      )
    class_id = class_of[cid]
    # Every annotation is checked; only a selected one is drawn.
    pixels = instance_mask(
      ann.get('segmentation'),
      height,
      width,
      path,
      where,
      max_pixels,
      draw=bool(class_id),
    )
    if not class_id:
      continue
    if iscrowd:
      crowd = pixels if crowd is None else crowd | pixels
      continue
    painted = label[pixels]
    label[pixels] = np.where(
      (painted == 0) | (painted == class_id), class_id, features.IGNORE_LABEL
    )
  if crowd is not None:
    label[crowd & (label == 0)] = features.IGNORE_LABEL
  return label


def instance_mask(
  segmentation: Any,
  height: int,
  width: int,
  path: str,
  where: str,
  max_pixels: int,
  draw: bool = True,
) -> Optional[np.ndarray]:
  """The bool mask of one annotation's segmentation (polygons or RLE).

  With draw=False the segmentation is checked as thoroughly (types,
  numbers, RLE runs) but no mask is made, and None is returned.
  """
  try:
    if isinstance(segmentation, list):
      mask = np.zeros((height, width), bool) if draw else None
      for index, part in enumerate(segmentation):
        at = f'{where}: segmentation[{index}]'
        part = annotation_json.flat_coordinates(
          part, path, at, _MAX_COORDINATE, MAX_POLYGON_NUMBERS
        )
        if len(part) < 6:
          raise problems.BadExample(
            problems.BAD_ANNOTATION,
            path,
            f'{at} has {len(part) // 2} point(s); a polygon needs 3',
          )
        if draw:
          mask |= rle.polygon_mask(part, height, width)
      return mask
    if isinstance(segmentation, dict):
      counts = _rle_counts(segmentation, height, width, path, where, max_pixels)
      rle.check_counts(counts, height, width)
      return rle.decode_counts(counts, height, width) if draw else None
  except rle.SegmentationError as e:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'{where}: segmentation: {e}'
    ) from e
  if segmentation is None:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'{where} has no segmentation'
    )
  raise problems.BadExample(
    problems.WRONG_TYPE,
    path,
    f'{where}: segmentation is {type(segmentation).__name__}, expected a '
    'list of polygons or an RLE object',
  )


def _rle_counts(
  segmentation: dict,
  height: int,
  width: int,
  path: str,
  where: str,
  max_pixels: int,
) -> np.ndarray:
  """The runs of an RLE object, after its size is checked."""
  size = annotation_json.expect(
    segmentation.get('size'), list, path, f'{where}: segmentation.size'
  )
  if len(size) != 2:
    raise problems.BadExample(
      problems.WRONG_TYPE,
      path,
      f'{where}: segmentation.size has {len(size)} values, expected [h, w]',
    )
  rle_height, rle_width = (
    annotation_json.integer(v, path, f'{where}: segmentation.size', 1, 1 << 31)
    for v in size
  )
  _check_pixels(rle_height, rle_width, max_pixels, path, f'{where}: the RLE')
  if (rle_height, rle_width) != (height, width):
    raise problems.BadExample(
      problems.SIZE_MISMATCH,
      path,
      f'{where}: the RLE is {rle_height}x{rle_width} (HxW), the image '
      f'{height}x{width}',
    )
  counts = segmentation.get('counts')
  if isinstance(counts, str):
    return rle.string_counts(counts)
  counts = annotation_json.expect(
    counts, list, path, f'{where}: segmentation.counts'
  )
  for index, count in enumerate(counts):
    annotation_json.integer(
      count, path, f'{where}: segmentation.counts[{index}]', 0, 1 << 31
    )
  return np.asarray(counts, np.int64)
