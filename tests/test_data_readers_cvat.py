"""data.readers.cvat: CVAT "Segmentation mask 1.1" exports."""

import io
import os
import shutil

import numpy as np
from PIL import Image
import pytest

from data import config as data_config
from data import convert
from data import labels
from data import problems
from data.readers import cvat
from data.readers import source
from tests.fixtures import layouts

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


@pytest.mark.parametrize(
  'lists', [{'train': ['a'], 'val': ['b']}, {'default': ['a', 'b']}]
)
def test_every_file_of_the_export_is_in_the_fingerprint(tmp_path, lists):
  # ExampleGen runs again when one of them changes (components.example_gen).
  root = str(tmp_path)
  write_export(root, lists)
  layout = cvat.layout(data_config.build('cvat', root))
  assert layouts.unfingerprinted_files(layout) == set()


@pytest.mark.parametrize(
  'missing', [cvat.IMAGE_DIR, cvat.MASK_DIR, cvat.LIST_DIR]
)
def test_a_missing_folder_is_named(tmp_path, missing):
  root = str(tmp_path)
  write_export(root, {'default': ['a']})
  shutil.rmtree(os.path.join(root, missing))
  with pytest.raises(FileNotFoundError) as error:
    cvat.layout(data_config.build('cvat', root))
  assert str(error.value) == (
    f'{root}: not a CVAT "Segmentation mask 1.1" export: {missing}/ is missing'
  )


def test_a_missing_labelmap_or_list_is_named(tmp_path):
  root = str(tmp_path)
  write_export(root, {'default': ['a']})
  config = data_config.build('cvat', root, labels='people')
  os.remove(os.path.join(root, cvat.LIST_DIR, 'default.txt'))
  with pytest.raises(FileNotFoundError) as error:
    cvat.layout(config)
  assert str(error.value) == (
    f'{root}: no split lists in ImageSets/Segmentation/*.txt'
  )
  os.remove(os.path.join(root, cvat.LABELMAP))
  with pytest.raises(FileNotFoundError) as error:
    cvat.layout(config)
  assert str(error.value) == (
    f'{os.path.join(root, cvat.LABELMAP)}: missing; the export names its '
    'mask colours there'
  )


def test_val_without_train_is_an_error_saying_what_to_do(tmp_path):
  root = str(tmp_path)
  write_export(root, {'val': ['a']})
  with pytest.raises(ValueError) as error:
    cvat.layout(data_config.build('cvat', root))
  assert str(error.value) == (
    f'{root}: ImageSets/Segmentation has val.txt but not train.txt: give '
    'both, or neither (then every list is split by --eval_fraction)'
  )


@pytest.mark.parametrize(
  'names',
  [('person', 'car'), ('person', 'background', 'car'), ('background', 'car')],
)
def test_labelmap_names_are_the_labels_with_background_first(tmp_path, names):
  root = str(tmp_path)
  write_export(
    root,
    {'default': ['a']},
    labelmap=[(n, (i, i, i)) for i, n in enumerate(names)],
  )
  expected = ('background',) + tuple(n for n in names if n != 'background')
  assert cvat.default_labels(root) == (expected, ())


def test_a_labelmap_without_colours_is_refused(tmp_path):
  root = str(tmp_path)
  write_export(root, {'default': ['a']})
  with open(os.path.join(root, cvat.LABELMAP), 'w') as f:
    f.write('background\nperson\n')
  with pytest.raises(ValueError) as error:
    cvat.CvatSource(root, data_config.build('cvat', root, labels='people'))
  assert str(error.value) == (
    f'{os.path.join(root, cvat.LABELMAP)}: no colours; CVAT writes '
    '`name:r,g,b::` lines'
  )


def test_a_list_that_is_not_utf8_is_named(tmp_path):
  path = str(tmp_path / 'default.txt')
  with open(path, 'wb') as f:
    f.write(b'a\n\xff\xfe\n')
  with pytest.raises(ValueError) as error:
    cvat.read_list(path)
  assert str(error.value).startswith(f'{path}: not UTF-8 text (')


def test_missing_ambiguous_and_corrupt_files_are_bad_examples(tmp_path):
  root = str(tmp_path)
  write_export(
    root, {'train': ['gone', 'twice', 'broken', 'nomask', 'ok'], 'val': ['v']}
  )
  images, masks_dir = (
    os.path.join(root, d) for d in (cvat.IMAGE_DIR, cvat.MASK_DIR)
  )
  os.remove(os.path.join(images, 'gone.jpg'))
  Image.new('RGB', (8, 8)).save(os.path.join(images, 'twice.png'))
  with open(os.path.join(images, 'broken.jpg'), 'wb') as f:
    f.write(b'\xff\xd8 not a JPEG')
  os.remove(os.path.join(masks_dir, 'nomask.png'))
  _, read = _read(root)
  found = {
    bad.problem: (bad.path, bad.detail)
    for bad in read['train']
    if isinstance(bad, problems.BadExample)
  }
  corrupt = found.pop(problems.CORRUPT_IMAGE)
  assert corrupt[0] == os.path.join(images, 'broken.jpg')
  assert corrupt[1].startswith('cannot decode image: ')
  assert found == {
    problems.MISSING_IMAGE: (
      os.path.join(images, 'gone.jpg'),
      "no image of id 'gone' in JPEGImages/",
    ),
    problems.AMBIGUOUS_NAME: (
      os.path.join(images, 'twice'),
      "id 'twice' matches images ('twice.jpg', 'twice.png')",
    ),
    problems.MISSING_MASK: (
      os.path.join(masks_dir, 'nomask.png'),
      'no such file',
    ),
  }
  (ok,) = [
    e
    for e, _ in (
      r for r in read['train'] if not isinstance(r, problems.BadExample)
    )
  ]
  assert ok.filename == 'ok' and ok.source == 'train'


def test_every_other_list_is_hashed_beside_train_and_val(tmp_path):
  # Lists sorting before and after train and val alike.
  root = str(tmp_path)
  others = {'default': [f'd{k}' for k in range(8)], 'zoo': ['z1', 'z2']}
  write_export(root, {'train': ['t'], 'val': ['v'], **others})
  _, read = _read(root)
  hashed = [i for ids in others.values() for i in ids]
  names = {split: sorted(e.filename for e, _ in r) for split, r in read.items()}
  assert names == {
    'train': sorted(['t'] + [i for i in hashed if not source.is_eval(i, 0.1)]),
    'eval': sorted(['v'] + [i for i in hashed if source.is_eval(i, 0.1)]),
  }


def test_a_mask_of_another_size_names_its_image(tmp_path):
  root = str(tmp_path)
  write_export(root, {'train': ['a'], 'val': ['b']})
  mask_path = os.path.join(root, cvat.MASK_DIR, 'a.png')
  Image.new('RGB', (3, 2)).save(mask_path)
  _, read = _read(root)
  (bad,) = read['train']
  image_path = os.path.join(root, cvat.IMAGE_DIR, 'a.jpg')
  assert (bad.problem, bad.path) == (problems.SIZE_MISMATCH, mask_path)
  assert bad.detail.startswith(f'mask is 2x3 (HxW) but image {image_path} is ')
