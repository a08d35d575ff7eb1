"""components.training.run_fn, the Trainer's entry, called as TFX calls it.

The fast set's check of what run_fn wires together: the FnArgs and
custom_config it gets, the parent it starts from, the resume directory a
rerun of the same inputs finds, and the serving model it hands to
model_io. Writing that SavedModel (30 s for a MobileNet: its Keras call
traces) is left to model_io's tests and the slow end-to-end run; here the
call is recorded instead, with everything it would write.

One module fixture runs run_fn twice on the Transform output of
tests/conftest.py, starting from the untrained 32 px parent: a first run of
2 steps, then a rerun of the same inputs with new output folders, as TFX
reruns a failed Trainer.
"""

import contextlib
import dataclasses
import json
import logging
import os

from absl import logging as absl_logging
import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components import distribution
from components import model_io
from components import signatures
from components import training
from components import training_input
from model.config import ModelConfig
from model.config import TrainConfig

LABELS = ['background', 'person']
# The untrained_parent fixture's architecture (tests/conftest.py).
MODEL = ModelConfig(depth_multiplier=0.5, input_size=32, decoder=False)
# Scales off the defaults, so that each is seen reaching the input pipeline.
TRAIN = TrainConfig(
  train_steps=999,  # not used: the step count is fn_args.train_steps
  batch_size=4,
  base_lr=0.01,
  steps_per_epoch=1,
  min_scale=0.75,
  max_scale=1.25,
)
# One checkpoint per step (steps_per_epoch=1): the first is deleted.
STEPS = 3


class _Records(logging.Handler):
  """The messages of the log records it is handed, in order."""

  def __init__(self):
    super().__init__(logging.INFO)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


@contextlib.contextmanager
def _absl_log():
  """The messages absl logs at INFO and above while the block runs."""
  records = _Records()
  logger = absl_logging.get_absl_logger()
  level = logger.level
  logger.setLevel(logging.INFO)
  logger.addHandler(records)
  try:
    yield records.messages
  finally:
    logger.removeHandler(records)
    logger.setLevel(level)


def _record_run_fn_calls(patch, record, fit):
  """Patches what run_fn hands its work to: `fit` stands in for
  training.fit; the input pipeline (still real), the serving export and the
  barrier are recorded into the dict record() returns, under
  'make_dataset' (args, kwargs), 'saved' (each export's args) and
  'barrier' (the strategy waited under)."""
  real_make_dataset = training_input.make_dataset

  def make_dataset(*args, **kwargs):
    record()['make_dataset'] = (args, kwargs)
    return real_make_dataset(*args, **kwargs)

  def save_serving_model(*args):
    record().setdefault('saved', []).append(args)

  def barrier(strategy):
    record()['barrier'] = strategy

  patch.setattr(training, 'fit', fit)
  patch.setattr(training_input, 'make_dataset', make_dataset)
  patch.setattr(model_io, 'save_serving_model', save_serving_model)
  patch.setattr(distribution, 'barrier', barrier)


def _fn_args(root, run, transform_output, base_model):
  graph_dir, train_files = transform_output
  return FnArgs(
    train_files=[train_files],
    transform_output=graph_dir,
    serving_model_dir=os.path.join(root, run, 'serving_model'),
    model_run_dir=os.path.join(root, run, 'model_run'),
    train_steps=STEPS,
    base_model=base_model,
    custom_config=training.custom_config(
      MODEL, TRAIN, LABELS, os.path.join(root, 'checkpoints')
    ),
  )


@pytest.fixture(scope='module')
def runs(tmp_path_factory, transform_output, untrained_parent):
  """{'first', 'rerun'}: each run's fn_args and what run_fn passed on."""
  root = str(tmp_path_factory.mktemp('run_fn'))
  base_model = os.path.join(untrained_parent, 'Format-Serving')
  calls = {}
  real_fit = training.fit

  def fit(model, dataset, config, resume_dir, log_dir, **kwargs):
    call = calls[run]
    call['weights_at_start'] = model.get_weights()
    call['fit'] = dict(
      dataset=dataset,
      config=config,
      resume_dir=resume_dir,
      log_dir=log_dir,
      **kwargs,
    )
    call['start'] = real_fit(
      model, dataset, config, resume_dir, log_dir, **kwargs
    )
    call['trained_weights'] = model.get_weights()
    return call['start']

  with _absl_log() as log, pytest.MonkeyPatch.context() as patch:
    _record_run_fn_calls(patch, lambda: calls[run], fit)
    for run in ('first', 'rerun'):
      fn_args = _fn_args(root, run, transform_output, base_model)
      calls[run] = {'fn_args': fn_args}
      start = len(log)
      training.tf_keras.utils.set_random_seed(0)
      training.run_fn(fn_args)
      calls[run]['log'] = log[start:]
  parent, _, _ = model_io.load_keras_model(base_model)
  calls['parent_weights'] = parent.get_weights()
  return calls


def _assert_weights_equal(actual, expected):
  assert len(actual) == len(expected) > 100
  for a, e in zip(actual, expected, strict=True):
    np.testing.assert_array_equal(a, e)


def test_training_starts_from_the_base_model(runs):
  _assert_weights_equal(
    runs['first']['weights_at_start'], runs['parent_weights']
  )


def test_the_train_config_is_custom_config_with_the_steps_of_train_args(runs):
  assert runs['first']['fit']['config'] == dataclasses.replace(
    TRAIN, train_steps=STEPS
  )


def test_the_input_is_the_transformed_split_at_the_models_size(
  runs, transform_output
):
  graph_dir, train_files = transform_output
  args, kwargs = runs['first']['make_dataset']
  assert args[0] == [train_files]
  assert os.path.dirname(args[1].transform_savedmodel_dir) == graph_dir
  assert args[2:] == (MODEL.input_size, TRAIN.batch_size)
  assert kwargs == {
    'augment': True,
    'min_scale': 0.75,
    'max_scale': 1.25,
    'shard': (1, 0),  # one process reads every record
  }
  assert runs['first']['fit']['dataset'].element_spec == (
    tf.TensorSpec([4, 32, 32, 3], tf.float32),
    tf.TensorSpec([4, 32, 32, 1], tf.uint8),
  )


def test_checkpoints_and_logs_go_where_a_rerun_finds_them(runs):
  first = runs['first']
  fn_args = first['fn_args']
  config = first['fit']['config']
  key = training._run_key(MODEL, config, fn_args)
  checkpoints = fn_args.custom_config['checkpoint_dir']
  assert first['fit']['resume_dir'] == os.path.join(checkpoints, key)
  assert os.listdir(checkpoints) == [key]
  # The last two are kept: a full run writes one per epoch.
  kept = tf.train.get_checkpoint_state(os.path.join(checkpoints, key))
  assert [os.path.basename(p) for p in kept.all_model_checkpoint_paths] == [
    f'ckpt-{STEPS - 1}',
    f'ckpt-{STEPS}',
  ]
  assert kept.model_checkpoint_path.endswith(f'ckpt-{STEPS}')
  logs = os.path.join(fn_args.model_run_dir, 'logs')
  assert first['fit']['log_dir'] == logs
  assert sorted(os.listdir(logs)) == [training.THROUGHPUT_FILE, 'train']
  assert first['fit']['chief'] is True
  assert first['start'] == 0


def test_a_rerun_of_the_same_inputs_resumes_and_exports_the_same_weights(
  runs,
):
  first, rerun = runs['first'], runs['rerun']
  assert rerun['fit']['resume_dir'] == first['fit']['resume_dir']
  assert rerun['start'] == STEPS  # nothing left to train
  resume_dir = first['fit']['resume_dir']
  assert f'Checkpoints every 1 steps in {resume_dir}' in first['log']
  checkpoint = os.path.join(resume_dir, f'ckpt-{STEPS}')
  assert f'Resuming at step {STEPS}/{STEPS} from {checkpoint}' in rerun['log']
  _assert_weights_equal(rerun['trained_weights'], first['trained_weights'])
  _assert_weights_equal(
    rerun['saved'][0][0].get_weights(), first['trained_weights']
  )


def test_the_chief_hands_model_io_the_serving_copy_and_its_signatures(runs):
  first = runs['first']
  (saved,) = first['saved']
  export, serving_dir, config, labels, serving_signatures = saved
  assert serving_dir == first['fn_args'].serving_model_dir
  assert config == MODEL
  assert labels == LABELS
  _assert_weights_equal(export.get_weights(), first['trained_weights'])
  assert sorted(serving_signatures) == [
    signatures.SERVING_DEFAULT,
    signatures.SERVING_IMAGES,
  ]
  default = serving_signatures[signatures.SERVING_DEFAULT]
  assert default.structured_outputs['class_ids'].shape.as_list() == [
    None,
    MODEL.input_size,
    MODEL.input_size,
  ]
  # The signatures compute with the serving copy, not the training model.
  export_variables = {id(v) for v in export.variables}
  for function in serving_signatures.values():
    captured = {id(v) for v in function.variables}
    assert captured and captured <= export_variables


def test_one_process_waits_at_no_barrier(runs):
  assert 'barrier' not in runs['first']
  assert 'barrier' not in runs['rerun']


def test_the_log_names_the_run(runs):
  log = runs['first']['log']
  assert (
    'Training mobilenet_v2 x0.5 deeplabv3plus OS16 32px no-aspp no-decoder '
    f'for {STEPS} steps (global batch 4 on 1 replicas, '
    '_DefaultDistributionStrategy)'
  ) in log
  serving_dir = runs['first']['fn_args'].serving_model_dir
  assert f'Saved the serving model to {serving_dir}' in log
  # Without freeze_backbone_steps no phase freezes or thaws the backbone.
  for run in ('first', 'rerun'):
    assert not [m for m in runs[run]['log'] if 'the backbone from' in m]


def test_init_from_without_a_base_model_input_is_refused(
  tmp_path, transform_output
):
  fn_args = _fn_args(str(tmp_path), 'run', transform_output, None)
  fn_args.custom_config['train']['init_from'] = '/models/people/3'
  with pytest.raises(ValueError) as raised:
    training.run_fn(fn_args)
  assert str(raised.value) == (
    'init_from=/models/people/3 but the Trainer has no base_model input: '
    'the pipeline must import the parent model'
  )


def test_a_worker_that_is_not_the_chief_trains_its_shard_under_the_strategy(
  tmp_path, transform_output, monkeypatch
):
  """Worker 1 of 2 (TF_CONFIG): its model is built under the strategy
  run_fn made (outside its scope each worker would train its own copy), it
  reads its half of the records, fit and the log know it is not the chief,
  and it saves nothing but waits at the barrier for the chief's export.
  One-device MirroredStrategy stands in for the multi-worker one, whose
  collectives need the other worker; fit only records what it is handed."""
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps(
      {
        'cluster': {'worker': ['127.0.0.1:1', '127.0.0.1:2']},
        'task': {'type': 'worker', 'index': 1},
      }
    ),
  )
  strategy = tf.distribute.MirroredStrategy(['/cpu:0'])
  monkeypatch.setattr(distribution, 'make_strategy', lambda: strategy)
  handed = {}

  def fit(model, *args, chief, **kwargs):
    handed.update(model=model, chief=chief)
    return 0

  _record_run_fn_calls(monkeypatch, lambda: handed, fit)
  with _absl_log() as log:
    training.run_fn(_fn_args(str(tmp_path), 'run', transform_output, None))
  assert handed['make_dataset'][1]['shard'] == (2, 1)
  assert handed['chief'] is False
  assert handed['model'].distribute_strategy is strategy
  assert all(
    isinstance(v, tf.distribute.DistributedValues)
    for v in handed['model'].variables
  )
  assert (
    'Training mobilenet_v2 x0.5 deeplabv3plus OS16 32px no-aspp no-decoder '
    f'for {STEPS} steps (global batch 4 on 1 replicas, MirroredStrategy, '
    'not the chief: its outputs are discarded)'
  ) in log
  assert 'saved' not in handed
  assert handed['barrier'] is strategy
