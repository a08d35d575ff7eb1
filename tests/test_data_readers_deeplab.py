"""data.deeplab: DeepLab's own TFRecords in, DeepLab's own layout out."""

import glob
import json
import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from components import example_gen
from data import config as data_config
from data import convert
from data import features
from data import ingest
from data import labels
from data import problems
from data.readers import deeplab
from tests.fixtures import deeplab_format

_IN_MEMORY = ['--direct_running_mode=in_memory']


def _examples(prefix, count, seed, num_classes=21):
  """(filename, JPEG, label PNG, height, width) and the pixels DeepLab sees."""
  rng = np.random.default_rng(seed)
  out = []
  for index in range(count):
    height, width = 20 + index, 30
    image = rng.integers(0, 255, (height, width, 3), np.uint8)
    label = rng.integers(0, num_classes, (height, width), np.uint8)
    label[0, :] = features.IGNORE_LABEL
    out.append(
      (
        f'{prefix}{index}',
        deeplab_format.jpeg(image),
        deeplab_format.label_png(label),
        height,
        width,
      )
    )
  return out


@pytest.fixture
def deeplab_records(tmp_path):
  """A folder as build_voc2012_data.py leaves it: four splits, no labels."""
  folder = tmp_path / 'deeplab'
  folder.mkdir()
  examples = {
    'train': _examples('t', 3, 0),
    'train_aug': _examples('a', 5, 1),
    'trainval': _examples('t', 3, 0) + _examples('v', 2, 2),
    'val': _examples('v', 2, 2),
  }
  for split, rows in examples.items():
    deeplab_format.write_split(str(folder), split, rows)
  return folder, examples


def _gz_records(pattern):
  out = {}
  for path in sorted(glob.glob(pattern)):
    for record in tf.data.TFRecordDataset(path, compression_type='GZIP'):
      feature = tf.train.Example.FromString(record.numpy()).features.feature
      out[feature[features.IMAGE_FILENAME].bytes_list.value[0].decode()] = (
        feature
      )
  return out


def test_deeplab_records_import_with_checks_and_split_names(
  tmp_path, deeplab_records
):
  folder, examples = deeplab_records
  out = tmp_path / 'out'
  with pytest.raises(
    FileNotFoundError,
    match='^'
    + re.escape(
      f'{folder}/labels.txt: missing; records do not say what their class '
      'ids mean: put the class names there (one per line, in class-id '
      'order) or give --labels people|voc|PATH'
    )
    + '$',
  ):
    convert.convert(
      data_config.build('tfrecord', str(folder)),
      str(out),
      beam_args=_IN_MEMORY,
    )
  report = convert.convert(
    data_config.build('tfrecord', str(folder), labels='voc'),
    str(out),
    beam_args=_IN_MEMORY,
  )
  # train_aug is the train split, val the eval split.
  assert report['input_splits'] == {'train': 5, 'eval': 2}
  assert report['output_splits'] == {'train': 5, 'eval': 2}
  train = _gz_records(str(out / 'train-*'))
  assert sorted(train) == [f'a{i}' for i in range(5)]
  for name, image, label, height, width in examples['train_aug']:
    feature = train[name]
    assert feature[features.IMAGE_ENCODED].bytes_list.value[0] == image
    stored = feature[features.MASK_ENCODED].bytes_list.value[0]
    np.testing.assert_array_equal(
      tf.io.decode_png(stored).numpy()[..., 0],
      tf.io.decode_png(label).numpy()[..., 0],
    )
    assert feature[features.IMAGE_HEIGHT].int64_list.value[0] == height
    assert feature[features.IMAGE_WIDTH].int64_list.value[0] == width
    # Records without their own image/source get the reader's.
    assert feature[features.SOURCE_KEY].bytes_list.value == [
      deeplab.SOURCE.encode()
    ]
  assert labels.read_labels(str(out / 'labels.txt')) == labels.VOC_CLASSES


def test_mask_values_beyond_the_labels_are_found_at_import(tmp_path):
  folder = tmp_path / 'records'
  folder.mkdir()
  deeplab_format.write_split(str(folder), 'train', _examples('t', 4, 0, 21))
  deeplab_format.write_split(str(folder), 'val', _examples('v', 2, 1, 2))
  source = deeplab.RecordSource(
    str(folder),
    data_config.DataConfig('tfrecord', str(folder), labels.PEOPLE_CLASSES),
  )
  results = [
    result
    for shard in source.list_keys('train-*')[0]
    for result in source.read_all(shard)
  ]
  assert len(results) == 4
  assert all(isinstance(r, problems.BadExample) for r in results)
  assert {r.problem for r in results} == {problems.MASK_VALUES}
  assert results[0].path.endswith('train-00000-of-00002.tfrecord#0 (t0)')
  good = [r for s in source.list_keys('val-*')[0] for r in source.read_all(s)]
  assert [r[0].filename for r in good] == ['v0', 'v1']
  # A shard gone since it was listed.
  (gone,) = source.read_all(str(folder / 'val-gone.tfrecord'))
  assert gone.problem == problems.MISSING_IMAGE
  # A shard is many examples: one read of one key would lose the rest.
  with pytest.raises(NotImplementedError, match='see read_all$'):
    source.read(source.list_keys('val-*')[0][0])


@pytest.mark.parametrize('gzip', [False, True])
@pytest.mark.parametrize('at_url', [False, True])
def test_plain_and_gzipped_shards_are_read_locally_and_at_a_url(
  tmp_path, gzip, at_url
):
  """build_voc2012_data.py writes plain shards; a gzipped copy (as TFX
  writes records) reads the same. A URL is read through TensorFlow's file
  systems: `ram://` stands for gs://."""
  folder = f'ram://{tmp_path}/records' if at_url else str(tmp_path)
  tf.io.gfile.makedirs(folder)
  (path,) = deeplab_format.write_split(
    folder, 'train', _examples('t', 3, 0), num_shards=1, gzip=gzip
  )
  with tf.io.gfile.GFile(path, 'rb') as f:
    assert (f.read(2) == b'\x1f\x8b') == gzip
  source = deeplab.RecordSource(
    folder, data_config.DataConfig('tfrecord', folder, labels.VOC_CLASSES)
  )
  assert source.list_keys('train-*')[0] == [path]
  results = list(source.read_all(path))
  assert [r[0].filename for r in results] == ['t0', 't1', 't2']


def test_a_truncated_shard_keeps_what_it_read_and_counts_the_rest(tmp_path):
  folder = tmp_path / 'records'
  folder.mkdir()
  (path,) = deeplab_format.write_split(
    str(folder), 'train', _examples('t', 3, 0), num_shards=1
  )
  data = open(path, 'rb').read()
  with open(path, 'wb') as f:
    f.write(data[: len(data) - 50])
  source = deeplab.RecordSource(
    str(folder),
    data_config.DataConfig('tfrecord', str(folder), labels.VOC_CLASSES),
  )
  results = list(source.read_all(path))
  assert [r[0].filename for r in results[:2]] == ['t0', 't1']
  assert results[2].problem == problems.CORRUPT_RECORD
  assert results[2].path == f'{path}#2'
  assert re.match(
    r'the shard cannot be read past record 2: .+; the records before it '
    'were read$',
    results[2].detail,
  )
  # Broken in its first record: nothing read, the error at record 0.
  with open(path, 'wb') as f:
    f.write(data[:20])
  (result,) = source.read_all(path)
  assert (result.problem, result.path) == (problems.CORRUPT_RECORD, f'{path}#0')
  assert result.detail.startswith('the shard cannot be read past record 0: ')


@pytest.mark.parametrize('keep', [0, 1])
def test_a_shard_cut_inside_a_record_header_is_reported(tmp_path, keep):
  """TensorFlow's reader stops without an error when a shard ends inside
  the 12 bytes that open a record; the reader counts the bytes left."""
  folder = tmp_path / 'records'
  folder.mkdir()
  (path,) = deeplab_format.write_split(
    str(folder), 'train', _examples('t', 2, 0), num_shards=1
  )
  data = open(path, 'rb').read()
  first = 16 + int.from_bytes(data[:8], 'little')  # The first record's size.
  cut = first * keep + 10
  with open(path, 'wb') as f:
    f.write(data[:cut])
  source = deeplab.RecordSource(
    str(folder),
    data_config.DataConfig('tfrecord', str(folder), labels.VOC_CLASSES),
  )
  *read, error = source.read_all(path)
  assert [r[0].filename for r in read] == ['t0'] * keep
  assert (error.problem, error.path) == (
    problems.CORRUPT_RECORD,
    f'{path}#{keep}',
  )
  assert error.detail == (
    f"the shard ends inside record {keep}'s header (10 bytes left over); "
    'the records before it were read'
  )


def _record(**values):
  """A tf.Example of byte-string features, each a list of values."""
  return tf.train.Example(
    features=tf.train.Features(
      feature={
        key.replace('__', '/'): tf.train.Feature(
          bytes_list=tf.train.BytesList(value=value)
        )
        for key, value in values.items()
      }
    )
  ).SerializeToString()


def test_each_malformed_record_is_reported_by_its_place_and_name(tmp_path):
  """A bad record costs only itself; the problem names the shard, the
  record's index and, once it is known, its file name."""
  ((_, image, label, _, _),) = _examples('ok', 1, 0)
  good = {
    'image__filename': [b'ok'],
    'image__encoded': [image],
    'image__segmentation__class__encoded': [label],
  }
  records = [
    b'\xff\xff\xff',  # Not a protobuf at all.
    _record(**{**good, 'image__filename': [b'a', b'b']}),
    _record(**{k: v for k, v in good.items() if k != 'image__encoded'}),
    _record(**{**good, 'image__filename': [b'\xff.jpg']}),
    _record(
      **{**good, 'image__filename': [b'src'], 'image__source': [b'\xff']}
    ),
    _record(**{**good, 'image__filename': [b'bad'], 'image__encoded': [b'no']}),
    _record(
      **{
        **good,
        'image__filename': [b'tall'],
        'image__segmentation__class__encoded': [
          deeplab_format.label_png(np.zeros((21, 30)))
        ],
      }
    ),
    _record(**{**good, 'image__filename': [b'own'], 'image__source': [b'voc']}),
    _record(**good),
  ]
  folder = tmp_path / 'records'
  folder.mkdir()
  path = str(folder / 'train-00000-of-00001.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  source = deeplab.RecordSource(
    str(folder),
    data_config.DataConfig('tfrecord', str(folder), labels.VOC_CLASSES),
  )
  *bad, own, ok = source.read_all(path)
  assert [(e.problem, e.path) for e in bad] == [
    (problems.BAD_RECORD, f'{path}#0'),
    (problems.BAD_RECORD, f'{path}#1'),
    (problems.BAD_RECORD, f'{path}#2 (ok)'),
    (problems.BAD_RECORD, f'{path}#3'),
    (problems.BAD_RECORD, f'{path}#4 (src)'),
    (problems.CORRUPT_IMAGE, f'{path}#5 (bad)'),
    (problems.SIZE_MISMATCH, f'{path}#6 (tall)'),
  ]
  assert bad[6].detail == (
    f'mask is 21x30 (HxW) but image {path}#6 (tall) is 20x30'
  )
  assert bad[0].detail.startswith('not a tf.Example: ')
  assert [e.detail for e in bad[1:5]] == [
    'image/filename holds 2 byte strings; DeepLab records hold one',
    'image/encoded holds 0 byte strings; DeepLab records hold one',
    'image/filename is not UTF-8',
    'image/source is not UTF-8',
  ]
  # A record's own image/source is kept; the others get the reader's.
  assert (own[0].filename, own[0].source) == ('own', 'voc')
  assert (ok[0].filename, ok[0].source) == ('ok', deeplab.SOURCE)
  np.testing.assert_array_equal(
    tf.io.decode_png(ok[0].mask_png).numpy()[..., 0],
    tf.io.decode_png(label).numpy()[..., 0],
  )


def test_the_pipeline_reads_records_through_the_same_reader(
  tmp_path, deeplab_records, execute_example_gen, read_split
):
  folder, _ = deeplab_records
  uri = execute_example_gen(
    example_gen.create_example_gen(
      data_config.DataConfig('tfrecord', str(folder), labels.VOC_CLASSES)
    ),
    str(tmp_path / 'out'),
  )
  assert read_split(uri, 'train') == [f'a{i}' for i in range(5)]
  assert read_split(uri, 'eval') == ['v0', 'v1']
  with open(os.path.join(uri, ingest.REPORT_NAME)) as f:
    assert json.load(f)['skipped'] == 0


def test_deeplab_layout_is_read_by_deeplabs_own_parser(
  tmp_path, people_project
):
  project = people_project(str(tmp_path / 'people'), 12)
  out = tmp_path / 'for_deeplab'
  convert.convert(
    data_config.build('people', project, eval_fraction=0.5),
    str(out),
    deeplab_layout=True,
    beam_args=_IN_MEMORY,
  )
  names = sorted(os.listdir(out))
  assert 'labels.txt' in names
  shards = [n for n in names if n.endswith('.tfrecord')]
  assert shards and all(
    n.startswith(('train-00000-of-', 'val-00000-of-')) for n in shards
  )
  for shard in shards:  # Uncompressed, as DeepLab's reader expects.
    with open(out / shard, 'rb') as f:
      assert f.read(2) != b'\x1f\x8b'
  read = {
    split: deeplab_format.read_split(str(out), split)
    for split in ('train', 'val')
  }
  assert read['train'] and read['val']
  assert len(read['train']) + len(read['val']) == 12
  for split in read.values():
    for name, sample in split.items():
      dataset, file_name = name.split('/')
      source = os.path.join(project, dataset, 'img', file_name)
      np.testing.assert_array_equal(
        sample['image'], np.asarray(Image.open(source).convert('RGB'))
      )
      assert sample['label'].shape == (sample['height'], sample['width'])
      assert set(np.unique(sample['label'])) <= {0, 1}
