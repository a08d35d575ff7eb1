"""The Trainer component's module: `run_fn` fits and exports the model.

The step count comes from TFX's TrainArgs (`fn_args.train_steps`), the rest from
`fn_args.custom_config`, which `custom_config` below builds for the pipeline:
the ModelConfig, the TrainConfig's other fields, the class names and where
resume checkpoints go. Training resumes after a crash: checkpoints go to a
directory keyed by the configuration and the input data, which outlives the
failed Trainer execution (a rerun gets new artifact URIs, so the checkpoints
cannot live inside them). TensorBoard logs go to the model run artifact.

Distribution (components.distribution): run_fn takes its strategy from its
environment, so the same module trains on one device, several GPUs, or a
cluster of workers (TF_CONFIG); TrainConfig.batch_size is the global batch,
split across the replicas. Every worker runs the same steps, but only the
chief's checkpoints, logs and serving model are kept. The serving model is
a float32, single-device copy of the trained weights, so its SavedModel and
TFLite contracts do not depend on how it was trained (mixed precision,
synchronized BatchNorm, replicas).
"""

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras
from tfx.components.trainer.fn_args_utils import FnArgs

from components import distribution
from components import model_io
from components import parent_model
from components import signatures
from components import training_input
from model import builder
from model import layers as model_layers
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
  # First: a multi-worker strategy must set up this process's runtime
  # before any other TensorFlow op runs.
  strategy = distribution.make_strategy()
  tf_config = distribution.tf_config_from_env()
  chief = distribution.is_chief(tf_config)
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
    shard=distribution.worker_shard(tf_config),
  )
  model = build_training_model(model_config, train_config, strategy)
  if fn_args.base_model:
    # The parent arrives as the Trainer's base_model artifact (lineage).
    parent_model.initialize(
      model, parent_model.from_base_model(fn_args.base_model), custom['labels']
    )
  elif train_config.init_from:
    raise ValueError(
      f'init_from={train_config.init_from} but the Trainer has no '
      'base_model input: the pipeline must import the parent model'
    )
  resume_dir = os.path.join(
    custom['checkpoint_dir'], _run_key(model_config, train_config, fn_args)
  )
  logging.info(
    'Training %s for %d steps (global batch %d on %d replicas, %s%s)',
    _describe(model_config),
    train_config.train_steps,
    train_config.batch_size,
    strategy.num_replicas_in_sync,
    type(strategy).__name__,
    '' if chief else ', not the chief: its outputs are discarded',
  )
  fit(
    model,
    dataset,
    train_config,
    resume_dir,
    log_dir=os.path.join(fn_args.model_run_dir, 'logs'),
    chief=chief,
  )

  export = serving_copy(model, model_config)  # every worker: reads reduce
  if chief:
    model_io.save_serving_model(
      export,
      fn_args.serving_model_dir,
      model_config,
      custom['labels'],
      signatures.build_signatures(
        export, tf_transform_output, model_config.input_size
      ),
    )
    logging.info('Saved the serving model to %s', fn_args.serving_model_dir)
  if distribution.training_tasks(tf_config) > 1:
    # TFX's executor checks that the model exists when run_fn returns.
    distribution.barrier(strategy)


def build_training_model(
  model_config: ModelConfig,
  train_config: TrainConfig,
  strategy: Optional[tf.distribute.Strategy] = None,
) -> tf_keras.Model:
  """The model to train: under `strategy`, in its precision, its BatchNorm."""
  strategy = strategy or tf.distribute.get_strategy()
  with (
    strategy.scope(),
    _precision_policy(train_config.mixed_precision),
    model_layers.synchronized_batch_norm(train_config.sync_batchnorm),
  ):
    return builder.build_model(model_config)


def serving_copy(
  model: tf_keras.Model, model_config: ModelConfig
) -> tf_keras.Model:
  """The trained weights in a float32, single-device build of the config.

  Every worker of a multi-worker run must call it: reading the BatchNorm
  moving statistics averages them across replicas.
  """
  weights = model.get_weights()
  with _precision_policy(False):
    copy = builder.build_model(
      dataclasses.replace(model_config, backbone_weights=None)
    )
  copy.set_weights(weights)
  return copy


@contextlib.contextmanager
def _precision_policy(mixed: bool) -> Iterator[None]:
  """Keras' global dtype policy for the layers built inside."""
  previous = tf_keras.mixed_precision.global_policy()
  tf_keras.mixed_precision.set_global_policy(
    'mixed_float16' if mixed else 'float32'
  )
  try:
    yield
  finally:
    tf_keras.mixed_precision.set_global_policy(previous)


def fit(
  model: tf_keras.Model,
  dataset: tf.data.Dataset,
  config: TrainConfig,
  resume_dir: str,
  log_dir: str,
  callbacks=(),
  chief: bool = True,
) -> int:
  """Trains `model` up to config.train_steps, resuming from `resume_dir`.

  A checkpoint of the model and optimizer (step count included, so the poly
  schedule resumes too) is written to `resume_dir` at the end of every
  epoch (config.exact_steps_per_epoch steps). If one is there, training
  continues from it instead of step 0. The model trains under the strategy
  it was built in (build_training_model); `dataset` yields global batches.
  A worker that is not the chief resumes from `resume_dir` too, but writes
  its checkpoints and logs to temporary folders.

  With config.freeze_backbone_steps, the backbone is not trainable up to
  that step (a first Keras fit), then trainable (a second one); the
  optimizer carries its step count and slots across both.

  Returns:
    The step training started from (0 for a fresh run).
  """
  backbone = backbone_of(model)
  with model.distribute_strategy.scope():
    optimizer = make_optimizer(config, backbone.trainable_variables)
    _compile(model, optimizer, config)
    # Slot variables must exist (for every variable, the backbone's too)
    # before a restore can fill them.
    model.optimizer.build(model.trainable_variables)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
  latest = tf.train.latest_checkpoint(resume_dir)
  if latest:
    checkpoint.restore(latest).assert_existing_objects_matched()
  start = int(model.optimizer.iterations.numpy())
  steps_per_epoch = config.exact_steps_per_epoch
  if start:
    logging.info(
      'Resuming at step %d/%d from %s', start, config.train_steps, latest
    )
  else:
    logging.info(
      'Checkpoints every %d steps in %s', steps_per_epoch, resume_dir
    )
  progress = ProgressLogger(
    config.train_steps,
    steps_per_epoch,
    config.batch_size,
    learning_rate=poly_schedule(config),
  )
  with (
    distribution.chief_path(resume_dir, chief) as save_dir,
    distribution.chief_path(log_dir, chief) as logs,
  ):
    manager = tf.train.CheckpointManager(checkpoint, save_dir, max_to_keep=2)
    all_callbacks = [
      _SaveEveryEpoch(manager),
      tf_keras.callbacks.TensorBoard(log_dir=logs, update_freq='epoch'),
      progress,
      *callbacks,
    ]
    thaw = config.freeze_backbone_steps
    for first, last, frozen in (
      (start, thaw, True),
      (max(start, thaw), config.train_steps, False),
    ):
      if first >= last:
        continue
      if frozen or not backbone.trainable:
        backbone.trainable = not frozen
        logging.info(
          '%s the backbone from step %d',
          'Freezing' if frozen else 'Training',
          first,
        )
        with model.distribute_strategy.scope():
          _compile(model, model.optimizer, config)  # Sees `trainable`.
      model.fit(
        dataset,
        initial_epoch=first // steps_per_epoch,
        epochs=last // steps_per_epoch,
        steps_per_epoch=steps_per_epoch,
        verbose=0,
        callbacks=all_callbacks,
      )
  if chief:
    # A rerun that resumes at the last step trains no epoch, so the
    # TensorBoard callback has not made the folder.
    tf.io.gfile.makedirs(log_dir)
    with tf.io.gfile.GFile(os.path.join(log_dir, THROUGHPUT_FILE), 'w') as f:
      f.write(
        json.dumps(
          {
            'images_per_second': progress.steady_images_per_second,
            'batch_size': config.batch_size,
            'replicas': model.distribute_strategy.num_replicas_in_sync,
            'start_step': start,
            'train_steps': config.train_steps,
          }
        )
      )
  return start


def backbone_of(model: tf_keras.Model) -> tf_keras.Model:
  """The backbone of a model.builder model: its one nested Keras model."""
  nested = [
    layer for layer in model.layers if isinstance(layer, tf_keras.Model)
  ]
  if len(nested) != 1:
    raise ValueError(
      f'{model.name}: {len(nested)} nested models; a model.builder model '
      'has exactly one, its backbone'
    )
  return nested[0]


def _compile(model, optimizer, config: TrainConfig) -> None:
  model.compile(
    optimizer=optimizer,
    loss=losses.masked_sparse_cross_entropy,
    jit_compile=config.jit_compile,
  )


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
  """DeepLab's poly schedule: lr * (1 - step / train_steps) ** power.

  lr is config.learning_rate: base_lr, linearly scaled to the global batch
  when config.lr_reference_batch is set.
  """
  return tf_keras.optimizers.schedules.PolynomialDecay(
    config.learning_rate,
    decay_steps=config.train_steps,
    end_learning_rate=0.0,
    power=config.lr_power,
  )


def make_optimizer(
  config: TrainConfig, backbone_variables: Sequence[tf.Variable] = ()
) -> tf_keras.optimizers.Optimizer:
  """Momentum SGD (as DeepLab trains) or Adam, on the poly schedule.

  With config.backbone_lr_multiplier other than 1, `backbone_variables`
  move at that multiple of the learning rate. With mixed precision, wrapped
  in dynamic loss scaling: float16 gradients of small losses would
  underflow to zero otherwise.
  """
  schedule = poly_schedule(config)
  decay = config.weight_decay or None
  if config.optimizer == 'adam':
    kind, options = tf_keras.optimizers.Adam, {}
  else:
    kind, options = tf_keras.optimizers.SGD, {'momentum': config.momentum}
  if config.backbone_lr_multiplier != 1.0:
    if not backbone_variables:
      raise ValueError(
        f'backbone_lr_multiplier={config.backbone_lr_multiplier} needs '
        'the backbone variables'
      )
    kind = _scaled_for(kind, config.backbone_lr_multiplier, backbone_variables)
  optimizer = kind(schedule, weight_decay=decay, **options)
  if config.mixed_precision:
    return tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
  return optimizer


def _scaled_for(
  kind: type, multiplier: float, variables: Sequence[tf.Variable]
) -> type:
  """`kind` with its step on `variables` scaled by `multiplier`.

  SGD with momentum and Adam are linear in the learning rate, so scaling
  a variable's update (new - old) scales its learning rate exactly, and
  the moment estimates stay those of the unscaled optimizer. Keras's weight
  decay is proportional to the learning rate too, but applied to every
  variable before the updates; the scaled variables' decay moves into
  their update, so it is scaled with it (a backbone at multiplier 0 stays
  as it was).
  """

  class ScaledOnBackbone(kind):
    """Per-variable learning rate: the backbone's is scaled."""

    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      self._scaled_keys = {self._var_key(v) for v in variables}

    def _apply_weight_decay(self, variables):
      super()._apply_weight_decay(
        [v for v in variables if self._var_key(v) not in self._scaled_keys]
      )

    def update_step(self, gradient, variable):
      if self._var_key(variable) not in self._scaled_keys:
        return super().update_step(gradient, variable)
      before = tf.identity(variable)
      if self.weight_decay is not None and self._use_weight_decay(variable):
        decay = tf.cast(self.weight_decay * self.learning_rate, variable.dtype)
        variable.assign_sub(variable * decay)
      super().update_step(gradient, variable)
      variable.assign(before + multiplier * (variable - before))
      return None

  ScaledOnBackbone.__name__ = kind.__name__
  return ScaledOnBackbone


class ProgressLogger(tf_keras.callbacks.Callback):
  """One line per epoch: step, loss, learning rate and throughput.

  Also sums the time of every epoch but the first (which includes tracing
  the graph) for `steady_images_per_second`. `learning_rate(step)` gives
  the logged rate (the optimizer's own is a distributed value under a
  multi-worker strategy, which float() cannot read).
  """

  def __init__(
    self,
    train_steps: int,
    steps_per_epoch: int,
    batch_size: int,
    learning_rate: Callable[[int], Any],
  ):
    super().__init__()
    self._learning_rate = learning_rate
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
    learning_rate = self._learning_rate(step)
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
      'base_model': fn_args.base_model,
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
