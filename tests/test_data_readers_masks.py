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
      if kind == 'RGB':
        ids[ids == 255] = 0  # Colour masks have no void colour.
        _save(mask_path, np.array(COLORS, np.uint8)[ids])
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


@pytest.mark.parametrize('kind', ['L', 'P', 'RGB'])
def test_index_and_colour_masks_read_as_class_ids(tmp_path, kind):
  root = str(tmp_path)
  expected = write_folders(
    root, ['a photo', 'b'], kind=kind, labelmap=kind == 'RGB'
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


def test_unpaired_and_ambiguous_stems_are_bad_examples(tmp_path):
  root = str(tmp_path)
  write_folders(root, ['a', 'b', 'c'])
  os.remove(os.path.join(root, 'train', 'masks', 'a.png'))
  os.remove(os.path.join(root, 'train', 'images', 'b.jpg'))
  _save(
    os.path.join(root, 'val', 'images', 'c.png'),
    np.zeros((4, 4, 3), np.uint8),
  )
  bad = sorted(
    (r.problem, os.path.relpath(r.path, root))
    for r in _read(root)
    if isinstance(r, problems.BadExample)
  )
  assert bad == [
    (problems.AMBIGUOUS_NAME, 'val/c'),
    (problems.MISSING_IMAGE, 'train/masks/b.png'),
    (problems.MISSING_MASK, 'train/images/a.jpg'),
  ]


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
