"""Image and mask folders -> examples.

Layout: `<root>/{train,val}/{images,masks}/`, an image and its mask paired
by file stem (`a photo.jpg` with `a photo.png`); the same stem may appear in
both splits. Labels come from `<root>/labels.txt` (one name per line, or
CVAT's labelmap.txt lines with colours) unless --labels is given.

Masks are PNGs of the image's size:
* single-channel index masks (L, or P whose *indices* are read, never the
  palette's colours): each value a class id of the label set, 255 ignore;
* RGB colour masks: each colour one of the label file's, read as that
  label's id (a colour no label has is `unknown_color`).

image/filename is `<split>/<image file>`, image/source `masks`.
`read_mask` is also the colour-mask decoder of the CVAT reader.
"""

import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from data import example as example_lib
from data import features
from data import files
from data import guard
from data import images
from data import labels
from data import problems
from data.readers import source

SPLIT_DIRS = {features.TRAIN_SPLIT: 'train', features.EVAL_SPLIT: 'val'}
IMAGE_DIR = 'images'
MASK_DIR = 'masks'
SOURCE = 'masks'
_MAX_COLORS_SHOWN = 5


def layout(config) -> source.Layout:
  """The train and val folders, each with images/ and masks/."""
  root = config.data_root
  for folder in SPLIT_DIRS.values():
    for sub in (IMAGE_DIR, MASK_DIR):
      if not files.is_dir(files.join(root, folder, sub)):
        raise FileNotFoundError(
          f'{root}: a mask-folder dataset holds '
          f'{{{",".join(SPLIT_DIRS.values())}}}/{{{IMAGE_DIR},{MASK_DIR}}}/; '
          f'{folder}/{sub}/ is missing'
        )
  return source.Layout(
    root,
    tuple((split, folder) for split, folder in SPLIT_DIRS.items()),
    tuple(
      f'{f}/{s}/*' for f in SPLIT_DIRS.values() for s in (IMAGE_DIR, MASK_DIR)
    ),
  )


def default_labels(data_root: str):
  """(names, colours) of <root>/labels.txt."""
  path = files.join(data_root, labels.LABELS_FILE)
  if not files.exists(path):
    raise FileNotFoundError(
      f'{path}: missing; mask values are class ids, so name the classes '
      'there (one per line, id = line number, or labelmap.txt lines with '
      f'colours) or give --labels {"|".join(labels.NAMED)}|FILE'
    )
  return labels.read_label_file(path)


def pair_by_stem(
  folder: str, image_names: Sequence[str], mask_names: Sequence[str]
):
  """[(stem, image name or None, mask name or None, problem or None)]."""
  by_stem: Dict[str, Tuple[list, list]] = {}
  for kind, names in enumerate((image_names, mask_names)):
    for name in names:
      if not name.startswith('.'):
        by_stem.setdefault(os.path.splitext(name)[0], ([], []))[kind].append(
          name
        )
  pairs = []
  for stem, (found_images, found_masks) in sorted(by_stem.items()):
    problem = None
    if len(found_images) > 1 or len(found_masks) > 1:
      problem = (
        problems.AMBIGUOUS_NAME,
        files.join(folder, stem),
        f'stem {stem!r} names images {found_images} and masks '
        f'{found_masks}; pairs are made by stem, so each must be unique',
      )
    pairs.append(
      (
        stem,
        found_images[0] if found_images else None,
        found_masks[0] if found_masks else None,
        problem,
      )
    )
  return pairs


class MaskFolderSource(source.Source):
  """Reads one split folder; a key is (split folder, image, mask, problem)."""

  def __init__(self, root: str, config):
    self._root = root
    self._guard = guard.DataRoot(root)
    self._labels = config.labels
    self._colors = config.colors
    self._max_pixels = config.max_image_pixels

  def list_keys(self, split_pattern: str):
    folder = files.join(self._root, split_pattern)
    pairs = pair_by_stem(
      folder,
      files.list_dir(files.join(folder, IMAGE_DIR)),
      files.list_dir(files.join(folder, MASK_DIR)),
    )
    return [
      (split_pattern, image, mask, bad) for _, image, mask, bad in pairs
    ], {}

  def read(self, key):
    split, image_name, mask_name, problem = key
    if problem:
      raise problems.BadExample(*problem)
    folder = files.join(self._root, split)
    if image_name is None:
      raise problems.BadExample(
        problems.MISSING_IMAGE,
        files.join(folder, MASK_DIR, mask_name),
        f'the mask has no image of its stem in {split}/{IMAGE_DIR}/',
      )
    image_path = files.join(folder, IMAGE_DIR, image_name)
    if mask_name is None:
      raise problems.BadExample(
        problems.MISSING_MASK,
        image_path,
        f'the image has no mask of its stem in {split}/{MASK_DIR}/',
      )
    guard.check_name(image_path)
    image_bytes = self._guard.read(image_path, problems.MISSING_IMAGE)
    info = example_lib.inspect_image(image_bytes, image_path, self._max_pixels)
    mask_path = files.join(folder, MASK_DIR, mask_name)
    mask, png = read_mask(
      self._guard.read(mask_path, problems.MISSING_MASK),
      mask_path,
      info,
      image_path,
      self._labels,
      self._max_pixels,
      self._colors,
    )
    return example_lib.segmentation_example(
      f'{split}/{image_name}', SOURCE, image_bytes, info, mask, png
    ), {}


def read_mask(
  data: bytes,
  path: str,
  info: example_lib.ImageInfo,
  image_path: str,
  class_names: Sequence[str],
  max_pixels: int,
  colors: Sequence[labels.Color] = (),
  color_ids: Optional[Sequence[int]] = None,
) -> Tuple[np.ndarray, Optional[bytes]]:
  """(class ids, PNG to store or None) of an index or colour mask.

  Args:
    data, path: the mask file's bytes and path.
    info, image_path: the image it belongs to (sizes must agree).
    class_names: the label set; index values are its ids or 255.
    max_pixels: the pixel limit.
    colors: the colour of each entry of color_ids; empty: colour masks are
      refused (rgb_mask).
    color_ids: the class id of each colour; None: its index in colors.
  """
  image = images.open_mask(data, path, max_pixels)
  if image.mode not in ('RGB', 'RGBA') or not colors:
    return example_lib.class_mask_png(
      data, path, info, image_path, class_names, max_pixels, image
    )
  rgb = np.asarray(image)  # RGB or RGBA: channels 0-2 are read, not alpha.
  if rgb.shape[:2] != (info.height, info.width):
    raise problems.BadExample(
      problems.SIZE_MISMATCH,
      path,
      f'mask is {rgb.shape[0]}x{rgb.shape[1]} (HxW) but image {image_path} '
      f'is {info.height}x{info.width}',
    )
  packed = (
    rgb[..., 0].astype(np.int32) << 16
    | rgb[..., 1].astype(np.int32) << 8
    | rgb[..., 2]
  )
  table = np.array([r << 16 | g << 8 | b for r, g, b in colors], np.int32)
  ids = np.array(
    range(len(colors)) if color_ids is None else color_ids, np.uint8
  )
  order = np.argsort(table)
  where = np.searchsorted(table[order], packed)
  where = np.minimum(where, len(table) - 1)
  known = table[order][where] == packed
  if not known.all():
    unknown = np.unique(packed[~known])
    shown = [
      (int(c) >> 16, int(c) >> 8 & 255, int(c) & 255)
      for c in unknown[:_MAX_COLORS_SHOWN]
    ]
    raise problems.BadExample(
      problems.UNKNOWN_COLOR,
      path,
      f'colours {shown}{" ..." if unknown.size > _MAX_COLORS_SHOWN else ""} '
      f'({np.count_nonzero(~known)} pixels) are not in the label colours '
      f'{[tuple(c) for c in colors]}',
    )
  return ids[order][where], None
