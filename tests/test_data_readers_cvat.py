"""data.readers.cvat: CVAT "Segmentation mask 1.1" exports."""

import io
import os

import numpy as np
from PIL import Image
import pytest

from data import config as data_config
from data import convert
from data import labels
from data import problems
from data.readers import cvat
from data.readers import source

_IN_MEMORY = ['--direct_running_mode=in_memory']
LABELMAP = (
  ('background', (0, 0, 0)),
  ('person', (250, 50, 83)),
  ('car', (51, 221, 255)),
)


def write_export(root, lists, seed=0, labelmap=LABELMAP):
  """A CVAT export; lists: name -> ids. Returns id -> labelmap indices."""
  rng = np.random.default_rng(seed)
  for sub in (cvat.IMAGE_DIR, cvat.MASK_DIR, cvat.LIST_DIR):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
  with open(os.path.join(root, cvat.LABELMAP), 'w') as f:
    f.write('# label:color_rgb:parts:actions\n')
    for name, (r, g, b) in labelmap:
      f.write(f'{name}:{r},{g},{b}::\n')
  colors = np.array([c for _, c in labelmap], np.uint8)
  expected = {}
  for name, ids in lists.items():
    with open(os.path.join(root, cvat.LIST_DIR, name + '.txt'), 'w') as f:
      f.write(''.join(i + '\n' for i in ids))
    for item in ids:
      height, width = int(rng.integers(8, 16)), int(rng.integers(8, 16))
      index = rng.integers(0, len(labelmap), (height, width))
      Image.fromarray(rng.integers(0, 255, (height, width, 3), np.uint8)).save(
        os.path.join(root, cvat.IMAGE_DIR, item + '.jpg')
      )
      Image.fromarray(colors[index]).save(
        os.path.join(root, cvat.MASK_DIR, item + '.png')
      )
      expected[item] = index
  return expected


def _read(root, **fields):
  config = data_config.build('cvat', root, **fields)
  layout = cvat.layout(config)
  reader = cvat.CvatSource(layout.input_base, config)
  out = {}
  for split, pattern in layout.input_splits:
    keys, _ = reader.list_keys(pattern)
    out[split] = [next(reader.read_all(k)) for k in keys]
  return layout, out


def _ids(example):
  return np.asarray(Image.open(io.BytesIO(example.mask_png)))


def test_train_and_val_lists_are_the_splits_colours_the_ids(tmp_path):
  root = str(tmp_path)
  expected = write_export(
    root, {'train': ['t 1', 't2'], 'val': ['v1'], 'default': ['d1', 'd2']}
  )
  layout, read = _read(root)
  assert [s for s, _ in layout.input_splits] == ['train', 'eval']
  names = {split: sorted(e.filename for e, _ in r) for split, r in read.items()}
  # default.txt is split by the hash rule of the other formats.
  hashed = {i: source.is_eval(i, 0.1) for i in ('d1', 'd2')}
  assert names['train'] == sorted(
    ['t 1', 't2'] + [i for i, e in hashed.items() if not e]
  )
  assert names['eval'] == sorted(['v1'] + [i for i, e in hashed.items() if e])
  for results in read.values():
    for example, _ in results:
      np.testing.assert_array_equal(_ids(example), expected[example.filename])
  sources = {e.filename: e.source for r in read.values() for e, _ in r}
  assert sources['t 1'] == 'train' and sources['d1'] == 'default'
  assert data_config.build('cvat', root).labels == (
    'background',
    'person',
    'car',
  )


def test_default_list_alone_is_hashed_and_labels_map_through(tmp_path):
  root = str(tmp_path)
  expected = write_export(root, {'default': [f'i{k}' for k in range(6)]})
  layout, read = _read(root, labels='people')
  assert layout.input_splits == ((source.ALL, 'ImageSets/Segmentation/*.txt'),)
  (results,) = read.values()
  assert len(results) == 6
  for example, _ in results:
    # person -> 1; car is not in the people set: background.
    np.testing.assert_array_equal(
      _ids(example), (expected[example.filename] == 1).astype(np.uint8)
    )


def test_an_unknown_colour_is_a_bad_example_naming_it(tmp_path):
  root = str(tmp_path)
  write_export(root, {'train': ['a'], 'val': ['b']})
  path = os.path.join(root, cvat.MASK_DIR, 'a.png')
  rgb = np.asarray(Image.open(path)).copy()
  rgb[0, 0] = (9, 9, 9)
  Image.fromarray(rgb).save(path)
  _, read = _read(root)
  (bad,) = read['train']
  assert (bad.problem, bad.path) == (problems.UNKNOWN_COLOR, path)
  assert '(9, 9, 9)' in bad.detail


def test_one_of_train_and_val_alone_is_an_error(tmp_path):
  root = str(tmp_path)
  write_export(root, {'train': ['a'], 'default': ['b']})
  with pytest.raises(ValueError, match='has train.txt but not val.txt'):
    cvat.layout(data_config.build('cvat', root))


def test_convert_cvat(tmp_path):
  root = str(tmp_path / 'x')
  write_export(root, {'train': ['a', 'b'], 'val': ['c']})
  report = convert.convert(
    data_config.build('cvat', root), str(tmp_path / 'o'), beam_args=_IN_MEMORY
  )
  assert report['output_splits'] == {'train': 2, 'eval': 1}
  assert labels.read_labels(str(tmp_path / 'o' / labels.LABELS_FILE)) == (
    'background',
    'person',
    'car',
  )
