"""data.convert writes the shards ExampleGen would, and they import back."""

import glob
import json
import os
import subprocess
import sys

from apache_beam.options import pipeline_options
import numpy as np
import tensorflow as tf

from components import example_gen
from data import convert
from data import datasets
from data import features
from data import labels
from data import problems
from tests.fixtures import voc_replica

_IN_MEMORY = ['--direct_running_mode=in_memory']


def _records(pattern):
  out = {}
  for path in sorted(glob.glob(pattern)):
    for record in tf.data.TFRecordDataset(path, compression_type='GZIP'):
      example = tf.train.Example.FromString(record.numpy())
      name = (
        example.features.feature[features.IMAGE_FILENAME]
        .bytes_list.value[0]
        .decode()
      )
      out[name] = example
  return out


def test_convert_people_then_import_as_tfrecord(
  tmp_path, capsys, broken_project, is_eval, run_in_pipeline
):
  project = broken_project(str(tmp_path / 'people'))
  out = str(tmp_path / 'shards')
  assert (
    convert.main(
      [
        '--format',
        'people',
        '--data_root',
        project,
        '--output_dir',
        out,
        '--skip_bad_examples',
        '--eval_fraction',
        '0.3',
      ]
      + _IN_MEMORY
    )
    == 0
  )
  printed = capsys.readouterr().out
  assert 'in: 8  written: 5  skipped: 3' in printed
  assert f'skipped {problems.MISSING_MASK}: 1' in printed
  train = _records(os.path.join(out, 'train-*-of-*.tfrecord.gz'))
  eval_ = _records(os.path.join(out, 'eval-*-of-*.tfrecord.gz'))
  assert len(train) + len(eval_) == 5
  assert sorted(eval_) == sorted(
    n for n in list(train) + list(eval_) if is_eval(n, 0.3)
  )
  with open(os.path.join(out, 'ingest_report.json')) as f:
    report = json.load(f)
  assert report['output_splits'] == {'train': len(train), 'eval': len(eval_)}
  assert datasets.get('tfrecord').labels(out) == labels.PEOPLE_CLASSES

  # The shards import back unchanged through --dataset tfrecord.
  execution, uris = run_in_pipeline(
    example_gen.create_example_gen('tfrecord', out)
  )
  assert execution.last_known_state == execution.COMPLETE
  imported = {
    split: _records(os.path.join(uris[0], f'Split-{split}', '*'))
    for split in ('train', 'eval')
  }
  assert sorted(imported['train']) == sorted(train)
  assert sorted(imported['eval']) == sorted(eval_)
  for name, example in train.items():
    assert imported['train'][name] == example


def test_convert_voc_aug_fails_by_default_naming_the_file(tmp_path):
  voc_replica.write_devkit(
    str(tmp_path / 'd'), ['a1', 'a2'], ['v1'], aug_train=['a1', 'a2', 'v1']
  )
  root = os.path.join(str(tmp_path / 'd'), 'VOCdevkit', 'VOC2012')
  bad_mask = os.path.join(root, 'SegmentationClassAug', 'a2.png')
  with open(bad_mask, 'wb') as f:
    f.write(b'nope')
  try:
    convert.convert(
      'voc_aug', str(tmp_path / 'd'), str(tmp_path / 'o'), beam_args=_IN_MEMORY
    )
  except Exception as e:  # Beam wraps the error; its message is kept.
    assert f'{bad_mask}: {problems.CORRUPT_MASK}: cannot decode mask' in str(e)
  else:
    raise AssertionError('a corrupt mask must fail the conversion')


def test_convert_voc_writes_voc_splits(tmp_path):
  expected = voc_replica.write_devkit(
    str(tmp_path / 'd'), ['a1', 'a2', 'a3'], ['v1', 'v2']
  )
  out = str(tmp_path / 'o')
  report = convert.convert(
    'voc', str(tmp_path / 'd'), out, beam_args=_IN_MEMORY
  )
  assert report['output_splits'] == {'train': 3, 'eval': 2}
  eval_ = _records(os.path.join(out, 'eval-*.tfrecord.gz'))
  assert sorted(eval_) == ['v1', 'v2']
  png = eval_['v1'].features.feature[features.MASK_ENCODED].bytes_list.value[0]
  np.testing.assert_array_equal(
    tf.io.decode_png(png, channels=1).numpy()[..., 0], expected['v1']
  )
  assert datasets.get('tfrecord').labels(out) == labels.VOC_CLASSES
  # DeepLab's own shards are named val-*; they are the eval split.
  for path in glob.glob(os.path.join(out, 'eval-*')):
    os.rename(path, path.replace('eval-', 'val-'))
  assert datasets.layout('tfrecord', out).input_splits == (
    ('train', 'train-*'),
    ('eval', 'val-*'),
  )


def test_conversion_code_does_not_import_tensorflow():
  """Beam workers import these modules; TensorFlow would cost each seconds."""
  code = (
    'import sys\n'
    'from data import convert, datasets, demo, ingest, supervisely, voc\n'
    'print(sorted(m for m in sys.modules if m.split(".")[0] in '
    '("tensorflow", "tfx", "keras", "tf_keras")))'
  )
  result = subprocess.run(
    [sys.executable, '-c', code],
    capture_output=True,
    text=True,
    check=True,
    cwd=os.path.dirname(os.path.dirname(__file__)),
  )
  assert result.stdout.strip() == '[]'


def test_beam_options_default_to_a_worker_per_core_or_are_the_users():
  direct = convert._beam_options([]).view_as(pipeline_options.DirectOptions)
  assert (direct.direct_running_mode, direct.direct_num_workers) == (
    'multi_processing',
    0,
  )  # 0: FnApiRunner starts one per core.
  direct = convert._beam_options(_IN_MEMORY).view_as(
    pipeline_options.DirectOptions
  )
  assert (direct.direct_running_mode, direct.direct_num_workers) == (
    'in_memory',
    1,
  )
