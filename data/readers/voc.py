"""PASCAL VOC 2012 segmentation (and the SBD augmented set) -> examples.

Layout (devkit): `VOC2012/JPEGImages/<id>.jpg`, `VOC2012/SegmentationClass/
<id>.png` (palette PNGs whose pixel *indices* are class ids 0..20 and 255 for
the void border), `VOC2012/ImageSets/Segmentation/{train,val}.txt`.

SBD augmented set (Hariharan et al. 2011, as used by DeepLab): masks in
`VOC2012/SegmentationClassAug/<id>.png` ('L' or 'P'), train ids in
`train_aug.txt` (in ImageSets/Segmentation/ or VOC2012/), one bare id per line
or the two-column form `/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png`.
train_aug.txt overlaps VOC val in common releases, so val ids are removed
from train and counted (`excluded_val_ids` in the report); eval stays VOC
val with its original SegmentationClass masks.
"""

import dataclasses
from typing import List

import numpy as np

from data import example as example_lib
from data import features
from data import files
from data import guard
from data import labels
from data import problems
from data.readers import source

SPLITS_DIR = 'ImageSets/Segmentation'
TRAIN_LIST = SPLITS_DIR + '/train.txt'
VAL_LIST = SPLITS_DIR + '/val.txt'
AUG_LIST_CANDIDATES = (SPLITS_DIR + '/train_aug.txt', 'train_aug.txt')
IMAGE_DIR = 'JPEGImages'
MASK_DIR = 'SegmentationClass'
AUG_MASK_DIR = 'SegmentationClassAug'
EXCLUDED_VAL_IDS = 'excluded_val_ids'
# image/source of an example: VOC's own masks, or SBD's.
SOURCE_VOC = 'voc'
SOURCE_SBD = 'sbd'


@dataclasses.dataclass(frozen=True)
class VocOptions:
  """VOC's own settings (flags `--voc_<field>`)."""

  aug: bool = dataclasses.field(
    default=False,
    metadata={'help': 'voc: train on the SBD augmented set (train_aug).'},
  )


def find_root(data_root: str) -> str:
  """The VOC2012 folder, given it, VOCdevkit, or the folder above."""
  for candidate in (
    files.join(data_root, 'VOCdevkit', 'VOC2012'),
    files.join(data_root, 'VOC2012'),
    data_root,
  ):
    if files.is_dir(files.join(candidate, SPLITS_DIR)):
      return candidate
  raise FileNotFoundError(
    f'{data_root}: no PASCAL VOC 2012 found: expected {SPLITS_DIR} under '
    'it, under VOC2012/ or under VOCdevkit/VOC2012/'
  )


def find_aug_list(root: str) -> str:
  """Path of train_aug.txt relative to the VOC2012 folder."""
  for relative in AUG_LIST_CANDIDATES:
    if files.exists(files.join(root, relative)):
      return relative
  raise FileNotFoundError(
    f'{root}: --voc_aug needs train_aug.txt in one of '
    f'{AUG_LIST_CANDIDATES} (see docs/data.md)'
  )


def layout(config) -> source.Layout:
  """Train (train.txt or SBD's train_aug.txt) and eval (val.txt) id lists."""
  root = find_root(config.data_root)
  aug = config.options.aug
  train_list = find_aug_list(root) if aug else TRAIN_LIST
  patterns = [IMAGE_DIR + '/*', MASK_DIR + '/*', SPLITS_DIR + '/*']
  if aug:
    if not files.is_dir(files.join(root, AUG_MASK_DIR)):
      raise FileNotFoundError(
        f'{root}: --voc_aug needs the SBD masks in '
        f'{AUG_MASK_DIR}/ (see docs/data.md)'
      )
    patterns += [AUG_MASK_DIR + '/*', train_list]
  for relative in (train_list, VAL_LIST):
    read_id_list(root, relative)  # Unusable lists fail here, before a run.
  return source.Layout(
    root,
    ((features.TRAIN_SPLIT, train_list), (features.EVAL_SPLIT, VAL_LIST)),
    tuple(dict.fromkeys(patterns)),
  )


def parse_id_list(text: str, path: str) -> List[str]:
  """Ids of a split list: bare ids, or `/JPEGImages/x.jpg /Seg.../x.png`."""
  ids = []
  for number, line in enumerate(text.splitlines(), 1):
    fields = line.split()
    if not fields:
      continue
    if len(fields) > 2:
      raise ValueError(
        f'{path}:{number}: {line!r}: expected an id or '
        '"<image path> <mask path>"'
      )
    # The file name without its extension (an id has none).
    ids.append(fields[0].rsplit('/', 1)[-1].rsplit('.', 1)[0])
  return ids


def read_id_list(root: str, relative: str) -> List[str]:
  """The ids of a split list file; ValueError naming it if unusable.

  UTF-8 with or without a byte-order mark (editors on Windows add one); a
  list that names no id is an error, not an empty split.
  """
  path = files.join(root, relative)
  try:
    text = files.read_bytes(path).decode('utf-8-sig')
  except UnicodeDecodeError as e:
    raise ValueError(
      f'{path}: not UTF-8 text ({e}); a split list holds one id per line'
    ) from e
  ids = parse_id_list(text, path)
  if not ids:
    raise ValueError(f'{path}: lists no ids; the split would be empty')
  return ids


class VocSource(source.Source):
  """Reads VOC ids of one split list; keys are (id, mask folder).

  Mask values are checked against the config's labels; with a label set
  other than VOC's 21 classes, VOC's ids are renamed into it (class_map,
  then background for the classes it does not hold).
  """

  def __init__(self, root: str, config):
    self._root = root
    self._guard = guard.DataRoot(root)
    self._aug = config.options.aug
    self._max_pixels = config.max_image_pixels
    ids = config.class_ids(labels.VOC_CLASSES)
    self._lookup = None
    if tuple(ids.values()) != tuple(range(len(labels.VOC_CLASSES))):
      self._lookup = np.arange(256, dtype=np.uint8)
      self._lookup[: len(ids)] = list(ids.values())

  def list_keys(self, split_pattern: str):
    listed = read_id_list(self._root, split_pattern)
    ids = list(dict.fromkeys(listed))  # Each id once, in list order.
    notes = {}
    if len(listed) > len(ids):
      notes[problems.DUPLICATE_ID] = len(listed) - len(ids)
    if split_pattern == VAL_LIST:
      return [(i, MASK_DIR) for i in ids], notes
    val = set(read_id_list(self._root, VAL_LIST))
    kept = [i for i in ids if i not in val]
    mask_dir = AUG_MASK_DIR if self._aug else MASK_DIR
    notes[EXCLUDED_VAL_IDS] = len(ids) - len(kept)
    return [(i, mask_dir) for i in kept], notes

  def read(self, key):
    voc_id, mask_dir = key
    image_path = files.join(self._root, IMAGE_DIR, voc_id + '.jpg')
    mask_path = files.join(self._root, mask_dir, voc_id + '.png')
    image_bytes = self._guard.read(image_path, problems.MISSING_IMAGE)
    info = example_lib.inspect_image(image_bytes, image_path, self._max_pixels)
    mask, mask_png = example_lib.class_mask_png(
      self._guard.read(mask_path, problems.MISSING_MASK),
      mask_path,
      info,
      image_path,
      labels.VOC_CLASSES,
      self._max_pixels,
    )
    if self._lookup is not None:
      mask, mask_png = self._lookup[mask], None
    return example_lib.segmentation_example(
      voc_id,
      SOURCE_SBD if mask_dir == AUG_MASK_DIR else SOURCE_VOC,
      image_bytes,
      info,
      mask,
      mask_png,
    ), {}
