"""Training speed inside the TFX Trainer vs a bare tf_keras fit, same input.

  .venv/bin/python bench/train_throughput.py [--steps=300] [--input_size=256]

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

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

from components import training
from components import training_input
from data import demo
from data import labels
from model import builder
from model import losses
from pipeline import config as run_config
from pipeline import pipeline as dag
from pipeline import summary

flags.DEFINE_integer('steps', 300, 'Training steps of each run.')
flags.DEFINE_integer('input_size', 256, 'Model input size.')
flags.DEFINE_integer('batch_size', 8, 'Batch size.')
flags.DEFINE_integer('demo_images', 120, 'Demo images to train on.')
FLAGS = flags.FLAGS


def main(_):
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

  outputs, _ = summary.latest_run_outputs(
    summary.metadata_store(config), config.pipeline_name
  )
  model_run = outputs[('Trainer', 'model_run')].uri
  with tf.io.gfile.GFile(
    os.path.join(model_run, 'logs', training.THROUGHPUT_FILE)
  ) as f:
    in_tfx = json.load(f)['images_per_second']

  transform_graph = outputs[('Transform', 'transform_graph')].uri
  transformed = outputs[('Transform', 'transformed_examples')].uri
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
