"""Training speed: in the TFX Trainer vs a bare fit; one device vs several.

  .venv/bin/python bench/train_throughput.py [--steps=300] [--input_size=256]
  .venv/bin/python bench/train_throughput.py --strategy=compare \
      [--steps=60] [--input_size=128]

--strategy=compare measures components.training.fit (the Trainer's own
loop) at the same global batch under three strategies, each in a fresh
process: one device; MirroredStrategy over two logical CPU devices; and
MultiWorkerMirroredStrategy over two local worker processes (TF_CONFIG on
127.0.0.1). It feeds a fixed set of random images (throughput does not
depend on content) and prints their steady-state images/s (global) and
ratios to one device, as one JSON object.

Without --strategy:

Runs the pipeline (pipeline.pipeline.create_pipeline, cache off) on the demo
data with LocalDagRunner, then, in the same process, fits a fresh model
of the same config on the same transformed files with the same tf.data input
(components.training_input), optimizer and loss, with a plain
`model.fit` and no TFX, checkpoints or TensorBoard. Both figures are
steady-state images/s (the first epoch, which traces the graph, is left out).
Prints one JSON object; docs/training.md records the result.
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from data import cli_env

cli_env.quiet_unless_verbose()

# pylint: disable=g-import-not-at-top,wrong-import-position
import subprocess

from absl import app
from absl import flags

flags.DEFINE_integer('steps', 300, 'Training steps of each run.')
flags.DEFINE_bool('verbose', False, cli_env.VERBOSE_HELP)
flags.DEFINE_integer('input_size', 256, 'Model input size.')
flags.DEFINE_integer('batch_size', 8, 'Batch size (global).')
flags.DEFINE_integer('demo_images', 120, 'Demo images to train on.')
flags.DEFINE_enum(
  'strategy',
  None,
  ('compare',),
  'compare: one device vs two logical devices vs two local workers.',
)
flags.DEFINE_enum(
  'measure',
  None,
  ('one', 'mirrored', 'workers'),
  'Internal: one measurement of --strategy=compare, in this process.',
)
FLAGS = flags.FLAGS
_KINDS = ('one', 'mirrored', 'workers')


def main(argv):
  if FLAGS.measure:
    return measure(FLAGS.measure)
  if FLAGS.strategy == 'compare':
    return compare_strategies()
  return tfx_against_bare_fit(argv)


def compare_strategies() -> None:
  """Runs each strategy in fresh processes and prints the ratios."""
  rates = {}
  for kind in _KINDS:
    if kind == 'workers':
      from components import distribution

      cluster = distribution.local_cluster(worker=2)
      runs = [
        _start(
          kind, {'cluster': cluster, 'task': {'type': 'worker', 'index': i}}
        )
        for i in range(2)
      ]
    else:
      runs = [_start(kind, None)]
    outputs = [run.communicate(timeout=1800)[0] for run in runs]
    for run, out in zip(runs, outputs, strict=True):
      if run.returncode:
        raise RuntimeError(f'{kind} failed:\n{out[-3000:]}')
    line = next(
      x for x in outputs[0].splitlines() if x.startswith('IMAGES_PER_SECOND ')
    )
    rates[kind] = float(line.split()[1])
  print(
    json.dumps(
      {
        'input_size': FLAGS.input_size,
        'steps': FLAGS.steps,
        'global_batch': FLAGS.batch_size,
        'images_per_second': {k: round(v, 2) for k, v in rates.items()},
        'ratio_to_one_device': {
          k: round(v / rates['one'], 3) for k, v in rates.items()
        },
      }
    )
  )


def _start(kind: str, tf_config) -> subprocess.Popen:
  env = dict(os.environ)
  if tf_config:
    env['TF_CONFIG'] = json.dumps(tf_config)
  return subprocess.Popen(
    [
      sys.executable,
      os.path.abspath(__file__),
      f'--measure={kind}',
      f'--steps={FLAGS.steps}',
      f'--input_size={FLAGS.input_size}',
      f'--batch_size={FLAGS.batch_size}',
    ],
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
  )


def measure(kind: str) -> None:
  """Trains with one strategy and prints the chief's steady images/s."""
  import tensorflow as tf

  if kind == 'mirrored':
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
  from components import distribution
  from components import training
  from model.config import ModelConfig
  from model.config import TrainConfig

  strategy = (
    tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    if kind == 'mirrored'
    else distribution.make_strategy()
  )
  chief = distribution.is_chief(distribution.tf_config_from_env())
  size = FLAGS.input_size
  model_config = ModelConfig(
    depth_multiplier=0.5, quant_friendly=True, input_size=size
  )
  config = TrainConfig(
    train_steps=FLAGS.steps,
    batch_size=FLAGS.batch_size,
    base_lr=0.002,
    optimizer='adam',
    weight_decay=0.0,
    steps_per_epoch=10,
  )
  tf.random.set_seed(0)
  images = tf.random.uniform([64, size, size, 3], 0, 255)
  masks = tf.cast(
    tf.random.uniform([64, size, size, 1], 0, 2, tf.int32), tf.uint8
  )
  dataset = (
    tf.data.Dataset.from_tensor_slices((images, masks))
    .repeat()
    .batch(FLAGS.batch_size, drop_remainder=True)
  )
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
    tf.data.experimental.AutoShardPolicy.DATA
  )
  dataset = dataset.with_options(options)
  model = training.build_training_model(model_config, config, strategy)
  work = tempfile.mkdtemp(prefix=f'strategy-{kind}-')
  training.fit(
    model,
    dataset,
    config,
    os.path.join(work, 'resume'),
    os.path.join(work, 'logs'),
    chief=chief,
  )
  if chief:
    with open(os.path.join(work, 'logs', training.THROUGHPUT_FILE)) as f:
      rate = json.load(f)['images_per_second']
    print(f'IMAGES_PER_SECOND {rate}')


def tfx_against_bare_fit(argv) -> None:
  """The Trainer inside TFX against a bare fit of the same input."""
  del argv
  import tensorflow as tf
  import tensorflow_transform as tft
  from tfx import v1 as tfx

  from components import artifacts
  from components import training
  from components import training_input
  from data import demo
  from data import labels
  from model import builder
  from model import losses
  from pipeline import config as run_config
  from pipeline import pipeline as dag
  from pipeline import summary

  work = tempfile.mkdtemp(prefix='train_throughput-')
  config = run_config.build_run_config(
    'demo',
    dataset='demo',
    data_root=os.path.join(work, 'demo_data'),
    output_dir=work,
    labels=labels.PEOPLE_CLASSES,
    overrides={
      'model': {'input_size': FLAGS.input_size},
      'train': {
        'train_steps': FLAGS.steps,
        'batch_size': FLAGS.batch_size,
        'steps_per_epoch': 50,
      },
    },
    beam_pipeline_args=run_config.default_beam_pipeline_args('demo'),
  )
  demo.generate_demo_project(config.data_root, FLAGS.demo_images)
  pipeline = dag.create_pipeline(config)
  pipeline.enable_cache = False
  tfx.orchestration.LocalDagRunner().run(pipeline)

  outputs = summary.latest_run_outputs(
    summary.metadata_store(config), config.pipeline_name
  )
  model_run = outputs.uri(artifacts.TRAINER, 'model_run')
  with tf.io.gfile.GFile(
    os.path.join(model_run, 'logs', training.THROUGHPUT_FILE)
  ) as f:
    in_tfx = json.load(f)['images_per_second']

  transform_graph = outputs.uri(artifacts.TRANSFORM, 'transform_graph')
  transformed = outputs.uri(artifacts.TRANSFORM, 'transformed_examples')
  dataset = training_input.make_dataset(
    [os.path.join(transformed, 'Split-train', '*')],
    tft.TFTransformOutput(transform_graph),
    config.model.input_size,
    config.train.batch_size,
    augment=config.train.augment,
    min_scale=config.train.min_scale,
    max_scale=config.train.max_scale,
  )
  model = builder.build_model(config.model)
  model.compile(
    optimizer=training.make_optimizer(config.train),
    loss=losses.masked_sparse_cross_entropy,
  )
  steps_per_epoch = config.train.exact_steps_per_epoch
  progress = training.ProgressLogger(
    config.train.train_steps,
    steps_per_epoch,
    config.train.batch_size,
    learning_rate=training.poly_schedule(config.train),
  )
  model.fit(
    dataset,
    epochs=config.train.train_steps // steps_per_epoch,
    steps_per_epoch=steps_per_epoch,
    callbacks=[progress],
    verbose=0,
  )
  bare = progress.steady_images_per_second
  print(
    json.dumps(
      {
        'input_size': config.model.input_size,
        'steps': FLAGS.steps,
        'batch_size': FLAGS.batch_size,
        'tfx_trainer_images_per_second': round(in_tfx, 2),
        'bare_fit_images_per_second': round(bare, 2),
        'ratio': round(in_tfx / bare, 3),
      }
    )
  )


if __name__ == '__main__':
  app.run(main)
