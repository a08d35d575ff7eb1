"""data.readers.masks: image + mask folders, index and colour masks."""

import io
import os

import numpy as np
from PIL import Image
import pytest

from data import config as data_config
from data import convert
from data import labels
from data import problems
from data.readers import masks
from tests.fixtures import layouts

_IN_MEMORY = ['--direct_running_mode=in_memory']
COLORS = ((0, 0, 0), (255, 0, 0), (0, 128, 255))
NAMES = ('background', 'cat', 'dog')


def _save(path, array, mode=None):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
  if mode == 'P':
    image.putpalette([255, 255, 0] * 256)  # Colours that say nothing.
  image.save(path)


def write_folders(root, stems, kind='L', seed=0, labelmap=False):
  """<root>/{train,val}/{images,masks}: per split, stem -> expected ids."""
  rng = np.random.default_rng(seed)
  expected = {}
  for split in ('train', 'val'):
    for stem in stems:
      height, width = int(rng.integers(8, 20)), int(rng.integers(8, 20))
      ids = rng.integers(0, len(NAMES), (height, width)).astype(np.uint8)
      ids[0, :3] = 255
      image = rng.integers(0, 255, (height, width, 3), np.uint8)
      _save(os.path.join(root, split, 'images', stem + '.jpg'), image)
      mask_path = os.path.join(root, split, 'masks', stem + '.png')
      if kind.startswith('RGB'):
        ids[ids == 255] = 0  # Colour masks have no void colour.
        rgb = np.array(COLORS, np.uint8)[ids]
        if kind == 'RGBA':  # Alpha says nothing of the class.
          alpha = rng.integers(0, 256, (height, width, 1), np.uint8)
          rgb = np.concatenate([rgb, alpha], 2)
        _save(mask_path, rgb)
      else:
        _save(mask_path, ids, kind)
      expected[f'{split}/{stem}.jpg'] = ids
  with open(os.path.join(root, labels.LABELS_FILE), 'w') as f:
    if labelmap:
      f.write('# label:color_rgb:parts:actions\n')
      for name, (r, g, b) in zip(NAMES, COLORS, strict=True):
        f.write(f'{name}:{r},{g},{b}::\n')
    else:
      f.write('\n'.join(NAMES) + '\n')
  return expected


def _read(root, **fields):
  config = data_config.build('masks', root, **fields)
  layout = masks.layout(config)
  source = masks.MaskFolderSource(layout.input_base, config)
  out = []
  for _, pattern in layout.input_splits:
    keys, _ = source.list_keys(pattern)
    out += [next(source.read_all(k)) for k in keys]
  return out


def _ids(example):
  return np.asarray(Image.open(io.BytesIO(example.mask_png)))


@pytest.mark.parametrize('kind', ['L', 'P', 'RGB', 'RGBA'])
def test_index_and_colour_masks_read_as_class_ids(tmp_path, kind):
  root = str(tmp_path)
  expected = write_folders(
    root, ['a photo', 'b'], kind=kind, labelmap=kind.startswith('RGB')
  )
  read = _read(root)
  assert len(read) == 4  # The same stems in both splits.
  for example, _ in read:
    np.testing.assert_array_equal(_ids(example), expected[example.filename])
    assert example.source == 'masks'


def test_a_colour_mask_without_colours_or_with_an_unknown_colour(tmp_path):
  root = str(tmp_path)
  write_folders(root, ['a'], kind='RGB', labelmap=False)
  (bad, _), *_ = [(r, 0) for r in _read(root)]
  assert bad.problem == problems.RGB_MASK
  write_folders(root, ['a'], kind='RGB', labelmap=True)
  path = os.path.join(root, 'train', 'masks', 'a.png')
  rgb = np.asarray(Image.open(path)).copy()
  rgb[2, 2] = (1, 2, 3)
  Image.fromarray(rgb).save(path)
  bad = [r for r in _read(root) if isinstance(r, problems.BadExample)]
  assert [b.problem for b in bad] == [problems.UNKNOWN_COLOR]
  assert bad[0].path == path and '(1, 2, 3)' in bad[0].detail


@pytest.mark.parametrize('count', [5, 7])
def test_unknown_colours_are_named_with_their_pixel_count(tmp_path, count):
  root = str(tmp_path)
  write_folders(root, ['a'], kind='RGB', labelmap=True)
  path = os.path.join(root, 'train', 'masks', 'a.png')
  rgb = np.asarray(Image.open(path)).copy()
  # Colours not in the labels (seven: one past the largest label colour);
  # the first five (by value) are shown.
  unknown = [(1, 2, 3), (9, 9, 9), (10, 0, 0), (10, 0, 1), (10, 0, 2)]
  unknown = (unknown + [(200, 0, 0), (255, 255, 255)])[:count]
  for column, colour in enumerate(unknown):
    rgb[1, column] = colour
  rgb[2, 0] = unknown[-1]
  Image.fromarray(rgb).save(path)
  (bad,) = [r for r in _read(root) if isinstance(r, problems.BadExample)]
  assert (bad.problem, bad.path) == (problems.UNKNOWN_COLOR, path)
  more = ' ...' if count > 5 else ''
  assert bad.detail == (
    f'colours {unknown[:5]}{more} ({count + 1} pixels) are not in the label '
    f'colours {list(COLORS)}'
  )


def test_unpaired_and_ambiguous_stems_are_bad_examples(tmp_path):
  root = str(tmp_path)
  write_folders(root, ['a', 'b', 'c'])
  os.remove(os.path.join(root, 'train', 'masks', 'a.png'))
  os.remove(os.path.join(root, 'train', 'images', 'b.jpg'))
  _save(
    os.path.join(root, 'val', 'images', 'c.png'),
    np.zeros((4, 4, 3), np.uint8),
  )
  _save(os.path.join(root, 'val', 'masks', 'b.gif'), np.zeros((4, 4), np.uint8))
  # Hidden files (.DS_Store, ._a.png) are no one's image or mask.
  _save(
    os.path.join(root, 'val', 'masks', '.c.png'), np.zeros((4, 4), np.uint8)
  )
  bad = sorted(
    (r.problem, os.path.relpath(r.path, root), r.detail)
    for r in _read(root)
    if isinstance(r, problems.BadExample)
  )
  assert [b[:2] for b in bad] == [
    (problems.AMBIGUOUS_NAME, 'val/b'),
    (problems.AMBIGUOUS_NAME, 'val/c'),
    (problems.MISSING_IMAGE, 'train/masks/b.png'),
    (problems.MISSING_MASK, 'train/images/a.jpg'),
  ]
  assert bad[2][2] == 'the mask has no image of its stem in train/images/'
  assert bad[3][2] == 'the image has no mask of its stem in train/masks/'


def test_every_file_of_the_dataset_is_in_the_fingerprint(tmp_path):
  # ExampleGen runs again when one of them changes (components.example_gen).
  root = str(tmp_path)
  write_folders(root, ['a', 'b'])
  config = data_config.build('masks', root)
  assert layouts.unfingerprinted_files(masks.layout(config)) == {
    labels.LABELS_FILE  # Read into the config, whose change reruns it.
  }


def test_a_missing_folder_or_label_file_is_named(tmp_path):
  root = str(tmp_path)
  write_folders(root, ['a'])
  config = data_config.build('masks', root)
  os.rename(os.path.join(root, 'val', 'masks'), os.path.join(root, 'x'))
  with pytest.raises(FileNotFoundError) as error:
    masks.layout(config)
  assert str(error.value) == (
    f'{root}: a mask-folder dataset holds {{train,val}}/{{images,masks}}/; '
    'val/masks/ is missing'
  )
  os.remove(os.path.join(root, labels.LABELS_FILE))
  with pytest.raises(FileNotFoundError) as error:
    masks.default_labels(root)
  assert str(error.value) == (
    f'{os.path.join(root, labels.LABELS_FILE)}: missing; mask values are '
    'class ids, so name the classes there (one per line, id = line number, '
    'or labelmap.txt lines with colours) or give --labels people|voc|FILE'
  )


@pytest.mark.parametrize('kind', ['L', 'RGB'])
def test_a_mask_of_another_size_or_a_broken_file_is_named(tmp_path, kind):
  root = str(tmp_path)
  write_folders(root, ['a'], kind=kind, labelmap=kind == 'RGB')
  path = os.path.join(root, 'train', 'masks', 'a.png')
  image_path = os.path.join(root, 'train', 'images', 'a.jpg')
  Image.new(kind, (5, 2)).save(path)
  (bad,) = [r for r in _read(root) if isinstance(r, problems.BadExample)]
  assert (bad.problem, bad.path) == (problems.SIZE_MISMATCH, path)
  height, width = np.asarray(Image.open(image_path)).shape[:2]
  assert bad.detail == (
    f'mask is 2x5 (HxW) but image {image_path} is {height}x{width}'
  )
  with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n broken')
  (bad,) = [r for r in _read(root) if isinstance(r, problems.BadExample)]
  assert bad.path == path and bad.detail.startswith('cannot decode mask')
  with open(image_path, 'wb') as f:
    f.write(b'\xff\xd8 not a JPEG')
  (bad,) = [r for r in _read(root) if isinstance(r, problems.BadExample)]
  assert (bad.problem, bad.path) == (problems.CORRUPT_IMAGE, image_path)


def test_labels_flag_replaces_labels_txt(tmp_path):
  root = str(tmp_path)
  write_folders(root, ['a'])
  os.remove(os.path.join(root, labels.LABELS_FILE))
  with pytest.raises(FileNotFoundError, match='labels.txt: missing'):
    data_config.build('masks', root)
  # Values 2 are outside the people label set: a bad example, not a guess.
  bad = [
    r
    for r in _read(root, labels='people')
    if isinstance(r, problems.BadExample)
  ]
  assert {b.problem for b in bad} == {problems.MASK_VALUES}


def test_convert_masks(tmp_path):
  root = str(tmp_path / 'd')
  write_folders(root, ['a', 'b'])
  report = convert.convert(
    data_config.build('masks', root), str(tmp_path / 'o'), beam_args=_IN_MEMORY
  )
  assert report['output_splits'] == {'train': 2, 'eval': 2}
  assert labels.read_labels(str(tmp_path / 'o' / labels.LABELS_FILE)) == NAMES
