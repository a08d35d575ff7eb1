"""PASCAL VOC 2012 and SBD aug: indices not colours, splits, every bad input."""

import json
import os
import re

import numpy as np
from PIL import Image
import pytest

from data import config as data_config
from data import example
from data import features
from data import labels
from data import problems
from data.readers import voc
from tests.fixtures import hostile
from tests.fixtures import layouts
from tests.fixtures import voc_replica

TRAIN = ['2007_000032', '2007_000039', '2008_000002']
VAL = ['2007_000033', '2009_000001']


def _voc_config(data_root, aug=False):
  return data_config.build('voc', data_root, options=voc.VocOptions(aug=aug))


def _root(data_root):
  return os.path.join(data_root, 'VOCdevkit', 'VOC2012')


def _int(feature, key):
  return feature[key].int64_list.value[0]


def test_find_root_accepts_three_levels(tmp_path):
  voc_replica.write_devkit(str(tmp_path), TRAIN, VAL)
  root = _root(str(tmp_path))
  for given in (str(tmp_path), os.path.join(str(tmp_path), 'VOCdevkit'), root):
    assert voc.find_root(given) == root
  images = os.path.join(root, 'JPEGImages')
  with pytest.raises(FileNotFoundError) as error:
    voc.find_root(images)
  assert str(error.value) == (
    f'{images}: no PASCAL VOC 2012 found: expected ImageSets/Segmentation '
    'under it, under VOC2012/ or under VOCdevkit/VOC2012/'
  )


def test_train_and_val_read_indices_with_grayscale_jpeg(
  tmp_path, mask_of, features_of
):
  expected = voc_replica.write_devkit(
    str(tmp_path), TRAIN, VAL, gray=['2007_000039']
  )
  root = _root(str(tmp_path))
  source = voc.VocSource(root, data_config.build('voc', root))
  for pattern, ids in ((voc.TRAIN_LIST, TRAIN), (voc.VAL_LIST, VAL)):
    keys, notes = source.list_keys(pattern)
    assert [k[0] for k in keys] == ids
    for key in keys:
      example, _ = source.read(key)
      np.testing.assert_array_equal(mask_of(example), expected[key[0]])
      feature = features_of(example)
      assert feature[features.IMAGE_FILENAME].bytes_list.value == [
        key[0].encode()
      ]
      with open(os.path.join(root, 'JPEGImages', key[0] + '.jpg'), 'rb') as f:
        assert feature[features.IMAGE_ENCODED].bytes_list.value[0] == f.read()
      assert feature[features.IMAGE_FORMAT].bytes_list.value == [b'jpeg']
      assert feature[features.SOURCE_KEY].bytes_list.value == [b'voc']
      mask = expected[key[0]]
      labelled = mask != 255
      fraction = np.sum(labelled & (mask != 0)) / np.sum(labelled)
      assert feature[features.FOREGROUND_FRACTION_KEY].float_list.value[
        0
      ] == pytest.approx(fraction, abs=1e-6)
      assert (
        _int(feature, features.IMAGE_HEIGHT),
        _int(feature, features.IMAGE_WIDTH),
        _int(feature, features.IMAGE_CHANNELS),
      ) == (30, 40, 3)
  # The grayscale JPEG really is single-channel on disk.
  gray = Image.open(os.path.join(root, 'JPEGImages', '2007_000039.jpg'))
  assert gray.mode == 'L'
  # Palette masks hold colours that differ from the indices.
  palette = Image.open(
    os.path.join(root, 'SegmentationClass', '2007_000032.png')
  )
  assert palette.mode == 'P' and palette.getpalette()[3:6] == [128, 0, 0]


@pytest.mark.parametrize('two_columns', [False, True])
def test_aug_excludes_val_ids_and_reads_aug_masks(
  tmp_path, two_columns, mask_of
):
  aug_train = TRAIN + ['2010_000005', VAL[0], '2011_000003', VAL[1]]
  expected = voc_replica.write_devkit(
    str(tmp_path), TRAIN, VAL, aug_train=aug_train, aug_two_columns=two_columns
  )
  layout = voc.layout(_voc_config(str(tmp_path), aug=True))
  assert layout.input_splits == (
    ('train', 'ImageSets/Segmentation/train_aug.txt'),
    ('eval', 'ImageSets/Segmentation/val.txt'),
  )
  # Every file of the devkit, SBD's included, is in ExampleGen's fingerprint.
  assert layouts.unfingerprinted_files(layout) == set()
  source = voc.VocSource(
    layout.input_base, _voc_config(str(tmp_path), aug=True)
  )
  keys, notes = source.list_keys(layout.input_splits[0][1])
  assert [k[0] for k in keys] == TRAIN + ['2010_000005', '2011_000003']
  assert notes == {voc.EXCLUDED_VAL_IDS: 2}
  modes = set()
  for key in keys:
    example, _ = source.read(key)
    np.testing.assert_array_equal(mask_of(example), expected['aug/' + key[0]])
    assert example.source == voc.SOURCE_SBD
    modes.add(
      Image.open(
        os.path.join(layout.input_base, voc.AUG_MASK_DIR, key[0] + '.png')
      ).mode
    )
  assert modes == {'L', 'P'}
  keys, _ = source.list_keys(voc.VAL_LIST)
  for key in keys:
    example, _ = source.read(key)
    np.testing.assert_array_equal(mask_of(example), expected[key[0]])
    assert example.source == voc.SOURCE_VOC


def test_parse_id_list_forms():
  text = (
    '2007_000032\r\n\n/JPEGImages/2007_000039.jpg '
    '/SegmentationClassAug/2007_000039.png\n2008_000002\n'
    'JPEGImages/more/2008_000003.v2.jpg masks/2008_000003.v2.png\n'
    '2008_000004.jpg'
  )
  assert voc.parse_id_list(text, 'l.txt') == [
    '2007_000032',
    '2007_000039',
    '2008_000002',
    '2008_000003.v2',
    '2008_000004',
  ]
  with pytest.raises(ValueError) as error:
    voc.parse_id_list('a\nb c d\n', 'l.txt')
  assert str(error.value) == (
    'l.txt:2: \'b c d\': expected an id or "<image path> <mask path>"'
  )


def test_aug_without_list_or_masks_is_an_error(tmp_path):
  voc_replica.write_devkit(str(tmp_path), TRAIN, VAL)
  root = _root(str(tmp_path))
  # Without --voc_aug the layout covers the devkit's own files.
  assert layouts.unfingerprinted_files(voc.layout(_voc_config(root))) == set()
  with pytest.raises(FileNotFoundError, match='train_aug.txt'):
    voc.layout(_voc_config(str(tmp_path), aug=True))
  with open(os.path.join(root, 'train_aug.txt'), 'w') as f:
    f.write(TRAIN[0] + '\n')
  with pytest.raises(FileNotFoundError) as error:
    voc.layout(_voc_config(str(tmp_path), aug=True))
  assert str(error.value) == (
    f'{root}: --voc_aug needs the SBD masks in SegmentationClassAug/ (see '
    'docs/data.md)'
  )
  os.mkdir(os.path.join(root, 'SegmentationClassAug'))
  layout = voc.layout(_voc_config(str(tmp_path), aug=True))
  assert layout.input_splits[0] == ('train', 'train_aug.txt')
  assert layouts.unfingerprinted_files(layout) == set()


def test_another_label_set_renames_voc_ids_into_it(tmp_path, mask_of):
  expected = voc_replica.write_devkit(str(tmp_path / 'd'), TRAIN, VAL)
  root = _root(str(tmp_path / 'd'))
  # A class the replica's val masks hold, as class 1 of a two-class set.
  kept = int(max(set(np.unique(expected[VAL[0]])) - {0, 255}))
  names = tmp_path / 'labels.txt'
  names.write_text(f'background\n{labels.VOC_CLASSES[kept]}\n')
  source = voc.VocSource(
    root, data_config.build('voc', root, labels=str(names))
  )
  for key in source.list_keys(voc.VAL_LIST)[0]:
    example, _ = source.read(key)
    want = expected[key[0]]
    want = np.where(want == 255, 255, (want == kept).astype(np.uint8))
    np.testing.assert_array_equal(mask_of(example), want)
    assert example.source == voc.SOURCE_VOC


# --- Bad input ------------------------------------------------------------


@pytest.fixture
def devkit(tmp_path):
  voc_replica.write_devkit(str(tmp_path), TRAIN, VAL)
  return _root(str(tmp_path))


def _expect_bad(root, voc_id, problem, path, message):
  with pytest.raises(problems.BadExample, match=message) as error:
    voc.VocSource(root, data_config.build('voc', root)).read(
      (voc_id, voc.MASK_DIR)
    )
  assert error.value.problem == problem
  assert error.value.path == path
  assert path in str(error.value)


def _paths(root, voc_id):
  return (
    os.path.join(root, 'JPEGImages', voc_id + '.jpg'),
    os.path.join(root, 'SegmentationClass', voc_id + '.png'),
  )


def test_missing_image_and_mask(devkit):
  image, mask = _paths(devkit, TRAIN[0])
  os.remove(mask)
  _expect_bad(devkit, TRAIN[0], problems.MISSING_MASK, mask, 'no such file')
  os.remove(image)
  _expect_bad(devkit, TRAIN[0], problems.MISSING_IMAGE, image, 'no such file')


def test_corrupt_image_and_mask(devkit):
  image, mask = _paths(devkit, TRAIN[0])
  with open(mask, 'rb') as f:
    data = f.read()
  with open(mask, 'wb') as f:
    f.write(data[:40])
  _expect_bad(devkit, TRAIN[0], problems.CORRUPT_MASK, mask, 'cannot decode')
  with open(image, 'rb') as f:
    data = f.read()
  with open(image, 'wb') as f:
    f.write(data[: len(data) // 3])
  _expect_bad(devkit, TRAIN[0], problems.CORRUPT_IMAGE, image, 'cannot decode')


def test_size_mismatch(devkit):
  _, mask = _paths(devkit, TRAIN[1])
  voc_replica.palette_png(np.zeros((30, 41), np.uint8), mask)
  image, mask = _paths(devkit, TRAIN[1])
  _expect_bad(
    devkit,
    TRAIN[1],
    problems.SIZE_MISMATCH,
    mask,
    re.escape(f'mask is 30x41 (HxW) but image {image} is 30x40') + '$',
  )


def test_mask_values_outside_labels(devkit):
  _, mask = _paths(devkit, TRAIN[1])
  values = np.zeros((30, 40), np.uint8)
  values[0, :3] = [21, 100, 254]
  Image.fromarray(values, mode='L').save(mask)
  _expect_bad(
    devkit,
    TRAIN[1],
    problems.MASK_VALUES,
    mask,
    r'\[21, 100, 254\] outside the 21 labels 0..20 and 255',
  )


@pytest.mark.parametrize(
  'values,bad',
  [
    ([0, 20, 255], None),
    ([255, 255, 255], None),
    ([21, 255, 255], [21]),
    ([0, 254, 255], [254]),
    ([20, 21, 254], [21, 254]),
  ],
)
def test_mask_value_check_at_the_label_bounds(values, bad):
  mask = np.zeros((4, 5), np.uint8)
  mask[1, :3] = values
  if bad is None:
    example.check_mask_values(mask, labels.VOC_CLASSES, 'm.png')
    return
  with pytest.raises(problems.BadExample, match=re.escape(f'{bad} outside')):
    example.check_mask_values(mask, labels.VOC_CLASSES, 'm.png')


def test_rgb_mask_where_indices_are_expected(devkit):
  _, mask = _paths(devkit, TRAIN[2])
  colours = Image.open(mask).convert('RGB')
  colours.save(mask)
  _expect_bad(devkit, TRAIN[2], problems.RGB_MASK, mask, 'mask is RGB')


def test_other_mask_modes_are_corrupt(devkit):
  _, mask = _paths(devkit, TRAIN[2])
  Image.fromarray(np.zeros((30, 40), np.uint16)).save(mask)
  _expect_bad(devkit, TRAIN[2], problems.CORRUPT_MASK, mask, 'expected P or L')


def test_voc_example_gen_run_with_aug_and_skipping(
  tmp_path, execute_example_gen, read_split
):
  from components import example_gen

  aug_train = TRAIN + [VAL[0], '2010_000005']
  voc_replica.write_devkit(str(tmp_path / 'd'), TRAIN, VAL, aug_train=aug_train)
  root = _root(str(tmp_path / 'd'))
  os.remove(os.path.join(root, voc.AUG_MASK_DIR, '2010_000005.png'))
  uri = execute_example_gen(
    example_gen.create_example_gen(
      data_config.DataConfig(
        'voc',
        str(tmp_path / 'd'),
        labels.VOC_CLASSES,
        options=voc.VocOptions(aug=True),
        skip_bad_examples=True,
      )
    ),
    str(tmp_path / 'out'),
  )
  assert read_split(uri, 'train') == sorted(TRAIN)
  assert read_split(uri, 'eval') == sorted(VAL)
  with open(os.path.join(uri, 'ingest_report.json')) as f:
    report = json.load(f)
  assert report['input_splits'] == {'train': 4, 'eval': 2}
  assert report['output_splits'] == {'train': 3, 'eval': 2}
  assert report['notes'] == {voc.EXCLUDED_VAL_IDS: 1}
  assert report['problems'][problems.MISSING_MASK]['count'] == 1
  assert (report['in'], report['written'], report['skipped']) == (6, 5, 1)
  assert (
    voc.layout(_voc_config(str(tmp_path / 'd'), aug=True)).input_base == root
  )


# --- Hostile devkits ------------------------------------------------------


@pytest.mark.parametrize('fmt', ['JPEG', 'TIFF', 'BMP'])
def test_sbd_masks_that_are_not_png_are_refused(tmp_path, fmt):
  voc_replica.write_devkit(str(tmp_path), TRAIN, VAL, aug_train=TRAIN)
  root = _root(str(tmp_path))
  path = os.path.join(root, voc.AUG_MASK_DIR, TRAIN[0] + '.png')
  Image.open(path).convert('L').save(path, fmt)  # Named .png all the same.
  source = voc.VocSource(root, _voc_config(root, aug=True))
  with pytest.raises(problems.BadExample) as error:
    source.read((TRAIN[0], voc.AUG_MASK_DIR))
  assert error.value.problem == problems.MASK_NOT_PNG
  assert error.value.path == path


def test_png_crc_errors_are_caught_in_masks_and_images(devkit):
  _, mask = _paths(devkit, TRAIN[0])
  with open(mask, 'wb') as f:
    f.write(hostile.png_with_bad_crc(np.zeros((30, 40), np.uint8)))
  _expect_bad(devkit, TRAIN[0], problems.CORRUPT_MASK, mask, 'checksum')


def test_image_symlinked_out_of_the_devkit_is_refused(tmp_path, devkit):
  image, _ = _paths(devkit, TRAIN[1])
  os.rename(image, tmp_path / 'elsewhere.jpg')
  os.symlink(tmp_path / 'elsewhere.jpg', image)
  _expect_bad(devkit, TRAIN[1], problems.OUTSIDE_ROOT, image, 'outside')


def test_an_id_listed_three_times_is_read_once_and_counted(devkit):
  path = os.path.join(devkit, voc.TRAIN_LIST)
  with open(path, 'w') as f:
    f.write('\n'.join([TRAIN[0], TRAIN[1], TRAIN[0], TRAIN[0]]))
  keys, notes = voc.VocSource(devkit, _voc_config(devkit)).list_keys(
    voc.TRAIN_LIST
  )
  assert [k[0] for k in keys] == [TRAIN[0], TRAIN[1]]
  assert notes == {problems.DUPLICATE_ID: 2, voc.EXCLUDED_VAL_IDS: 0}


@pytest.mark.parametrize(
  'content,outcome',
  [
    (b'\xef\xbb\xbf2007_000032\n', ['2007_000032']),  # BOM: read.
    (b'caf\xe9\n', 'not UTF-8 text'),
    (b'\n  \n', 'lists no ids; the split would be empty'),
    (b'a\nb c d\n', ":2: 'b c d': expected an id or"),
  ],
)
def test_split_lists_are_checked_before_a_run(devkit, content, outcome):
  with open(os.path.join(devkit, voc.TRAIN_LIST), 'wb') as f:
    f.write(content)
  if isinstance(outcome, list):
    assert voc.read_id_list(devkit, voc.TRAIN_LIST) == outcome
    return
  with pytest.raises(ValueError) as error:
    voc.layout(_voc_config(devkit))
  assert outcome in str(error.value)
  assert str(error.value).startswith(os.path.join(devkit, voc.TRAIN_LIST))
