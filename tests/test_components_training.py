"""components.training: schedule, loss going down on demo data, resume."""

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components import distribution
from components import training
from model import builder
from model.config import ModelConfig
from model.config import TrainConfig
from tests.fixtures import demo_batches

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 32
MODEL = ModelConfig(depth_multiplier=0.5, input_size=SIZE, decoder=False)


def test_custom_config_leaves_the_step_count_to_train_args():
  train = TrainConfig(train_steps=123, batch_size=4, optimizer='adam')
  custom = training.custom_config(MODEL, train, ['bg', 'fg'], '/ckpt')
  assert custom == {
    'model': MODEL.to_dict(),
    'train': {
      k: v for k, v in dataclasses.asdict(train).items() if k != 'train_steps'
    },
    'labels': ['bg', 'fg'],
    'checkpoint_dir': '/ckpt',
  }
  # What run_fn rebuilds from it and fn_args.train_steps.
  assert TrainConfig(train_steps=123, **custom['train']) == train
  assert json.loads(json.dumps(custom)) == custom


@pytest.mark.parametrize('name', ['sgd', 'adam'])
def test_poly_schedule_as_deeplab(name):
  config = TrainConfig(train_steps=100, base_lr=0.01, optimizer=name)
  schedule = training.poly_schedule(config)
  for step in (0, 50, 99, 100):
    assert float(schedule(step)) == pytest.approx(
      0.01 * (1 - step / 100) ** 0.9, abs=1e-9
    )
  optimizer = training.make_optimizer(config)
  assert type(optimizer).__name__ == {'sgd': 'SGD', 'adam': 'Adam'}[name]
  if name == 'sgd':
    assert float(optimizer.momentum) == pytest.approx(0.9)


def test_weight_decay_zero_means_none():
  assert (
    training.make_optimizer(TrainConfig(weight_decay=0.0)).weight_decay is None
  )
  optimizer = training.make_optimizer(TrainConfig(weight_decay=4e-5))
  assert optimizer.weight_decay == pytest.approx(4e-5)


def test_mixed_precision_scales_the_loss_of_the_same_optimizer():
  optimizer = training.make_optimizer(
    TrainConfig(mixed_precision=True, optimizer='adam')
  )
  assert isinstance(
    optimizer, training.tf_keras.mixed_precision.LossScaleOptimizer
  )
  assert type(optimizer.inner_optimizer).__name__ == 'Adam'
  assert float(optimizer.inner_optimizer.learning_rate) == pytest.approx(
    TrainConfig().base_lr
  )


@pytest.mark.parametrize('weight_decay', [1e-3, 0.0])
@pytest.mark.parametrize('multiplier', [0.1, 0.0])
@pytest.mark.parametrize('name', ['sgd', 'adam'])
def test_the_backbone_steps_and_decays_at_the_multiplier(
  name, multiplier, weight_decay
):
  """Two equal variables with equal gradients: the backbone's moves that
  fraction as far, weight decay included (at 0 it does not move at all).
  Momentum and Adam's moments are those of the plain optimizer."""
  start = [1.0, -2.0]
  backbone, head = tf.Variable(start), tf.Variable(start)
  config = TrainConfig(
    optimizer=name,
    base_lr=0.01,
    weight_decay=weight_decay,
    backbone_lr_multiplier=multiplier,
  )
  optimizer = training.make_optimizer(config, [backbone])
  assert type(optimizer).__name__ == {'sgd': 'SGD', 'adam': 'Adam'}[name]
  assert optimizer.weight_decay == (weight_decay or None)
  gradient = tf.constant([0.5, -0.25])
  for _ in range(2):
    optimizer.apply_gradients([(gradient, backbone), (gradient, head)])
  head_step = head.numpy() - start
  assert np.all(np.abs(head_step) > 1e-3)
  np.testing.assert_allclose(
    backbone.numpy() - start, multiplier * head_step, rtol=1e-4, atol=1e-9
  )


def test_a_backbone_multiplier_needs_the_backbone():
  with pytest.raises(
    ValueError,
    match=r'^backbone_lr_multiplier=0.1 needs the backbone variables$',
  ):
    training.make_optimizer(TrainConfig(backbone_lr_multiplier=0.1))


@pytest.mark.slow
def test_short_training_on_demo_data_learns_more_than_the_class_prior(tmp_path):
  training.tf_keras.utils.set_random_seed(0)
  model = builder.build_model(ModelConfig(depth_multiplier=0.5, input_size=64))
  dataset = demo_batches.demo_dataset(size=64)
  config = TrainConfig(
    train_steps=150,
    batch_size=4,
    base_lr=0.003,
    optimizer='adam',
    weight_decay=0.0,
    steps_per_epoch=150,
  )
  model.compile(loss=training.losses.masked_sparse_cross_entropy)
  batches = list(dataset.take(4))
  before = np.mean([model.evaluate(x, y, verbose=0) for x, y in batches])
  training.fit(
    model, dataset, config, str(tmp_path / 'resume'), str(tmp_path / 'logs')
  )
  after = np.mean([model.evaluate(x, y, verbose=0) for x, y in batches])
  # Predicting the person frequency everywhere scores the prior's entropy;
  # a loss well below it means the model segments.
  labels = np.concatenate([y.numpy().ravel() for _, y in batches])
  person = np.mean(labels[labels != 255] == 1)
  prior = -(person * np.log(person) + (1 - person) * np.log(1 - person))
  assert before == pytest.approx(np.log(2), abs=0.05)
  assert after < 0.75 * prior, (before, after, prior)
  assert os.listdir(tmp_path / 'logs')  # TensorBoard events


_KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {root!r})
import tensorflow as tf, tf_keras
from components import training
from model import builder
from model.config import ModelConfig
from model.config import TrainConfig
from tests.fixtures import demo_batches

class KillAt(tf_keras.callbacks.Callback):
  def on_train_batch_end(self, batch, logs=None):
    if int(self.model.optimizer.iterations.numpy()) == 7:
      os.kill(os.getpid(), signal.SIGKILL)

training.fit(builder.build_model(ModelConfig.from_dict({model!r})),
             demo_batches.demo_dataset(size={size!r}),
             TrainConfig(**{config!r}), {resume!r}, {logs!r},
             callbacks=[KillAt()])
"""


@pytest.mark.slow
def test_killed_training_resumes_from_last_checkpoint(tmp_path, caplog):
  config = dict(train_steps=12, batch_size=4, base_lr=0.01, steps_per_epoch=3)
  resume, logs = str(tmp_path / 'resume'), str(tmp_path / 'logs')
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  killed = subprocess.run(
    [
      sys.executable,
      '-c',
      _KILLED_RUN.format(
        root=root,
        model=MODEL.to_dict(),
        size=SIZE,
        config=config,
        resume=resume,
        logs=logs,
      ),
    ],
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert killed.returncode == -signal.SIGKILL, killed.stderr
  assert tf.train.latest_checkpoint(resume).endswith('ckpt-6')

  model = builder.build_model(MODEL)
  with caplog.at_level(logging.INFO, logger='absl'):
    start = training.fit(
      model,
      demo_batches.demo_dataset(size=SIZE),
      TrainConfig(**config),
      resume,
      logs,
    )
  assert start == 6
  assert f'Resuming at step 6/12 from {resume}/ckpt-6' in caplog.messages
  assert int(model.optimizer.iterations.numpy()) == 12
  assert tf.train.latest_checkpoint(resume).endswith('ckpt-12')
  # A rerun after completion trains no further.
  again = builder.build_model(MODEL)
  assert (
    training.fit(
      again,
      demo_batches.demo_dataset(size=SIZE),
      TrainConfig(**config),
      resume,
      logs,
    )
    == 12
  )
  assert int(again.optimizer.iterations.numpy()) == 12
  for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
    np.testing.assert_array_equal(a, b)


def test_linear_learning_rate_scaling_for_other_global_batches():
  assert TrainConfig(base_lr=0.05, batch_size=64).learning_rate == 0.05
  scaled = TrainConfig(base_lr=0.05, batch_size=64, lr_reference_batch=16)
  assert scaled.learning_rate == pytest.approx(0.2)
  schedule = training.poly_schedule(dataclasses.replace(scaled, train_steps=10))
  assert float(schedule(0)) == pytest.approx(0.2)
  with pytest.raises(ValueError, match='lr_reference_batch=0'):
    TrainConfig(lr_reference_batch=0)


def fit_on_demo(model, config, folder):
  """Trains `model` with training.fit on demo batches; the loss per epoch."""
  history = []
  training.fit(
    model,
    demo_batches.demo_dataset(size=SIZE),
    config,
    str(folder / 'resume'),
    str(folder / 'logs'),
    callbacks=[
      training.tf_keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: history.append(logs['loss'])
      )
    ],
  )
  return history


@pytest.mark.slow
def test_mixed_precision_trains_and_exports_the_float32_contract(tmp_path):
  import tf_keras

  from model import export

  config = TrainConfig(
    train_steps=4,
    batch_size=4,
    base_lr=0.01,
    steps_per_epoch=2,
    mixed_precision=True,
  )
  model = training.build_training_model(MODEL, config)
  assert tf_keras.mixed_precision.global_policy().name == 'float32'
  assert {layer.compute_dtype for layer in model.layers} >= {'float16'}
  assert model.output.dtype == tf.float32  # logits for loss and softmax
  history = fit_on_demo(model, config, tmp_path)
  assert isinstance(
    model.optimizer, tf_keras.mixed_precision.LossScaleOptimizer
  )
  assert int(model.optimizer.iterations.numpy()) == 4
  assert np.all(np.isfinite(history)), history

  serving = training.serving_copy(model, MODEL)
  assert {layer.compute_dtype for layer in serving.layers} == {'float32'}
  assert {w.dtype for w in serving.weights} == {tf.float32}
  flatbuffer = export.convert_to_tflite(export.inference_model(serving))
  interpreter = tf.lite.Interpreter(model_content=flatbuffer)
  assert interpreter.get_signature_list()['serving_default'] == {
    'inputs': ['image'],
    'outputs': ['class_ids', 'probabilities'],
  }
  (image,) = interpreter.get_input_details()
  assert image['dtype'] == np.uint8
  assert tuple(image['shape']) == (1, SIZE, SIZE, 3)
  outputs = {o['name']: o for o in interpreter.get_output_details()}
  assert {o['dtype'] for o in outputs.values()} == {np.int32, np.float32}
  assert np.float16 not in {
    t['dtype'] for t in interpreter.get_tensor_details()
  }
  # The float32 copy predicts what the float16 model does.
  images, _ = next(iter(demo_batches.demo_dataset(size=SIZE)))
  runner = interpreter.get_signature_runner()
  tflite_ids = np.stack(
    [
      runner(image=img[None].numpy().astype(np.uint8))['class_ids'][0]
      for img in images
    ]
  )
  mixed_ids = np.argmax(model(images).numpy(), axis=-1)
  assert np.mean(tflite_ids == mixed_ids) > 0.99


@pytest.mark.slow
def test_jit_compile_trains_the_same_step_through_xla(tmp_path):
  import tf_keras

  initial = None
  losses = {}
  for jit_compile in (False, True):
    config = TrainConfig(
      train_steps=2,
      batch_size=4,
      base_lr=0.01,
      steps_per_epoch=1,
      augment=False,
      jit_compile=jit_compile,
    )
    model = training.build_training_model(MODEL, config)
    initial = initial or model.get_weights()
    model.set_weights(initial)
    for layer in model.layers:  # the same forward pass both ways
      if isinstance(layer, tf_keras.layers.Dropout):
        layer.rate = 0.0
    history = fit_on_demo(model, config, tmp_path / str(jit_compile))
    assert model.jit_compile is jit_compile
    assert int(model.optimizer.iterations.numpy()) == 2
    moved = [
      np.max(np.abs(after - before))
      for after, before in zip(model.get_weights(), initial, strict=True)
    ]
    assert max(moved) > 1e-4
    losses[jit_compile] = history
  # Same weights, same batch: XLA's fused step computes the same loss
  # (measured 3e-6 apart; its exp/log differ from TensorFlow's in the last
  # float32 digits, so later steps are not compared, see the mirrored test).
  np.testing.assert_allclose(losses[True][0], losses[False][0], rtol=1e-4)
  assert np.all(np.isfinite(losses[True])), losses


_MIRRORED_RUN = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(
  cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import tf_keras
from components import training
from model import builder
from model import layers as model_layers
from model.config import ModelConfig, TrainConfig
from tests.fixtures import demo_batches

model_config = ModelConfig.from_dict({model!r})
config = TrainConfig(**{config!r})
tf_keras.mixed_precision.set_global_policy('float64')

def build(strategy, sync_batchnorm):
  with strategy.scope(), model_layers.synchronized_batch_norm(sync_batchnorm):
    return builder.build_model(model_config)

# Keras draws its initializers' seeds from Python's random module, which
# tf.random.set_seed leaves alone: without this, every process starts from
# another model.
tf_keras.utils.set_random_seed(0)
initial = build(tf.distribute.get_strategy(), False).get_weights()
mirrored = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
losses, weights = {{}}, {{}}
# One device is the baseline of both mirrored runs: synchronized BatchNorm
# on one replica is ordinary BatchNorm.
for name, strategy, sync_batchnorm in [
    ('one', tf.distribute.get_strategy(), False),
    ('mirrored_sync', mirrored, True),
    ('mirrored', mirrored, False)]:
  model = build(strategy, sync_batchnorm)
  model.set_weights(initial)
  # Dropout draws different masks per device layout: off for the comparison.
  for layer in model.layers:
    if isinstance(layer, tf_keras.layers.Dropout):
      layer.rate = 0.0
  history = []
  training.fit(
    model,
    demo_batches.demo_dataset(count={count!r}, batch_size=8, size={size!r}),
    config, {root!r} + '/' + name, {root!r} + '/logs-' + name,
    callbacks=[tf_keras.callbacks.LambdaCallback(
      on_epoch_end=lambda epoch, logs: history.append(float(logs['loss'])))])
  losses[name] = history
  losses[name + '_replicas'] = strategy.num_replicas_in_sync
  weights[name] = model.get_weights()
  if name != 'one':
    losses[name + '_max_weight_difference'] = max(
      float(np.max(np.abs(a - b)))
      for a, b in zip(weights['one'], weights[name]))
print('LOSSES ' + json.dumps(losses))
"""


@pytest.fixture(scope='module')
def mirrored_runs(tmp_path_factory):
  """Loss per step and final weights of 6 steps in float64: one device, and
  two replicas with and without synchronized BatchNorm, from one start.

  Float64 because this float32 model is chaotic under reordered sums: on
  one device, merely permuting the 8 examples of a batch changes its first
  gradients by up to 5% on some variables (measured), and a few steps
  amplify that to a 10-15% loss difference. In float64 the rounding is 1e-9
  of float32's, so what remains is what distribution gets right or wrong:
  the loss's global normalisation, gradient aggregation and BatchNorm.
  """
  root = tmp_path_factory.mktemp('mirrored')
  config = dict(
    train_steps=6,
    batch_size=8,
    base_lr=0.002,
    weight_decay=0.0,
    steps_per_epoch=1,
    augment=False,
  )
  completed = subprocess.run(
    [
      sys.executable,
      '-c',
      _MIRRORED_RUN.format(
        model=MODEL.to_dict(),
        config=config,
        size=SIZE,
        root=str(root),
        count=16,
      ),
    ],
    env={**os.environ, 'PYTHONPATH': ROOT},
    capture_output=True,
    text=True,
    timeout=900,
  )
  assert completed.returncode == 0, completed.stderr[-3000:]
  line = [x for x in completed.stdout.splitlines() if x.startswith('LOSSES ')]
  losses = json.loads(line[0][len('LOSSES ') :])
  assert losses['one_replicas'] == 1
  assert losses['mirrored_replicas'] == losses['mirrored_sync_replicas'] == 2
  for name in ('one', 'mirrored_sync', 'mirrored'):
    assert len(losses[name]) == 6
  return losses


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_follows_the_single_device_loss(
  mirrored_runs,
):
  # Two replicas of 4 with synchronized BatchNorm train exactly as one
  # device on the global batch of 8, through 6 steps and a data repeat.
  # Measured from 8 seeded starts: 2e-7 to 8e-7 relative on the losses (the
  # loss itself is computed in float32) and 3e-8 to 4e-7 on the weights,
  # the largest always a BatchNorm moving variance near 1 (7e-8 from this
  # seed). One unseeded start, in a CI run, reached 6.7e-5 on the weights:
  # the start is seeded so that the bound is checked on one known model.
  losses = mirrored_runs
  np.testing.assert_allclose(losses['mirrored_sync'], losses['one'], rtol=1e-5)
  assert losses['mirrored_sync_max_weight_difference'] < 1e-6, losses


@pytest.mark.slow
def test_without_synchronized_batchnorm_mirrored_training_differs(
  mirrored_runs,
):
  # The control that shows the comparison above can fail: BatchNorm on
  # each replica's 4 examples normalises with other statistics, from the
  # first forward pass on.
  losses = mirrored_runs
  difference = np.abs(np.subtract(losses['mirrored'], losses['one']))
  assert np.min(difference / np.abs(losses['one'])) > 1e-4, losses
  assert losses['mirrored_max_weight_difference'] > 1e-4, losses


_WORKER_RUN = """
import json, sys
import numpy as np
from tfx.components.trainer.fn_args_utils import FnArgs
from components import training

models = []
fit = training.fit
def capture(model, *args, **kwargs):
  models.append(model)
  return fit(model, *args, **kwargs)
training.fit = capture

training.run_fn(FnArgs(**{fn_args!r}))
np.savez({weights!r}, *models[0].get_weights())
"""


@pytest.mark.slow
def test_two_local_workers_train_in_step_and_only_the_chief_writes(
  tmp_path, transform_output
):
  graph_dir, train_files = transform_output
  train = TrainConfig(
    train_steps=4, batch_size=4, base_lr=0.01, steps_per_epoch=2
  )
  cluster = distribution.local_cluster(chief=1, worker=1)
  processes = {}
  for task in ('chief', 'worker'):
    out = tmp_path / task
    (out / 'tmp').mkdir(parents=True)
    fn_args = {
      'train_files': [train_files],
      'transform_output': graph_dir,
      'serving_model_dir': str(out / 'serving_model'),
      'model_run_dir': str(out / 'model_run'),
      'train_steps': train.train_steps,
      'custom_config': training.custom_config(
        MODEL, train, ['background', 'person'], str(out / 'checkpoints')
      ),
    }
    tf_config = {'cluster': cluster, 'task': {'type': task, 'index': 0}}
    processes[task] = subprocess.Popen(
      [
        sys.executable,
        '-c',
        _WORKER_RUN.format(fn_args=fn_args, weights=str(out / 'weights.npz')),
      ],
      env={
        **os.environ,
        'PYTHONPATH': ROOT,
        'TF_CONFIG': json.dumps(tf_config),
        'TMPDIR': str(out / 'tmp'),
      },
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
    )
  logs = {}
  try:
    for task, process in processes.items():
      logs[task], _ = process.communicate(timeout=400)
  finally:
    for process in processes.values():
      process.kill()
  for task, process in processes.items():
    assert process.returncode == 0, logs[task][-3000:]

  with (
    np.load(tmp_path / 'chief' / 'weights.npz') as chief,
    np.load(tmp_path / 'worker' / 'weights.npz') as worker,
  ):
    assert len(chief.files) == len(worker.files) > 100
    for name in chief.files:
      np.testing.assert_array_equal(chief[name], worker[name])

  chief = tmp_path / 'chief'
  assert (chief / 'serving_model' / 'saved_model.pb').exists()
  with open(chief / 'model_run' / 'logs' / training.THROUGHPUT_FILE) as f:
    assert json.load(f)['replicas'] == 2
  (run_key,) = os.listdir(chief / 'checkpoints')
  assert tf.train.latest_checkpoint(
    str(chief / 'checkpoints' / run_key)
  ).endswith('ckpt-4')
  worker = tmp_path / 'worker'
  assert sorted(os.listdir(worker)) == ['tmp', 'weights.npz']
  assert os.listdir(worker / 'tmp') == []  # its scratch folders are gone


def _snapshots_per_epoch(model, layer):
  """{step: (backbone weights, `layer`'s weights)} at every epoch's end."""
  backbone = training.backbone_of(model)
  snapshots = {}

  def save(epoch, logs):
    del epoch, logs
    step = int(model.optimizer.iterations.numpy())
    snapshots[step] = (backbone.get_weights(), layer.get_weights())

  return snapshots, training.tf_keras.callbacks.LambdaCallback(
    on_epoch_end=save
  )


# Not slow: runs `fit` end to end, its two phases, callbacks and
# checkpoints (test_components_training_run_fn.py runs it through run_fn).
def test_a_frozen_backbone_stays_as_loaded_then_trains(
  tmp_path, caplog, capsys
):
  training.tf_keras.utils.set_random_seed(0)
  model = builder.build_model(MODEL)
  backbone = training.backbone_of(model)
  assert backbone.name == MODEL.backbone
  initial = backbone.get_weights()  # BatchNorm moving statistics included.
  head = model.get_layer('logits')
  initial_head = head.get_weights()
  # SGD with weight decay: decay, too, must leave a frozen backbone alone.
  # Then the backbone trains at half the rate, as a fine-tuning recipe may
  # have it: fit hands make_optimizer the backbone's variables.
  config = TrainConfig(
    train_steps=4,
    batch_size=4,
    base_lr=0.01,
    freeze_backbone_steps=2,
    backbone_lr_multiplier=0.5,
  )
  assert config.weight_decay > 0 and config.exact_steps_per_epoch == 2
  snapshots, callback = _snapshots_per_epoch(model, head)
  with caplog.at_level(logging.INFO, logger='absl'):
    started = training.fit(
      model,
      demo_batches.demo_dataset(size=SIZE),
      config,
      str(tmp_path / 'resume'),
      str(tmp_path / 'logs'),
      callbacks=[callback],
    )
  assert started == 0 and sorted(snapshots) == [2, 4]
  phases = [r.getMessage() for r in caplog.records if 'backbone' in str(r.msg)]
  assert phases == [
    'Freezing the backbone from step 0',
    'Training the backbone from step 2',
  ]
  # ProgressLogger's line per epoch, not Keras's progress bar per step.
  assert capsys.readouterr().out == ''
  frozen, head_at_2 = snapshots[2]
  for got, want in zip(frozen, initial, strict=True):
    np.testing.assert_array_equal(got, want)
  assert not np.array_equal(head_at_2[0], initial_head[0])
  thawed, _ = snapshots[4]
  changed = [
    not np.array_equal(a, b) for a, b in zip(thawed, initial, strict=True)
  ]
  assert all(changed), f'{changed.count(False)} backbone weights unchanged'
  assert backbone.trainable
  # Called without `chief`, fit writes where it is told: checkpoints, and
  # TensorBoard's loss and learning rate once per epoch of each phase.
  checkpoint = tf.train.latest_checkpoint(str(tmp_path / 'resume'))
  assert checkpoint.endswith('ckpt-4')
  logs = tmp_path / 'logs'
  assert sorted(os.listdir(logs)) == [training.THROUGHPUT_FILE, 'train']
  throughput = json.loads((logs / training.THROUGHPUT_FILE).read_text())
  # Timed over the second epoch: the first traces the graph.
  assert throughput.pop('images_per_second') > 0
  assert throughput == {
    'batch_size': 4,
    'replicas': 1,
    'start_step': 0,
    'train_steps': 4,
  }
  assert _tensorboard_scalars(logs / 'train') == {
    (tag, epoch)
    for tag in ('epoch_loss', 'epoch_learning_rate')
    for epoch in (0, 1)
  }


def _tensorboard_scalars(folder):
  """{(tag, step)} of the scalars in a TensorBoard folder's event files."""
  found = set()
  for path in tf.io.gfile.glob(os.path.join(folder, 'events.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      found.update(
        (value.tag, event.step)
        for value in event.summary.value
        if value.metadata.plugin_data.plugin_name == 'scalars'
      )
  return found


def _one_step(folder, optimizer, multiplier):
  """(backbone variable ids, [(variable, change)]) after one step."""
  training.tf_keras.utils.set_random_seed(0)
  model = builder.build_model(MODEL)
  before = [v.numpy() for v in model.trainable_variables]
  training.fit(
    model,
    demo_batches.demo_dataset(size=SIZE),
    TrainConfig(
      train_steps=1,
      batch_size=4,
      base_lr=0.01,
      optimizer=optimizer,
      weight_decay=0.0,
      backbone_lr_multiplier=multiplier,
    ),
    str(folder / 'resume'),
    str(folder / 'logs'),
  )
  backbone = {id(v) for v in training.backbone_of(model).trainable_variables}
  return [
    (id(v) in backbone, v.numpy() - start)
    for v, start in zip(model.trainable_variables, before, strict=True)
  ]


@pytest.mark.slow
@pytest.mark.parametrize('optimizer', ['sgd', 'adam'])
def test_the_backbone_moves_at_its_multiple_of_the_learning_rate(
  tmp_path, optimizer
):
  # Adam's first step is about lr * sign(gradient): scaling the gradients
  # would change nothing there; the learning rate must be scaled.
  full = _one_step(tmp_path / 'full', optimizer, 1.0)
  tenth = _one_step(tmp_path / 'tenth', optimizer, 0.1)
  assert sum(in_backbone for in_backbone, _ in full) > 10
  for (in_backbone, change), (_, scaled) in zip(full, tenth, strict=True):
    expected = 0.1 * change if in_backbone else change
    # float32 weights near 1 round at 6e-8; the steps are 1e-5 to 1e-3.
    np.testing.assert_allclose(scaled, expected, rtol=1e-3, atol=1e-6)


def _fn_args(transform_output='/t/transform', train_files=('/t/a', '/t/b')):
  from tfx.components.trainer.fn_args_utils import FnArgs

  return FnArgs(transform_output=transform_output, train_files=train_files)


def test_resume_key_is_the_same_for_the_same_inputs():
  key = training._run_key(MODEL, TrainConfig(), _fn_args())
  assert key == training._run_key(
    ModelConfig(**MODEL.to_dict()),
    TrainConfig(),
    _fn_args(train_files=['/t/b', '/t/a']),
  )
  assert len(key) == 16 and int(key, 16) >= 0


@pytest.mark.parametrize(
  'change',
  [
    {'model': dataclasses.replace(MODEL, depth_multiplier=1.0)},
    {'train': TrainConfig(base_lr=0.5)},
    {'train': TrainConfig(train_steps=7)},
    {'fn_args': _fn_args(transform_output='/t/transform2')},
    {'fn_args': _fn_args(train_files=['/t/a'])},
  ],
)
def test_resume_key_changes_when_an_input_changes(change):
  before = training._run_key(MODEL, TrainConfig(), _fn_args())
  after = training._run_key(
    change.get('model', MODEL),
    change.get('train', TrainConfig()),
    change.get('fn_args', _fn_args()),
  )
  assert after != before


def test_progress_logs_each_epoch_and_measures_the_steady_epochs(
  monkeypatch, caplog
):
  """The first epoch (graph tracing) is left out of the steady rate."""
  ends = iter([0.0, 2.0, 2.0, 3.0, 3.0, 4.5])  # begin, end of each epoch
  monkeypatch.setattr(training.time, 'monotonic', lambda: next(ends))
  progress = training.ProgressLogger(
    train_steps=15,
    steps_per_epoch=5,
    batch_size=4,
    learning_rate=lambda step: 0.01 * (1 - step / 15),
  )
  with caplog.at_level(logging.INFO, logger='absl'):
    for epoch, logs in enumerate([{'loss': 0.5}, {'loss': 0.25}, None]):
      progress.on_epoch_begin(epoch)
      progress.on_epoch_end(epoch, logs)
      if not epoch:
        assert progress.steady_images_per_second is None
  assert [record.getMessage() for record in caplog.records] == [
    'step 5/15  loss 0.5000  lr 6.67e-03  10.0 images/s',
    'step 10/15  loss 0.2500  lr 3.33e-03  20.0 images/s',
    'step 15/15  loss nan  lr 0.00e+00  13.3 images/s',
  ]
  # Epochs 2 and 3: 2 x 5 steps x 4 images in 1 + 1.5 s.
  assert progress.steady_images_per_second == pytest.approx(40 / 2.5)


@pytest.mark.parametrize(
  'config,described',
  [
    (
      ModelConfig(aspp=True),
      'mobilenet_v2 x1.0 deeplabv3plus OS16 256px aspp decoder',
    ),
    (
      ModelConfig(aspp=False, decoder=False, output_stride=8, input_size=513),
      'mobilenet_v2 x1.0 deeplabv3plus OS8 513px no-aspp no-decoder',
    ),
    (
      ModelConfig(backbone='mobilenet_v3_small', head='lraspp'),
      'mobilenet_v3_small x1.0 lraspp OS16 256px',
    ),
  ],
)
def test_the_trainers_log_names_the_architecture(config, described):
  assert training._describe(config) == described  # pylint: disable=protected-access


def test_the_serving_copy_is_float32_on_one_device_with_the_trained_weights():
  """Trained under mixed precision and synchronized BatchNorm; served as
  float32 with plain BatchNorm, the same weights, the same prediction."""
  import tf_keras

  config = ModelConfig(
    backbone='mobilenet_v3_small', head='lraspp', input_size=SIZE
  )
  tf_keras.utils.set_random_seed(0)
  trained = training.build_training_model(
    config, TrainConfig(mixed_precision=True, sync_batchnorm=True)
  )
  # The policy and BatchNorm kind apply to the layers built, and no further.
  assert tf_keras.mixed_precision.global_policy().name == 'float32'
  batch_norms = [
    layer
    for layer in trained.layers
    if isinstance(layer, tf_keras.layers.BatchNormalization)
  ]
  assert batch_norms and all(layer.synchronized for layer in batch_norms)
  assert {layer.compute_dtype for layer in batch_norms} == {'float16'}
  plain = training.build_training_model(config, TrainConfig())
  assert not any(
    layer.synchronized
    for layer in plain.layers
    if isinstance(layer, tf_keras.layers.BatchNormalization)
  )

  # The config names the ImageNet weights training started from; the
  # serving copy takes the trained ones and must not look for those.
  served = training.serving_copy(
    trained, dataclasses.replace(config, backbone_weights='/gone/imagenet.h5')
  )
  assert {layer.compute_dtype for layer in served.layers} == {'float32'}
  assert not any(
    getattr(layer, 'synchronized', False) for layer in served.layers
  )
  for got, want in zip(
    served.get_weights(), trained.get_weights(), strict=True
  ):
    np.testing.assert_array_equal(got, want)
  images = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3))
  np.testing.assert_allclose(
    served(images, training=False),
    tf.cast(trained(images, training=False), tf.float32),
    atol=0.05,
  )


def _plain_model():
  """A Keras model with no nested model: not a model.builder model."""
  inputs = training.tf_keras.Input((4,))
  return training.tf_keras.Model(
    inputs, training.tf_keras.layers.Dense(2)(inputs), name='plain'
  )


def test_backbone_of_refuses_a_model_without_one_nested_model():
  with pytest.raises(ValueError) as error:
    training.backbone_of(_plain_model())
  assert str(error.value) == (
    'plain: 0 nested models; a model.builder model has exactly one, '
    'its backbone'
  )


@pytest.mark.parametrize('jit_compile', [False, True])
def test_compile_sets_the_loss_and_xla_as_configured(jit_compile):
  model = _plain_model()
  training._compile(model, 'sgd', TrainConfig(jit_compile=jit_compile))
  assert model.loss is training.losses.masked_sparse_cross_entropy
  assert model.jit_compile is jit_compile
