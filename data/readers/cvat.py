"""CVAT "Segmentation mask 1.1" exports -> examples.

Layout at the export's root: `JPEGImages/` (images, any extension),
`SegmentationClass/<id>.png` (RGB colour masks), `ImageSets/Segmentation/
<list>.txt` (one id per line: a file stem, which may hold spaces) and
`labelmap.txt` (`name:r,g,b:parts:actions` lines, CVAT's `# label:...`
comment first).

Each mask colour maps to a labelmap name, and the name to a class id of the
label set (--class_map renames; names the set lacks are background); a
colour not in labelmap.txt is `unknown_color`, naming the file and colour.
Without --labels the label set is labelmap.txt's names (background first).

Splits: lists named `train` and `val` are the splits; every other list
(CVAT writes `default.txt`) is split by --eval_fraction with the hash rule
of the other formats. image/filename is the image's file name,
image/source the list's name.
"""

import os
from typing import Dict, List

from data import example as example_lib
from data import features
from data import files
from data import guard
from data import labels
from data import problems
from data.readers import masks
from data.readers import source

IMAGE_DIR = 'JPEGImages'
MASK_DIR = 'SegmentationClass'
LIST_DIR = 'ImageSets/Segmentation'
LABELMAP = 'labelmap.txt'
TRAIN_LIST = 'train'
VAL_LIST = 'val'
BACKGROUND = 'background'


def _lists(root: str) -> List[str]:
  """The split lists' names (stems), sorted."""
  return [
    os.path.splitext(os.path.basename(p))[0]
    for p in files.glob(files.join(root, LIST_DIR, '*.txt'))
  ]


def layout(config) -> source.Layout:
  """train/val lists as the splits, or all lists hashed (see above)."""
  root = config.data_root
  for relative in (IMAGE_DIR, MASK_DIR, LIST_DIR):
    if not files.is_dir(files.join(root, relative)):
      raise FileNotFoundError(
        f'{root}: not a CVAT "Segmentation mask 1.1" export: {relative}/ is '
        'missing'
      )
  if not files.exists(files.join(root, LABELMAP)):
    raise FileNotFoundError(
      f'{files.join(root, LABELMAP)}: missing; the export names its mask '
      'colours there'
    )
  names = _lists(root)
  if not names:
    raise FileNotFoundError(f'{root}: no split lists in {LIST_DIR}/*.txt')
  fixed = [n for n in (TRAIN_LIST, VAL_LIST) if n in names]
  patterns = (IMAGE_DIR + '/*', MASK_DIR + '/*', LIST_DIR + '/*', LABELMAP)
  if not fixed:
    return source.Layout(root, ((source.ALL, LIST_DIR + '/*.txt'),), patterns)
  if len(fixed) == 1:
    raise ValueError(
      f'{root}: {LIST_DIR} has {fixed[0]}.txt but not '
      f'{({TRAIN_LIST, VAL_LIST} - set(fixed)).pop()}.txt: give both, or '
      'neither (then every list is split by --eval_fraction)'
    )
  return source.Layout(
    root,
    (
      (features.TRAIN_SPLIT, f'{LIST_DIR}/{TRAIN_LIST}.txt'),
      (features.EVAL_SPLIT, f'{LIST_DIR}/{VAL_LIST}.txt'),
    ),
    patterns,
  )


def default_labels(data_root: str):
  """labelmap.txt's names, background first, without colours (the colours
  belong to the export's masks, not to the label set)."""
  names, _ = labels.read_label_file(files.join(data_root, LABELMAP))
  if BACKGROUND not in names:
    names = (BACKGROUND,) + names
  elif names[0] != BACKGROUND:
    names = (BACKGROUND,) + tuple(n for n in names if n != BACKGROUND)
  return names, ()


def read_list(path: str) -> List[str]:
  """The ids of a split list: one per line, spaces kept, blanks skipped."""
  try:
    text = files.read_bytes(path).decode('utf-8-sig')
  except UnicodeDecodeError as e:
    raise ValueError(f'{path}: not UTF-8 text ({e})') from e
  return list(
    dict.fromkeys(line.strip() for line in text.splitlines() if line.strip())
  )


class CvatSource(source.Source):
  """Reads a CVAT export; a key is (list name, id, its image file names)."""

  def __init__(self, root: str, config):
    self._root = root
    self._guard = guard.DataRoot(root)
    self._max_pixels = config.max_image_pixels
    self._labels = config.labels
    self._eval_fraction = config.eval_fraction
    names, colors = labels.read_label_file(files.join(root, LABELMAP))
    if not colors:
      raise ValueError(
        f'{files.join(root, LABELMAP)}: no colours; CVAT writes '
        '`name:r,g,b::` lines'
      )
    self._colors = colors
    self._color_ids = list(config.class_ids(names).values())

  def list_keys(self, split_pattern: str):
    base = os.path.basename(split_pattern)
    if base == '*.txt':
      lists = _lists(self._root)
    else:
      # The split's own list, and the share of every other list the hash
      # rule gives the split.
      own = os.path.splitext(base)[0]
      want_eval = own == VAL_LIST
      lists = [own]
      for other in _lists(self._root):
        if other in (TRAIN_LIST, VAL_LIST):
          continue
        lists.append((other, want_eval))
    by_stem: Dict[str, List[str]] = {}
    for name in files.list_dir(files.join(self._root, IMAGE_DIR)):
      by_stem.setdefault(os.path.splitext(name)[0], []).append(name)
    keys = []
    for entry in lists:
      name, want = entry if isinstance(entry, tuple) else (entry, None)
      ids = read_list(files.join(self._root, LIST_DIR, name + '.txt'))
      if want is not None:
        ids = [i for i in ids if source.is_eval(i, self._eval_fraction) == want]
      keys += [(name, i, tuple(by_stem.get(i, ()))) for i in ids]
    return keys, {}

  def read(self, key):
    list_name, item_id, image_names = key
    image_path = self._image_path(item_id, image_names)
    guard.check_name(image_path)
    image_bytes = self._guard.read(image_path, problems.MISSING_IMAGE)
    info = example_lib.inspect_image(image_bytes, image_path, self._max_pixels)
    mask_path = files.join(self._root, MASK_DIR, item_id + '.png')
    mask, png = masks.read_mask(
      self._guard.read(mask_path, problems.MISSING_MASK),
      mask_path,
      info,
      image_path,
      self._labels,
      self._max_pixels,
      self._colors,
      self._color_ids,
    )
    return example_lib.segmentation_example(
      item_id, list_name, image_bytes, info, mask, png
    ), {}

  def _image_path(self, item_id: str, found) -> str:
    """JPEGImages/<id>.<any extension>; BadExample if none or several."""
    folder = files.join(self._root, IMAGE_DIR)
    if len(found) > 1:
      raise problems.BadExample(
        problems.AMBIGUOUS_NAME,
        files.join(folder, item_id),
        f'id {item_id!r} matches images {found}',
      )
    if not found:
      raise problems.BadExample(
        problems.MISSING_IMAGE,
        files.join(folder, item_id + '.jpg'),
        f'no image of id {item_id!r} in {IMAGE_DIR}/',
      )
    return files.join(folder, found[0])
