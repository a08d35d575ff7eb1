"""pipeline_runner.py: bad input ends in one error line before any work."""

import json
import os
import subprocess
import sys

import pytest

from data import labels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*flags):
  return subprocess.run(
    [sys.executable, os.path.join(ROOT, 'pipeline_runner.py'), *flags],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )


@pytest.mark.parametrize(
  'flags,message',
  [
    (['--dataset=coco'], 'flag --dataset=coco: value should be one of'),
    (['--dataset=voc'], '--data_root is required with --dataset=voc'),
    (
      ['--dataset=people', '--data_root=/no/such/dir'],
      '--data_root=/no/such/dir: no such directory',
    ),
    (
      ['--output_dir=/proc/forbidden'],
      '--output_dir=/proc/forbidden is not writable',
    ),
    (['--input_size=100'], 'input_size=100'),
    (['--output_stride=4'], 'output_stride=4'),
    (['--train_steps=-5'], 'train_steps=-5'),
    (['--aspp=maybe'], 'flag --aspp=maybe'),
    (['--output_dir=gs://bucket/runs'], 'runner=local needs a local folder'),
    (
      ['--dataset=people', '--data_root=PROJECT', '--labels=voc'],
      '--labels=voc: --dataset=people has its own label set',
    ),
    # --dataset checked against the folder's layout.
    (['--dataset=voc', '--data_root=PROJECT'], 'no PASCAL VOC 2012 found'),
    (
      ['--runner=vertex', '--dataset=people', '--data_root=PROJECT'],
      'runner=vertex needs the container image (--image)',
    ),
    (
      ['--runner=vertex', '--image=gcr.io/p/i:1'],
      'runner=vertex needs a real dataset',
    ),
  ],
)
def test_bad_input_is_one_error_line_and_exit_2(
  tmp_path, people_project, flags, message
):
  project = people_project(str(tmp_path / 'project'), 2)
  flags = [f.replace('PROJECT', project) for f in flags]
  if not any(f.startswith('--output_dir') for f in flags):
    flags = flags + [f'--output_dir={tmp_path}']
  completed = run(*flags)
  assert completed.returncode == 2
  lines = completed.stderr.strip().splitlines()
  assert len(lines) == 1, completed.stderr
  assert lines[0].startswith('error: ') and message in lines[0]
  assert 'Loading TFX' not in completed.stdout


def test_help_lists_the_flags():
  completed = run('--helpshort')
  assert completed.returncode == 1  # absl's convention for --help
  for flag in (
    '--dataset',
    '--data_root',
    '--output_dir',
    '--backbone',
    '--input_size',
    '--train_steps',
    '--batch_size',
    '--runner',
    '--beam_pipeline_args',
    '--preset',
  ):
    assert flag in completed.stdout


@pytest.fixture
def parse_flags():
  """Parses argv into the runner's flags; resets them afterwards."""
  import pipeline_runner  # pylint: disable=g-import-not-at-top

  def parse(*argv):
    pipeline_runner.FLAGS.unparse_flags()
    pipeline_runner.FLAGS(['pipeline_runner.py', *argv])
    return pipeline_runner.config_from_flags()

  yield parse
  pipeline_runner.FLAGS.unparse_flags()


# The same checks in process: what the CLI prints is the ValueError's text
# (the cases above show the one line and exit status 2).
@pytest.mark.parametrize(
  'flags,message',
  [
    (['--base_lr=inf'], 'base_lr=inf: must be a finite number'),
    (['--depth_multiplier=1e-9'], 'depth_multiplier=1e-09: must be'),
    (['--input_size=100000'], 'input_size=100000: must be a finite whole'),
    (
      ['--min_mean_iou=5'],
      'min_mean_iou=5.0: must be a finite number in [0, 1]',
    ),
    (['--min_mean_iou=nan'], 'min_mean_iou=nan'),
    (['--max_int8_mean_iou_drop=-1'], 'max_int8_mean_iou_drop=-1.0'),
    (['--eval_fraction=0.0001'], 'eval_fraction=0.0001: must be in [0.001'),
    (
      ['--eval_fraction=0.004'],
      'eval_fraction=0.004 of demo_images=240 leaves a split without images',
    ),
    (['--demo_images=-3'], 'demo_images=-3'),
    (['--max_image_pixels=0'], 'max_image_pixels=0'),
    (
      ['--beam_pipeline_args=--runner=NoSuchRunner'],
      '--runner=NoSuchRunner in the Beam options: not a Beam runner',
    ),
  ],
)
def test_numbers_out_of_their_ranges_are_refused_naming_the_flag(
  tmp_path, parse_flags, flags, message
):
  with pytest.raises(ValueError) as error:
    parse_flags(f'--output_dir={tmp_path}', *flags)
  assert message in str(error.value)


@pytest.mark.parametrize(
  'names,preset,size',
  [(labels.VOC_CLASSES, 'voc', 513), (('background', 'cat'), 'people', 256)],
)
def test_records_train_with_the_preset_of_their_labels(
  tmp_path, parse_flags, names, preset, size
):
  for split in ('train', 'val'):  # DeepLab's names, not opened here.
    (tmp_path / f'{split}-00000-of-00001.tfrecord').write_bytes(b'')
  labels.write_labels(str(tmp_path / labels.LABELS_FILE), names)
  config = parse_flags(
    '--dataset=tfrecord',
    f'--data_root={tmp_path}',
    f'--output_dir={tmp_path / "out"}',
  )
  assert (config.preset, config.model.input_size) == (preset, size)
  assert config.labels == names
  assert config.model.num_classes == len(names)
  # --preset and single flags still win.
  config = parse_flags(
    '--dataset=tfrecord',
    f'--data_root={tmp_path}',
    f'--output_dir={tmp_path / "out"}',
    '--preset=demo',
    '--input_size=96',
  )
  assert (config.preset, config.model.input_size) == ('demo', 96)
  assert config.model.depth_multiplier == 0.5  # From the demo preset.


def test_labels_flag_names_the_label_set_of_records(tmp_path, parse_flags):
  for split in ('train_aug', 'val'):
    (tmp_path / f'{split}-00000-of-00001.tfrecord').write_bytes(b'')
  config = parse_flags(
    '--dataset=tfrecord',
    f'--data_root={tmp_path}',
    f'--output_dir={tmp_path / "out"}',
    '--labels=voc',
  )
  assert config.labels == labels.VOC_CLASSES
  assert config.preset == 'voc'


def test_every_run_setting_lands_in_the_run_config(tmp_path, parse_flags):
  config = parse_flags(
    f'--output_dir={tmp_path}',
    '--demo_images=30',
    '--train_steps=7',
    '--min_mean_iou=0.25',
    '--vertex_pipeline_file=x.json',
    '--skip_bad_examples',
  )
  assert config.dataset == 'demo'
  assert config.data_root == os.path.join(str(tmp_path), 'demo_data')
  assert config.demo_images == 30
  assert config.train.train_steps == 7
  assert config.gate.min_mean_iou == 0.25
  assert config.vertex_pipeline_file == os.path.abspath('x.json')
  assert config.skip_bad_examples is True
  assert config.beam_pipeline_args == ('--direct_running_mode=in_memory',)


@pytest.mark.slow
def test_a_bad_dataset_stops_the_run_with_one_line(tmp_path, broken_project):
  project = broken_project(str(tmp_path / 'people'))
  out = tmp_path / 'out'
  completed = run(
    '--dataset=people',
    f'--data_root={project}',
    f'--output_dir={out}',
    '--eval_fraction=0.5',
  )
  assert completed.returncode == 1
  errors = [line for line in completed.stderr.splitlines() if 'error' in line]
  assert errors == [completed.stderr.strip().splitlines()[-1]]
  bad = os.path.join(project, 'ds1', 'ann', 'img04.png.json')
  assert errors[0].startswith(f'error: {bad}: bad_annotation: ')
  assert '--skip_bad_examples' in errors[0]
  # Progress lines and that one error: no traceback, no library warnings.
  for line in completed.stderr.strip().splitlines()[:-1]:
    assert line.endswith(' > ExampleGen running'), line
  assert 'Traceback' in (out / 'pipeline.log').read_text()
  # TFX removes the failed ExampleGen's output; the report is kept here.
  report = out / 'ingest_report.json'
  assert errors[0].endswith(f'Report: {report}')
  assert json.loads(report.read_text())['skipped'] == 3


def test_gate_flags_reach_the_evaluator_and_the_pusher(
  tmp_path, parse_flags, people_project
):
  from pipeline import pipeline  # pylint: disable=g-import-not-at-top

  config = parse_flags(
    '--dataset=people',
    f'--data_root={people_project(str(tmp_path / "people"), 2)}',
    f'--output_dir={tmp_path / "out"}',
    '--min_mean_iou=0.4',
    '--max_int8_mean_iou_drop=0.03',
  )
  components = {c.id: c for c in pipeline.create_pipeline(config).components}
  assert (
    components['MobilePusher'].exec_properties['max_int8_mean_iou_drop'] == 0.03
  )
  eval_config = json.loads(
    components['Evaluator'].exec_properties['eval_config']
  )
  (threshold,) = [
    metric['threshold']
    for spec in eval_config['metrics_specs']
    for metric in spec['metrics']
    if 'threshold' in metric
  ]
  assert threshold['value_threshold']['lower_bound'] == 0.4
  assert threshold['change_threshold']['absolute'] == -0.01
