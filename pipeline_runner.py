"""Runs the mobile DeepLab pipeline: `python pipeline_runner.py --help`.

Chooses a preset, applies the flags on top, checks the inputs, runs the DAG
from pipeline.pipeline with the chosen orchestrator, and prints and writes
the run summary. It holds no pipeline logic.
"""

import os
import warnings

# Keep TensorFlow's C++ start-up chatter out of the user's terminal, and run
# every model as a tf_keras model (Keras 3 breaks TFLite conversion on 2.16).
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
# Python-version and deprecation notices from the Google client libraries.
warnings.filterwarnings('ignore', category=FutureWarning)

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from data import files
from pipeline import config as run_config
from pipeline import console

FLAGS = flags.FLAGS
DEFAULT_PRESETS = {'demo': 'demo', 'people': 'people', 'voc': 'voc',
                   'tfrecord': 'people'}

flags.DEFINE_enum('dataset', 'demo', run_config.DATASETS,
                  'demo: the embedded synthetic people dataset (generated '
                  'into <output_dir>/demo_data); people: a Supervisely '
                  'Person project; voc: PASCAL VOC 2012; tfrecord: DeepLab-'
                  'format TFRecords.')
flags.DEFINE_string('data_root', None,
                    'Dataset folder (required unless --dataset=demo).')
flags.DEFINE_string('output_dir', None,
                    'Where pipeline artifacts, ML Metadata, pushed models '
                    'and run_summary.json go. Default: runs/<dataset>.')
flags.DEFINE_enum('preset', None, tuple(run_config.PRESETS),
                  'Recipe to start from; default: the dataset\'s own '
                  f'{DEFAULT_PRESETS}. Every flag below overrides it.')
flags.DEFINE_enum('runner', 'local', run_config.RUNNERS,
                  'Orchestrator. local: LocalDagRunner with SQLite ML '
                  'Metadata. vertex: compile the pipeline JSON for Vertex '
                  'AI Pipelines (--image, --vertex_pipeline_file); '
                  '--data_root and --output_dir may then be gs:// paths.')
flags.DEFINE_string('image', None,
                    'vertex: the container image built from the Dockerfile.')
flags.DEFINE_string('vertex_pipeline_file', 'mobile_deeplab_vertex.json',
                    'vertex: where the compiled pipeline JSON is written.')
flags.DEFINE_list('beam_pipeline_args', None,
                  'Comma-separated Beam options for the data components, '
                  'e.g. --beam_pipeline_args=--direct_running_mode='
                  'multi_processing,--direct_num_workers=2. Default: '
                  'in-memory for the demo, one worker per core otherwise.')
flags.DEFINE_integer('demo_images', 240,
                     'Number of images of the generated demo dataset.')
flags.DEFINE_float('eval_fraction', 0.1,
                   'Supervisely/demo: fraction of images in the eval split '
                   '(stable hash of image/filename).')
flags.DEFINE_bool('voc_aug', False,
                  'voc: train on the SBD augmented set (train_aug).')
flags.DEFINE_bool('skip_bad_examples', False,
                  'Skip and report bad inputs instead of stopping.')
# Model (model.config.ModelConfig); unset flags keep the preset's value.
flags.DEFINE_enum('backbone', None,
                  ('mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small'),
                  'Backbone network.')
flags.DEFINE_float('depth_multiplier', None, 'Backbone width multiplier.')
flags.DEFINE_integer('output_stride', None, 'Output stride: 8, 16 or 32.')
flags.DEFINE_enum('head', None, ('deeplabv3plus', 'lraspp'),
                  'Segmentation head.')
flags.DEFINE_bool('aspp', None, 'deeplabv3plus: use ASPP.')
flags.DEFINE_bool('decoder', None, 'deeplabv3plus: use the decoder.')
flags.DEFINE_bool('quant_friendly', None,
                  'Quantization-friendly separable convs (arXiv 1803.08607).')
flags.DEFINE_integer('input_size', None, 'Model input size S (S x S).')
flags.DEFINE_integer('channel_divisor', None,
                     'Round backbone widths to multiples of this (8 to load '
                     'ImageNet weights at depth multipliers other than 1; '
                     'default: DeepLab\'s rule, see docs/models.md).')
flags.DEFINE_string('backbone_weights', None,
                    "'imagenet' (downloads when online) or a local Keras "
                    'weights file for the backbone.')
# Training (pipeline.config.TrainConfig).
flags.DEFINE_integer('train_steps', None, 'Training steps.')
flags.DEFINE_integer('batch_size', None, 'Training batch size.')
flags.DEFINE_float('base_lr', None, 'Base learning rate (poly schedule).')
flags.DEFINE_enum('optimizer', None, run_config.OPTIMIZERS, 'Optimizer.')
flags.DEFINE_bool('augment', None,
                  'Random scale/crop/flip augmentation for training.')
# Quality gates (pipeline.config.QualityGate).
flags.DEFINE_float('min_mean_iou', None,
                   'The Evaluator blesses only models with at least this '
                   'mean IoU.')
flags.DEFINE_float('max_int8_mean_iou_drop', None,
                   'Refuse the push if int8 TFLite loses more mean IoU.')

_MODEL_FLAGS = ('backbone', 'depth_multiplier', 'output_stride', 'head',
                'aspp', 'decoder', 'quant_friendly', 'input_size',
                'channel_divisor', 'backbone_weights')
_TRAIN_FLAGS = ('train_steps', 'batch_size', 'base_lr', 'optimizer',
                'augment')
_GATE_FLAGS = ('min_mean_iou', 'max_int8_mean_iou_drop')


def config_from_flags() -> run_config.RunConfig:
  """The RunConfig the flags describe; ValueError on any bad value."""
  dataset = FLAGS.dataset
  output_dir = _absolute(FLAGS.output_dir or os.path.join('runs', dataset))
  if dataset == 'demo':
    data_root = os.path.join(output_dir, 'demo_data')
  else:
    if not FLAGS.data_root:
      raise ValueError(f'--data_root is required with --dataset={dataset}')
    data_root = _absolute(FLAGS.data_root)
    if not files.is_url(data_root) and not os.path.isdir(data_root):
      raise ValueError(f'--data_root={FLAGS.data_root}: no such directory')
  if not files.is_url(output_dir):
    _check_writable(output_dir)
  from data.datasets import dataset_labels  # pylint: disable=g-import-not-at-top
  return run_config.build_run_config(
      FLAGS.preset or DEFAULT_PRESETS[dataset], dataset=dataset,
      data_root=data_root, output_dir=output_dir,
      labels=dataset_labels('people' if dataset == 'demo' else dataset,
                            data_root),
      overrides={
          'model': {name: FLAGS[name].value for name in _MODEL_FLAGS},
          'train': {name: FLAGS[name].value for name in _TRAIN_FLAGS},
          'gate': {name: FLAGS[name].value for name in _GATE_FLAGS},
      },
      runner=FLAGS.runner, image=FLAGS.image,
      beam_pipeline_args=(
          tuple(FLAGS.beam_pipeline_args) if FLAGS.beam_pipeline_args
          else run_config.default_beam_pipeline_args(dataset)),
      eval_fraction=FLAGS.eval_fraction, voc_aug=FLAGS.voc_aug,
      skip_bad_examples=FLAGS.skip_bad_examples)


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
    raise ValueError(f'--output_dir={output_dir} is not writable: '
                     f'{e.strerror}') from e


def main(argv) -> int:
  del argv
  console.quiet_libraries()
  try:
    config = config_from_flags()
  except (ValueError, OSError) as e:
    return console.fail(str(e))
  if config.runner == 'vertex':
    return compile_for_vertex(config)
  console.log_to_file(os.path.join(config.output_dir, 'pipeline.log'))
  console.say(f'Pipeline {config.pipeline_name}: dataset {config.dataset}, '
              f'output {config.output_dir}')
  data_root = config.data_root
  if config.dataset == 'demo':
    from data import demo  # pylint: disable=g-import-not-at-top
    data_root = demo.generate_demo_project(config.data_root,
                                           num_images=FLAGS.demo_images)
    console.say(f'Demo dataset ready in {data_root}')
  console.say('Loading TFX (about 15 s)...')
  # pylint: disable=g-import-not-at-top
  from tfx import v1 as tfx
  from pipeline import pipeline as dag
  from pipeline import report
  from pipeline import summary
  # pylint: enable=g-import-not-at-top
  pipeline = dag.create_pipeline(config, data_root=data_root)
  tfx.orchestration.LocalDagRunner().run(pipeline)
  result = summary.collect(config, summary.metadata_store(config))
  if result['saved_model']:
    result['report'] = report.write_report(result, config.output_dir)
  path = summary.write(result, config.output_dir)
  console.say(summary.format_text(result))
  console.say(f'Report: {result.get("report")}')
  console.say(f'Run summary: {path}')
  return 0


def compile_for_vertex(config: run_config.RunConfig) -> int:
  """Writes the Vertex AI Pipelines JSON; running it is Vertex's job."""
  console.say('Loading TFX (about 15 s)...')
  # pylint: disable=g-import-not-at-top
  from pipeline import pipeline as dag
  from pipeline import vertex
  # pylint: enable=g-import-not-at-top
  path = os.path.abspath(FLAGS.vertex_pipeline_file)
  vertex.compile_pipeline(dag.create_pipeline(config), config.image, path)
  console.say(f'Vertex AI pipeline written to {path} (image {config.image}, '
              f'pipeline root {config.pipeline_root}); submit it as the '
              'README shows.')
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=console.parse_flags_or_exit)
