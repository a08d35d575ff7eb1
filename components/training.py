"""The Trainer component's module: `run_fn` fits and exports the model.

The step count comes from TFX's TrainArgs (`fn_args.train_steps`), the rest from
`fn_args.custom_config`, which `custom_config` below builds for the pipeline:
the ModelConfig, the TrainConfig's other fields, the class names and where
resume checkpoints go. Training resumes after a crash: checkpoints go to a
directory keyed by the configuration and the input data, which outlives the
failed Trainer execution (a rerun gets new artifact URIs, so the checkpoints
cannot live inside them). TensorBoard logs go to the model run artifact.
"""

import dataclasses
import hashlib
import json
import math
import os
import time
from typing import Any, Dict, Optional, Sequence

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras
from tfx.components.trainer.fn_args_utils import FnArgs

from components import model_io
from components import signatures
from components import training_input
from model import builder
from model import losses
from model.config import ModelConfig
from model.config import TrainConfig

# Written into the TensorBoard log folder of the model run: steady-state
# training speed (bench/train_throughput.py reads it).
THROUGHPUT_FILE = 'throughput.json'


def custom_config(
  model_config: ModelConfig,
  train_config: TrainConfig,
  labels: Sequence[str],
  checkpoint_dir: str,
) -> Dict[str, Any]:
  """The Trainer's custom_config: plain JSON-able values only.

  train_config.train_steps is left out: the pipeline passes it as
  TrainArgs(num_steps=...), TFX's own place for it.
  """
  train = dataclasses.asdict(train_config)
  del train['train_steps']
  return {
    'model': model_config.to_dict(),
    'train': train,
    'labels': list(labels),
    'checkpoint_dir': checkpoint_dir,
  }


def run_fn(fn_args: FnArgs) -> None:
  """Trains on the transformed train split and saves the serving model."""
  custom = fn_args.custom_config
  model_config = ModelConfig.from_dict(custom['model'])
  train_config = TrainConfig(train_steps=fn_args.train_steps, **custom['train'])
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

  dataset = training_input.make_dataset(
    fn_args.train_files,
    tf_transform_output,
    model_config.input_size,
    train_config.batch_size,
    augment=train_config.augment,
    min_scale=train_config.min_scale,
    max_scale=train_config.max_scale,
  )
  model = builder.build_model(model_config)
  resume_dir = os.path.join(
    custom['checkpoint_dir'], _run_key(model_config, train_config, fn_args)
  )
  logging.info(
    'Training %s for %d steps (batch %d)',
    _describe(model_config),
    train_config.train_steps,
    train_config.batch_size,
  )
  fit(
    model,
    dataset,
    train_config,
    resume_dir,
    log_dir=os.path.join(fn_args.model_run_dir, 'logs'),
  )

  model_io.save_serving_model(
    model,
    fn_args.serving_model_dir,
    model_config,
    custom['labels'],
    signatures.build_signatures(
      model, tf_transform_output, model_config.input_size
    ),
  )
  logging.info('Saved the serving model to %s', fn_args.serving_model_dir)


def fit(
  model: tf_keras.Model,
  dataset: tf.data.Dataset,
  config: TrainConfig,
  resume_dir: str,
  log_dir: str,
  callbacks=(),
) -> int:
  """Trains `model` up to config.train_steps, resuming from `resume_dir`.

  A checkpoint of the model and optimizer (step count included, so the poly
  schedule resumes too) is written to `resume_dir` at the end of every
  epoch (config.exact_steps_per_epoch steps). If one is there, training
  continues from it instead of step 0.

  Returns:
    The step training started from (0 for a fresh run).
  """
  model.compile(
    optimizer=make_optimizer(config), loss=losses.masked_sparse_cross_entropy
  )
  # Slot variables must exist before a restore can fill them.
  model.optimizer.build(model.trainable_variables)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
  manager = tf.train.CheckpointManager(checkpoint, resume_dir, max_to_keep=2)
  if manager.latest_checkpoint:
    checkpoint.restore(
      manager.latest_checkpoint
    ).assert_existing_objects_matched()
  start = int(model.optimizer.iterations.numpy())
  steps_per_epoch = config.exact_steps_per_epoch
  if start:
    logging.info(
      'Resuming at step %d/%d from %s',
      start,
      config.train_steps,
      manager.latest_checkpoint,
    )
  else:
    logging.info(
      'Checkpoints every %d steps in %s', steps_per_epoch, resume_dir
    )
  progress = ProgressLogger(
    config.train_steps, steps_per_epoch, config.batch_size
  )
  model.fit(
    dataset,
    initial_epoch=start // steps_per_epoch,
    epochs=config.train_steps // steps_per_epoch,
    steps_per_epoch=steps_per_epoch,
    verbose=0,
    callbacks=[
      _SaveEveryEpoch(manager),
      tf_keras.callbacks.TensorBoard(log_dir=log_dir, update_freq='epoch'),
      progress,
      *callbacks,
    ],
  )
  with tf.io.gfile.GFile(os.path.join(log_dir, THROUGHPUT_FILE), 'w') as f:
    f.write(
      json.dumps(
        {
          'images_per_second': progress.steady_images_per_second,
          'batch_size': config.batch_size,
          'start_step': start,
          'train_steps': config.train_steps,
        }
      )
    )
  return start


class _SaveEveryEpoch(tf_keras.callbacks.Callback):
  """Writes the resume checkpoint at the end of every (logging) epoch."""

  def __init__(self, manager: tf.train.CheckpointManager):
    super().__init__()
    self._manager = manager

  def on_epoch_end(self, epoch, logs=None):
    self._manager.save(
      checkpoint_number=int(self.model.optimizer.iterations.numpy())
    )


def poly_schedule(
  config: TrainConfig,
) -> tf_keras.optimizers.schedules.LearningRateSchedule:
  """DeepLab's poly schedule: base_lr * (1 - step / train_steps) ** power."""
  return tf_keras.optimizers.schedules.PolynomialDecay(
    config.base_lr,
    decay_steps=config.train_steps,
    end_learning_rate=0.0,
    power=config.lr_power,
  )


def make_optimizer(config: TrainConfig) -> tf_keras.optimizers.Optimizer:
  """Momentum SGD (as DeepLab trains) or Adam, on the poly schedule."""
  schedule = poly_schedule(config)
  decay = config.weight_decay or None
  if config.optimizer == 'adam':
    return tf_keras.optimizers.Adam(schedule, weight_decay=decay)
  return tf_keras.optimizers.SGD(
    schedule, momentum=config.momentum, weight_decay=decay
  )


class ProgressLogger(tf_keras.callbacks.Callback):
  """One line per epoch: step, loss, learning rate and throughput.

  Also sums the time of every epoch but the first (which includes tracing
  the graph) for `steady_images_per_second`.
  """

  def __init__(self, train_steps: int, steps_per_epoch: int, batch_size: int):
    super().__init__()
    self._train_steps = train_steps
    self._steps_per_epoch = steps_per_epoch
    self._batch_size = batch_size
    self._started = None
    self._epochs_seen = 0
    self._steady_seconds = 0.0
    self._steady_images = 0

  @property
  def steady_images_per_second(self) -> Optional[float]:
    if not self._steady_seconds:
      return None
    return self._steady_images / self._steady_seconds

  def on_epoch_begin(self, epoch, logs=None):
    self._started = time.monotonic()

  def on_epoch_end(self, epoch, logs=None):
    seconds = time.monotonic() - self._started
    self._epochs_seen += 1
    if self._epochs_seen > 1:
      self._steady_seconds += seconds
      self._steady_images += self._steps_per_epoch * self._batch_size
    step = (epoch + 1) * self._steps_per_epoch
    learning_rate = self.model.optimizer.learning_rate  # current value
    logging.info(
      'step %d/%d  loss %.4f  lr %.2e  %.1f images/s',
      step,
      self._train_steps,
      (logs or {}).get('loss', math.nan),
      float(learning_rate),
      self._steps_per_epoch * self._batch_size / seconds,
    )


def _run_key(
  model_config: ModelConfig, train_config: TrainConfig, fn_args: FnArgs
) -> str:
  """Same configuration and same input data -> same resume directory."""
  identity = json.dumps(
    {
      'model': model_config.to_dict(),
      'train': dataclasses.asdict(train_config),
      'transform_output': fn_args.transform_output,
      'train_files': sorted(fn_args.train_files),
    },
    sort_keys=True,
  )
  return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _describe(config: ModelConfig) -> str:
  parts = [
    config.backbone,
    f'x{config.depth_multiplier}',
    config.head,
    f'OS{config.output_stride}',
    f'{config.input_size}px',
  ]
  if config.head == 'deeplabv3plus':
    parts += [
      'aspp' if config.aspp else 'no-aspp',
      'decoder' if config.decoder else 'no-decoder',
    ]
  return ' '.join(parts)
