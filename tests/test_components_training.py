"""components.training: schedule, loss going down on demo data, resume."""

import dataclasses
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components import training
from model import builder
from model.config import ModelConfig
from model.config import TrainConfig
from tests.fixtures import demo_batches

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


@pytest.mark.slow
def test_short_training_on_demo_data_learns_more_than_the_class_prior(tmp_path):
  tf.random.set_seed(0)
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
def test_killed_training_resumes_from_last_checkpoint(tmp_path):
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
  start = training.fit(
    model,
    demo_batches.demo_dataset(size=SIZE),
    TrainConfig(**config),
    resume,
    logs,
  )
  assert start == 6
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
