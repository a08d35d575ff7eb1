"""Runs the mobile DeepLab pipeline: `python pipeline_runner.py --help`.

Chooses a preset, applies the flags on top, checks the inputs, runs the DAG
from pipeline.pipeline with the chosen orchestrator, and prints and writes
the run summary. It holds no pipeline logic.
"""

import dataclasses
import json
import logging
import os
import warnings

# Keep TensorFlow's C++ start-up chatter out of the user's terminal, and run
# every model as a tf_keras model (Keras 3 breaks TFLite conversion on 2.16).
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
# Python-version and deprecation notices from the Google client libraries,
# here and in the Beam worker processes this one starts.
warnings.filterwarnings('ignore', category=FutureWarning)
os.environ.setdefault('PYTHONWARNINGS', 'ignore::FutureWarning')

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from data import datasets
from data import files
from data import flags as data_flags
from data import ingest
from model import config as model_config
from model import flags as model_flags
from pipeline import config as run_config
from pipeline import console

# RunConfig's own defaults, so that the flags do not restate them.
_RUN_DEFAULTS = {
  field.name: field.default
  for field in dataclasses.fields(run_config.RunConfig)
}

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
flags.DEFINE_enum(
  'runner',
  'local',
  run_config.RUNNERS,
  'Orchestrator. local: LocalDagRunner with SQLite ML '
  'Metadata. vertex: compile the pipeline JSON for Vertex '
  'AI Pipelines (--image, --vertex_pipeline_file); '
  '--data_root and --output_dir may then be gs:// paths.',
)
flags.DEFINE_string(
  'image', None, 'vertex: the container image built from the Dockerfile.'
)
flags.DEFINE_string(
  'vertex_pipeline_file',
  _RUN_DEFAULTS['vertex_pipeline_file'],
  'vertex: where the compiled pipeline JSON is written.',
)
flags.DEFINE_list(
  'beam_pipeline_args',
  None,
  'Comma-separated Beam options for the data components, '
  'e.g. --beam_pipeline_args=--direct_running_mode='
  'multi_processing,--direct_num_workers=2. Default: '
  'in-memory for the demo, one worker per core otherwise.',
)
# Model (model.config.ModelConfig); unset flags keep the preset's value.
# num_classes comes from the dataset's labels.
model_flags.define_model_flags(exclude=('num_classes',))
flags.adopt_module_key_flags(model_flags)  # Listed by --help.
# Training (model.config.TrainConfig).
flags.DEFINE_integer('train_steps', None, 'Training steps, 1 to 10^8.')
flags.DEFINE_integer('batch_size', None, 'Training batch size, 1 to 4096.')
flags.DEFINE_float(
  'base_lr', None, 'Base learning rate (poly schedule), 1e-8 to 10.'
)
flags.DEFINE_enum('optimizer', None, model_config.OPTIMIZERS, 'Optimizer.')
flags.DEFINE_bool(
  'augment', None, 'Random scale/crop/flip augmentation for training.'
)
flags.DEFINE_integer(
  'lr_reference_batch',
  None,
  'The global batch --base_lr was tuned for: the learning rate becomes '
  'base_lr * batch_size / lr_reference_batch (linear scaling rule; '
  'docs/training.md). --batch_size is the global batch, split across '
  'replicas.',
)
flags.DEFINE_bool(
  'mixed_precision',
  None,
  'mixed_float16 compute with loss scaling (GPUs); the exported models '
  'stay float32.',
)
flags.DEFINE_bool('jit_compile', None, 'Compile the training step with XLA.')
flags.DEFINE_bool(
  'sync_batchnorm',
  None,
  'BatchNorm statistics over the global batch across replicas.',
)
# Vertex AI Training (pipeline.config.RunConfig): with --runner=vertex,
# --trainer_machine_type moves the Trainer onto its own machines.
flags.DEFINE_string(
  'trainer_machine_type',
  None,
  'vertex: run the Trainer as a Vertex AI Training job on this machine '
  'type (e.g. n1-standard-16); default: inside the pipeline container.',
)
flags.DEFINE_integer(
  'trainer_replicas',
  _RUN_DEFAULTS['trainer_replicas'],
  'vertex training: machines, chief included (>1: multi-worker).',
)
flags.DEFINE_string(
  'trainer_accelerator_type',
  None,
  'vertex training: accelerator per machine, e.g. NVIDIA_TESLA_T4.',
)
flags.DEFINE_integer(
  'trainer_accelerator_count',
  _RUN_DEFAULTS['trainer_accelerator_count'],
  'vertex training: accelerators per machine.',
)
flags.DEFINE_string('gcp_project', None, 'vertex training: GCP project.')
flags.DEFINE_string('gcp_region', None, 'vertex training: GCP region.')
flags.DEFINE_string(
  'infer_input',
  None,
  'A folder of photos (local or gs://) that the pushed model segments '
  'after the push (BatchInferrer: masks/, predictions.jsonl, errors.jsonl; '
  'skipped when nothing is pushed).',
)
# Quality gates (pipeline.config.QualityGate).
flags.DEFINE_float(
  'min_mean_iou',
  None,
  'The Evaluator blesses only models with at least this mean IoU (0 to 1).',
)
flags.DEFINE_float(
  'min_mean_boundary_iou',
  None,
  'The Evaluator blesses only models with at least this mean boundary IoU '
  '(Cheng et al. 2021; 0 to 1).',
)
flags.DEFINE_float(
  'max_int8_mean_iou_drop',
  None,
  'Refuse the push if int8 TFLite loses more mean IoU (0 to 1).',
)

_TRAIN_FLAGS = (
  'train_steps',
  'batch_size',
  'base_lr',
  'optimizer',
  'augment',
  'lr_reference_batch',
  'mixed_precision',
  'jit_compile',
  'sync_batchnorm',
)
_GATE_FLAGS = (
  'min_mean_iou',
  'min_mean_boundary_iou',
  'max_int8_mean_iou_drop',
)


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
  return run_config.build_run_config(
    FLAGS.preset or datasets.default_preset(dataset, data.labels),
    data=data,
    output_dir=output_dir,
    overrides={
      'model': model_flags.model_overrides(FLAGS),
      'train': _set_flags(_TRAIN_FLAGS),
      'gate': _set_flags(_GATE_FLAGS),
    },
    runner=FLAGS.runner,
    image=FLAGS.image,
    vertex_pipeline_file=os.path.abspath(FLAGS.vertex_pipeline_file),
    beam_pipeline_args=(
      tuple(FLAGS.beam_pipeline_args)
      if FLAGS.beam_pipeline_args
      else run_config.default_beam_pipeline_args(dataset.name)
    ),
    trainer_machine_type=FLAGS.trainer_machine_type,
    trainer_replicas=FLAGS.trainer_replicas,
    trainer_accelerator_type=FLAGS.trainer_accelerator_type,
    trainer_accelerator_count=FLAGS.trainer_accelerator_count,
    gcp_project=FLAGS.gcp_project,
    gcp_region=FLAGS.gcp_region,
    infer_input=_infer_input(),
  )


def _infer_input():
  if not FLAGS.infer_input:
    return None
  folder = _absolute(FLAGS.infer_input)
  if not files.is_url(folder) and not os.path.isdir(folder):
    raise ValueError(f'--infer_input={FLAGS.infer_input}: no such directory')
  return folder


def _set_flags(names) -> dict:
  """{name: value} of the flags among `names` that the user set."""
  return {
    name: FLAGS[name].value for name in names if FLAGS[name].value is not None
  }


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
  console.quiet_libraries()
  try:
    config = config_from_flags()
  except (ValueError, OSError) as e:
    return console.fail(str(e))
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
  return 0


def compile_for_vertex(config: run_config.RunConfig) -> int:
  """Writes the Vertex AI Pipelines JSON; running it is Vertex's job."""
  console.say('Loading TFX (about 15 s)...')
  # pylint: disable=g-import-not-at-top
  from pipeline import pipeline as dag
  from pipeline import vertex

  # pylint: enable=g-import-not-at-top
  path = config.vertex_pipeline_file
  vertex.compile_pipeline(dag.create_pipeline(config), config.image, path)
  console.say(
    f'Vertex AI pipeline written to {path} (image {config.image}, '
    f'pipeline root {config.pipeline_root}); submit it as the '
    'README shows.'
  )
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=console.parse_flags_or_exit)
