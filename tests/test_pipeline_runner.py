"""pipeline_runner.py: bad input ends in one error line before any work."""

import dataclasses
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
    (['--dataset=ade20k'], 'flag --format=ade20k: value should be one of'),
    (['--dataset=voc'], '--data_root is required with --format=voc'),
    (['--format=coco'], '--data_root is required with --format=coco'),
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
      ['--dataset=people', '--data_root=PROJECT', '--labels=/no/labels.txt'],
      '/no/labels.txt: no such labels file',
    ),
    (
      ['--dataset=people', '--data_root=PROJECT', '--voc_aug'],
      '--voc_aug is for --format voc, not people',
    ),
    (
      ['--format=coco', '--data_root=PROJECT'],
      '--format coco needs --labels',
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
  assert config.data.labels == names
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
  assert config.data.labels == labels.VOC_CLASSES
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
  assert config.data.format == 'demo'
  assert config.data.data_root == os.path.join(str(tmp_path), 'demo_data')
  assert config.data.options.images == 30
  assert config.train.train_steps == 7
  assert config.gate.min_mean_iou == 0.25
  assert config.vertex_pipeline_file == os.path.abspath('x.json')
  assert config.data.skip_bad_examples is True
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


def test_init_from_takes_the_parents_architecture(
  tmp_path, parse_flags, untrained_parent
):
  config = parse_flags(
    f'--output_dir={tmp_path}',
    f'--init_from={untrained_parent}',
    '--freeze_backbone_steps=10',
    '--backbone_lr_multiplier=0.1',
    '--input_size=32',  # Repeating the parent's value is fine.
  )
  # The demo preset is 128 px at depth 0.5 with the decoder: the parent's
  # stored config wins over the preset.
  assert (config.model.input_size, config.model.decoder) == (32, False)
  assert config.model.num_classes == 2
  assert config.train.init_from == untrained_parent
  assert config.train.freeze_backbone_steps == 10
  assert config.train.backbone_lr_multiplier == 0.1


@pytest.mark.parametrize(
  'flag,message',
  [
    ('--input_size=64', '--input_size=64 contradicts the model to start'),
    ('--backbone=mobilenet_v3_small', 'which has backbone=mobilenet_v2'),
    ('--decoder', '--decoder=True contradicts'),
  ],
)
def test_a_flag_contradicting_the_parent_is_refused_naming_both(
  tmp_path, parse_flags, untrained_parent, flag, message
):
  with pytest.raises(ValueError) as error:
    parse_flags(
      f'--output_dir={tmp_path}', f'--init_from={untrained_parent}', flag
    )
  assert message in str(error.value)
  assert f'--init_from={untrained_parent}' in str(error.value)


def test_a_bad_parent_is_one_error_line_before_the_run(tmp_path):
  completed = run(f'--output_dir={tmp_path}', f'--init_from={tmp_path}')
  assert completed.returncode == 2
  assert completed.stderr.strip().splitlines()[-1] == (
    f'error: --init_from={tmp_path}: holds no model: expected a pushed '
    'version folder, a Trainer model output or its SavedModel (a folder '
    'with saved_model.pb)'
  )
  assert not os.path.exists(tmp_path / 'demo_data')  # Nothing ran.


def test_help_shows_each_gate_per_preset():
  completed = run('--helpfull')
  help_text = ' '.join(completed.stdout.split())
  for name in ('min_mean_iou', 'max_int8_mean_iou_drop', 'train_steps'):
    start = help_text.index(f'--{name}:')
    entry = help_text[start : help_text.index('--', start + 2)]
    if name == 'max_int8_mean_iou_drop':  # the same in every preset
      assert 'Unset' not in entry
      continue
    from pipeline import config  # pylint: disable=g-import-not-at-top

    section = 'train' if name == 'train_steps' else 'gate'
    for preset, recipe in config.PRESETS.items():
      value = getattr(getattr(recipe, section), name)
      assert f'{preset} {value}' in entry, (name, preset, entry)


def test_print_config_names_every_setting_and_its_source(tmp_path):
  completed = run(
    f'--output_dir={tmp_path}',
    '--preset=people',
    '--train_steps=200',
    '--print_config',
  )
  assert completed.returncode == 0, completed.stderr
  assert completed.stderr == ''  # quiet: no warnings, no TensorFlow logs
  rows = {
    line.split()[0]: (line.split()[1], line.rsplit('(', 1)[1].rstrip(')'))
    for line in completed.stdout.splitlines()
  }
  assert rows['train.train_steps'] == ('200', 'flag')
  assert rows['gate.min_mean_iou'] == ('0.7', 'preset people')
  assert rows['train.batch_size'] == ('16', 'preset people')
  assert rows['gate.max_int8_mean_iou_drop'] == ('0.05', 'default')
  assert rows['model.num_classes'] == ('2', 'labels')
  assert rows['preset'] == ("'people'", 'flag')
  assert rows['data.options.images'] == ('240', 'default')
  # Nothing ran.
  assert not os.path.exists(tmp_path / 'metadata.sqlite')


def test_setting_sources_follow_flags_presets_and_parents(parse_flags):
  from pipeline import config as run_config  # pylint: disable=g-import-not-at-top

  config = parse_flags('--preset=voc', '--demo_images=30', '--base_lr=0.01')
  sources = {
    name: source
    for name, _, source in run_config.setting_sources(
      config, {'preset', 'demo_images', 'base_lr'}
    )
  }
  assert sources['train.base_lr'] == 'flag'
  assert sources['train.train_steps'] == 'preset voc'
  assert sources['model.decoder'] == 'preset voc'
  assert sources['model.backbone'] == 'default'
  assert sources['data.options.images'] == 'flag'
  assert sources['data.eval_fraction'] == 'default'
  with_parent = run_config.setting_sources(
    dataclasses.replace(
      config,
      train=dataclasses.replace(config.train, init_from='/models/1'),
    ),
    set(),
  )
  assert dict((n, s) for n, _, s in with_parent)['model.decoder'] == 'init_from'


def test_gate_flags_reach_the_evaluator_and_the_pusher(
  tmp_path, parse_flags, people_project
):
  from pipeline import pipeline  # pylint: disable=g-import-not-at-top

  config = parse_flags(
    '--dataset=people',
    f'--data_root={people_project(str(tmp_path / "people"), 2)}',
    f'--output_dir={tmp_path / "out"}',
    '--min_mean_iou=0.4',
    '--min_mean_boundary_iou=0.2',
    '--max_int8_mean_iou_drop=0.03',
  )
  components = {c.id: c for c in pipeline.create_pipeline(config).components}
  assert (
    components['MobilePusher'].exec_properties['max_int8_mean_iou_drop'] == 0.03
  )
  eval_config = json.loads(
    components['Evaluator'].exec_properties['eval_config']
  )
  thresholds = {
    metric['class_name']: metric.get('threshold')
    for spec in eval_config['metrics_specs']
    for metric in spec['metrics']
  }
  threshold = thresholds['SegmentationIoU']
  boundary = thresholds['SegmentationBoundaryIoU']
  assert boundary['value_threshold']['lower_bound'] == 0.2
  assert threshold['value_threshold']['lower_bound'] == 0.4
  assert threshold['change_threshold']['absolute'] == -0.01
