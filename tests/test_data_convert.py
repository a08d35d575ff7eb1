"""data.convert writes the shards ExampleGen would, and they import back."""

import base64
import glob
import json
import os
import subprocess
import sys
import zlib

from apache_beam.options import pipeline_options
import numpy as np
import pytest
import tensorflow as tf

from components import example_gen
from data import config as data_config
from data import convert
from data import datasets
from data import features
from data import labels
from data import problems
from data.readers import deeplab
from data.readers import voc
from tests.fixtures import hostile
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
        '0.5',
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
    n for n in list(train) + list(eval_) if is_eval(n, 0.5)
  )
  with open(os.path.join(out, 'ingest_report.json')) as f:
    report = json.load(f)
  assert report['output_splits'] == {'train': len(train), 'eval': len(eval_)}
  assert datasets.get('tfrecord').labels(out) == (labels.PEOPLE_CLASSES, ())

  # The shards import back unchanged through --dataset tfrecord.
  execution, uris = run_in_pipeline(
    example_gen.create_example_gen(
      data_config.DataConfig('tfrecord', out, labels.PEOPLE_CLASSES)
    )
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
  out = str(tmp_path / 'o')
  with pytest.raises(problems.IngestError) as error:
    convert.convert(
      data_config.build(
        'voc', str(tmp_path / 'd'), options=voc.VocOptions(aug=True)
      ),
      out,
      beam_args=_IN_MEMORY,
    )
  assert str(error.value).startswith(
    f'{bad_mask}: {problems.CORRUPT_MASK}: cannot decode mask'
  )
  # The report says why; no record file or labels.txt is left behind.
  assert os.listdir(out) == ['ingest_report.json']


def test_convert_voc_writes_voc_splits(tmp_path):
  expected = voc_replica.write_devkit(
    str(tmp_path / 'd'), ['a1', 'a2', 'a3'], ['v1', 'v2']
  )
  out = str(tmp_path / 'o')
  report = convert.convert(
    data_config.build('voc', str(tmp_path / 'd')), out, beam_args=_IN_MEMORY
  )
  assert report['output_splits'] == {'train': 3, 'eval': 2}
  eval_ = _records(os.path.join(out, 'eval-*.tfrecord.gz'))
  assert sorted(eval_) == ['v1', 'v2']
  png = eval_['v1'].features.feature[features.MASK_ENCODED].bytes_list.value[0]
  np.testing.assert_array_equal(
    tf.io.decode_png(png, channels=1).numpy()[..., 0], expected['v1']
  )
  assert datasets.get('tfrecord').labels(out) == (labels.VOC_CLASSES, ())
  # DeepLab's own shards are named val-*; they are the eval split.
  for path in glob.glob(os.path.join(out, 'eval-*')):
    os.rename(path, path.replace('eval-', 'val-'))
  assert deeplab.layout(data_config.build('tfrecord', out)).input_splits == (
    ('train', 'train-*'),
    ('eval', 'val-*'),
  )


def test_conversion_code_does_not_import_tensorflow():
  """Importing these stays light: TensorFlow loads on the first decode only,
  in the workers that decode (data.images)."""
  code = (
    'import sys\n'
    'from data import convert, datasets, demo, ingest\n'
    'from data.readers import coco, cvat, masks, supervisely, voc\n'
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


# --- The command line on hostile input ----------------------------------


def _zeros_deflated(size):
  """zlib of `size` zero bytes, made a megabyte at a time."""
  deflate = zlib.compressobj(9)
  block = bytes(1 << 20)
  parts = [deflate.compress(block) for _ in range(size >> 20)]
  return b''.join(parts) + deflate.flush()


@pytest.fixture
def hostile_project(tmp_path, people_project):
  """A people project of 12 good images and one of each hostile kind."""
  project = people_project(str(tmp_path / 'hostile'), 12)
  img, ann = (
    os.path.join(project, 'ds1', 'img'),
    os.path.join(project, 'ds1', 'ann'),
  )
  size = {'height': 24, 'width': 28}

  def add(name, image_bytes=None, annotation=None):
    if image_bytes is not None:
      with open(os.path.join(img, name), 'wb') as f:
        f.write(image_bytes)
    with open(os.path.join(ann, name + '.json'), 'w') as f:
      f.write(annotation or json.dumps({'size': size, 'objects': []}))

  add('bomb.png', hostile.header_bomb_png(13_000, 13_000))
  os.mkfifo(os.path.join(img, 'pipe.png'))
  add('pipe.png')
  (tmp_path / 'secret.png').write_bytes(b'outside')
  os.symlink(str(tmp_path / 'secret.png'), os.path.join(img, 'evil.png'))
  add('evil.png')
  with open(os.path.join(img, 'img00.png'), 'rb') as f:
    good = f.read()
  add('nan.png', good, '{"size": {"height": NaN, "width": 28}, "objects": []}')
  bitmap_bomb = base64.b64encode(zlib.compress(b'\0' * (2 << 30), 9))
  add(
    'zip.png',
    good,
    json.dumps(
      {
        'size': size,
        'objects': [
          {
            'classTitle': 'person_bmp',
            'geometryType': 'bitmap',
            'bitmap': {'data': bitmap_bomb.decode(), 'origin': [0, 0]},
          }
        ],
      }
    ),
  )
  return project


_HOSTILE_KINDS = {
  problems.IMAGE_TOO_LARGE: 1,
  problems.NOT_A_FILE: 1,
  problems.OUTSIDE_ROOT: 1,
  problems.NON_FINITE: 1,
  problems.BITMAP_TOO_LARGE: 1,
}


@pytest.mark.slow
def test_hostile_project_stops_with_one_line_and_a_report(
  tmp_path, hostile_project, run_measured, max_tree_rss
):
  out = tmp_path / 'out'
  status, _, peak, stdout, stderr = run_measured(
    [
      '--format=people',
      f'--data_root={hostile_project}',
      f'--output_dir={out}',
      '--eval_fraction=0.5',
      *_IN_MEMORY,
    ]
  )
  assert status == 1
  lines = stderr.strip().splitlines()
  assert len(lines) == 1, stderr
  first_bad = os.path.join(hostile_project, 'ds1', 'ann', 'nan.png.json')
  assert lines[0].startswith(f'error: {first_bad}: non_finite_number: ')
  assert '5 bad example(s) of 17' in lines[0]
  assert lines[0].endswith(
    'rerun with --skip_bad_examples to leave them out and count them. '
    f'Report: {out / "ingest_report.json"}'
  )
  assert stdout == ''
  assert os.listdir(out) == ['ingest_report.json']
  report = json.loads((out / 'ingest_report.json').read_text())
  assert {k: v['count'] for k, v in report['problems'].items()} == (
    _HOSTILE_KINDS
  )
  # A 13000x13000 image and a bitmap inflating to 2 GiB, never decoded.
  assert peak < max_tree_rss, peak / 2**20


@pytest.mark.slow
def test_hostile_project_with_skip_counts_each_kind(
  tmp_path, hostile_project, run_measured, max_tree_rss
):
  """With the default Beam options: a worker process per core, all of
  them in the measured tree."""
  out = tmp_path / 'out'
  status, _, peak, stdout, stderr = run_measured(
    [
      '--format=people',
      f'--data_root={hostile_project}',
      f'--output_dir={out}',
      '--eval_fraction=0.5',
      '--skip_bad_examples',
    ]
  )
  assert status == 0, stderr
  assert 'in: 17  written: 12  skipped: 5' in stdout
  for kind, count in _HOSTILE_KINDS.items():
    assert f'skipped {kind}: {count}' in stdout
  written = _records(str(out / 'train-*')) | _records(str(out / 'eval-*'))
  assert len(written) == 12
  assert peak < max_tree_rss, peak / 2**20


@pytest.mark.parametrize(
  'flag,message',
  [
    ('--eval_fraction=nan', 'error: eval_fraction=nan: must be in'),
    ('--eval_fraction=inf', 'error: eval_fraction=inf: must be in'),
    ('--eval_fraction=0', 'error: eval_fraction=0.0: must be in'),
    ('--max_image_pixels=-1', 'error: max_image_pixels=-1: must be in'),
    ('--voc_aug', 'error: --voc_aug is for --format voc, not people'),
    ('--runner=NoSuchRunner', '--runner=NoSuchRunner in the Beam options'),
  ],
)
def test_bad_flags_exit_2_naming_the_flag(
  tmp_path, run_measured, flag, message
):
  status, _, _, _, stderr = run_measured(
    [
      '--format=people',
      f'--data_root={tmp_path}',
      f'--output_dir={tmp_path / "o"}',
      flag,
    ]
  )
  assert status == 2
  assert message in stderr
  assert 'Traceback' not in stderr


def test_a_dataset_without_examples_names_the_folder_and_the_fix(tmp_path):
  project = tmp_path / 'people'
  project.mkdir()
  (project / 'meta.json').write_text('{"classes": [], "tags": []}')
  out = str(tmp_path / 'out')
  with pytest.raises(problems.IngestError) as error:
    convert.convert(
      data_config.build('people', str(project)), out, beam_args=_IN_MEMORY
    )
  assert str(error.value).startswith(
    f'{project} (--format people): no examples at all:'
  )
  assert 'docs/data.md' in str(error.value)
  # The report is written first, and no records are left.
  assert os.listdir(out) == ['ingest_report.json']


@pytest.mark.slow
def test_a_clean_conversion_prints_only_its_counts(
  tmp_path, people_project, run_measured
):
  """No Python warning and no TensorFlow or Beam log line, from this
  process or its worker processes (the default: one per core); --verbose
  brings them back."""
  project = people_project(str(tmp_path / 'people'), 6)
  args = [
    '--format=people',
    f'--data_root={project}',
    '--eval_fraction=0.5',
  ]
  status, _, _, stdout, stderr = run_measured(
    [*args, f'--output_dir={tmp_path / "quiet"}']
  )
  assert status == 0, stderr
  assert stderr == ''
  assert 'in: 6  written: 6  skipped: 0' in stdout
  status, _, _, _, stderr = run_measured(
    [*args, f'--output_dir={tmp_path / "verbose"}', '--verbose']
  )
  assert status == 0, stderr
  assert 'INFO' in stderr
