"""Runs the mobile DeepLab pipeline: `python pipeline_runner.py --help`.

Chooses a preset, applies the flags on top, checks the inputs, runs the DAG
from pipeline.pipeline with the chosen orchestrator, and prints and writes
the run summary. It holds no pipeline logic.
"""

import json
import logging
import os

from data import cli_env

# Quiet TensorFlow's C++ start-up and the Google libraries' notices, here and
# in the Beam workers this process starts (--verbose keeps them).
VERBOSE = cli_env.quiet_unless_verbose()

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from data import datasets
from data import files
from data import flags as data_flags
from model import config as model_config
from model import flags as model_flags
from pipeline import config as run_config
from pipeline import console

FLAGS = flags.FLAGS

# Data (data.config.DataConfig): --format, --data_root, --labels, ...,
# declared once in data/flags.py; --dataset is the older name of --format.
data_flags.define_absl_flags(FLAGS, format_default='demo')
flags.DEFINE_alias('dataset', 'format')
flags.DEFINE_string(
  'output_dir',
  None,
  'Where pipeline artifacts, ML Metadata, pushed models '
  'and run_summary.json go. Default: runs/<dataset>.',
)
flags.DEFINE_enum(
  'preset',
  None,
  tuple(run_config.PRESETS),
  "Recipe to start from; default: the format's own ("
  + ', '.join(
    f'{d.name}: {d.preset or "voc for the 21 VOC labels, else people"}'
    for d in datasets.DATASETS.values()
  )
  + '). Every flag below '
  'overrides it.',
)
flags.DEFINE_list(
  'beam_pipeline_args',
  None,
  'Comma-separated Beam options for the data components, '
  'e.g. --beam_pipeline_args=--direct_running_mode='
  'multi_processing,--direct_num_workers=2. Default: '
  'in-memory for the demo, one worker per core otherwise.',
)
# Model (model.config.ModelConfig; num_classes comes from the dataset's
# labels), training (model.config.TrainConfig) and quality gates
# (pipeline.config.QualityGate): one flag per field, its help beside it;
# an unset flag keeps the preset's value.


def _per_preset(section):
  """--help's note of what an unset flag of `section` takes per preset."""

  def suffix(name):
    values = run_config.preset_values(section, name)
    return f" Unset: the preset's value ({values})." if values else ''

  return suffix


model_flags.define_config_flags(
  model_config.ModelConfig,
  exclude=('num_classes',),
  help_suffix=_per_preset('model'),
)
model_flags.define_config_flags(
  model_config.TrainConfig, help_suffix=_per_preset('train')
)
model_flags.define_config_flags(
  run_config.QualityGate, help_suffix=_per_preset('gate')
)
# Orchestration (pipeline.config.RunConfig's fields that carry a help): with
# --runner=vertex, --trainer_machine_type moves the Trainer onto its own
# machines.
model_flags.define_config_flags(run_config.RunConfig)
flags.adopt_module_key_flags(model_flags)  # Listed by --help.
flags.DEFINE_string(
  'infer_input',
  None,
  'A folder of photos (local or gs://) that the pushed model segments '
  'after the push (BatchInferrer: masks/, predictions.jsonl, errors.jsonl; '
  'skipped when nothing is pushed).',
)
flags.DEFINE_bool(
  'print_config',
  False,
  'Print every setting of the run (model, training, gates, data, '
  'orchestration) with where it came from (flag, preset, default), and '
  'exit without running.',
)
flags.DEFINE_bool('verbose', False, cli_env.VERBOSE_HELP)


def config_from_flags() -> run_config.RunConfig:
  """The RunConfig the flags describe; ValueError on any bad value."""
  dataset = datasets.get(FLAGS.format)
  output_dir = _absolute(FLAGS.output_dir or os.path.join('runs', dataset.name))
  if dataset.generate:
    data_root = os.path.join(output_dir, 'demo_data')
  else:
    if not FLAGS.data_root:
      raise ValueError(f'--data_root is required with --format={dataset.name}')
    data_root = _absolute(FLAGS.data_root)
    if not files.is_url(data_root) and not os.path.isdir(data_root):
      raise ValueError(f'--data_root={FLAGS.data_root}: no such directory')
  if not files.is_url(output_dir):
    _check_writable(output_dir)
  data = data_flags.build_config(
    dict(
      {name: FLAGS[name].value for name in data_flags.names()},
      data_root=data_root,
    )
  )
  if not dataset.generate:
    # The folder must hold this format: a wrong --format fails here.
    dataset.layout(data)
  train = model_flags.config_overrides(model_config.TrainConfig, FLAGS)
  run = model_flags.config_overrides(run_config.RunConfig, FLAGS)
  if 'vertex_pipeline_file' in run:
    run['vertex_pipeline_file'] = os.path.abspath(run['vertex_pipeline_file'])
  return run_config.build_run_config(
    FLAGS.preset or datasets.default_preset(dataset, data.labels),
    data=data,
    output_dir=output_dir,
    overrides={
      'model': model_flags.config_overrides(model_config.ModelConfig, FLAGS),
      'train': train,
      'gate': model_flags.config_overrides(run_config.QualityGate, FLAGS),
    },
    parent_model=_parent_model(train.get('init_from')),
    beam_pipeline_args=(
      tuple(FLAGS.beam_pipeline_args)
      if FLAGS.beam_pipeline_args
      else run_config.default_beam_pipeline_args(dataset.name)
    ),
    infer_input=_infer_input(),
    **run,
  )


def _parent_model(init_from):
  """The ModelConfig of the --init_from model, checked; None without one."""
  if not init_from:
    return None
  console.say(f'Checking the model to start from, {init_from}...')
  # pylint: disable=g-import-not-at-top
  from components import parent_model  # TensorFlow: only when asked.

  return parent_model.find(init_from).model


def _infer_input():
  if not FLAGS.infer_input:
    return None
  folder = _absolute(FLAGS.infer_input)
  if not files.is_url(folder) and not os.path.isdir(folder):
    raise ValueError(f'--infer_input={FLAGS.infer_input}: no such directory')
  return folder


def _absolute(path: str) -> str:
  """Local paths made absolute (components run elsewhere); URLs as given."""
  return path if files.is_url(path) else os.path.abspath(path)


def _check_writable(output_dir: str) -> None:
  try:
    os.makedirs(output_dir, exist_ok=True)
    probe = os.path.join(output_dir, '.write_test')
    with open(probe, 'w') as f:
      f.write('ok')
    os.remove(probe)
  except OSError as e:
    raise ValueError(
      f'--output_dir={output_dir} is not writable: {e.strerror}'
    ) from e


def main(argv) -> int:
  del argv
  if not VERBOSE:
    console.quiet_libraries()
  try:
    config = config_from_flags()
  except (ValueError, OSError) as e:
    return console.fail(str(e))
  if FLAGS.print_config:
    return print_config(config)
  if config.runner == 'vertex':
    return compile_for_vertex(config)
  log_path = os.path.join(config.output_dir, 'pipeline.log')
  console.log_to_file(log_path)
  console.say(
    f'Pipeline {config.pipeline_name}: format {config.data.format}, '
    f'output {config.output_dir}'
  )
  generate = config.data.dataset.generate
  if generate:
    generate(config.data.data_root, config.data.options)
    console.say(f'Demo dataset ready in {config.data.data_root}')
  console.say('Loading TFX (about 15 s)...')
  # pylint: disable=g-import-not-at-top
  from tfx import v1 as tfx

  from data import ingest
  from pipeline import pipeline as dag
  from pipeline import report
  from pipeline import summary

  # pylint: enable=g-import-not-at-top
  pipeline = dag.create_pipeline(config)
  try:
    tfx.orchestration.LocalDagRunner().run(pipeline)
  except Exception as e:  # pylint: disable=broad-except
    # The traceback is in pipeline.log; the terminal gets one line.
    logging.exception('The pipeline failed')
    bad_data = console.ingest_error(e)
    if bad_data is None:
      return console.fail(console.failure_line(e, log_path), status=1)
    # TFX removes the failed ExampleGen's output, report included.
    report = os.path.join(config.output_dir, ingest.REPORT_NAME)
    files.write_text(report, json.dumps(bad_data.report, indent=2))
    return console.fail(f'{bad_data} Report: {report}', status=1)
  result = summary.collect(config, summary.metadata_store(config))
  if result.saved_model:
    result.report, result.report_html = report.write_report(
      result, config.output_dir
    )
  path = summary.write(result, config.output_dir)
  console.say(summary.format_text(result))
  console.say(f'Report: {result.report} and {result.report_html}')
  console.say(f'Run summary: {path}')
  console.say(summary.push_outcome(result))
  return 0


def print_config(config: run_config.RunConfig) -> int:
  """Every setting with its source, one per line; runs nothing."""
  given = {name for name in FLAGS if FLAGS[name].present}
  rows = run_config.setting_sources(config, given)
  width = max(len(name) for name, _, _ in rows)
  for name, value, source in rows:
    console.say(f'{name:<{width}}  {value!r}  ({source})')
  return 0


def compile_for_vertex(config: run_config.RunConfig) -> int:
  """Writes the Vertex AI Pipelines JSON; running it is Vertex's job."""
  console.say('Loading TFX (about 15 s)...')
  # pylint: disable=g-import-not-at-top
  from pipeline import pipeline as dag
  from pipeline import vertex

  # pylint: enable=g-import-not-at-top
  path = os.path.abspath(config.vertex_pipeline_file)
  vertex.compile_pipeline(dag.create_pipeline(config), config.image, path)
  console.say(
    f'Vertex AI pipeline written to {path} (image {config.image}, '
    f'pipeline root {config.pipeline_root}); submit it as the '
    'README shows.'
  )
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=console.parse_flags_or_exit)
