"""components.training: schedule, loss going down on demo data, resume."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components import preprocessing
from components import training
from data import demo
from model import builder
from model.config import ModelConfig
from pipeline.config import TrainConfig

SIZE = 32
MODEL = ModelConfig(depth_multiplier=0.5, input_size=SIZE, decoder=False)


def demo_dataset(count=16, batch_size=4, size=SIZE):
  """Resized demo images and their exact label maps, repeated."""
  images, masks = [], []
  for index in range(count):
    image, _, _, label_map = demo.render_example(
        np.random.default_rng([7, index]))
    images.append(preprocessing.resize_image(tf.constant(image), size))
    masks.append(preprocessing.resize_mask(
        tf.constant(label_map[..., None]), size, size))
  dataset = tf.data.Dataset.from_tensor_slices(
      (tf.cast(tf.stack(images), tf.float32), tf.stack(masks)))
  return dataset.repeat().batch(batch_size)


@pytest.mark.parametrize('steps,per_log,expected', [
    (700, 50, 50), (1000, 300, 250), (7, 50, 7), (13, 5, 1)])
def test_steps_per_chunk_divides_train_steps(steps, per_log, expected):
  assert training.steps_per_chunk(steps, per_log) == expected


@pytest.mark.parametrize('name', ['sgd', 'adam'])
def test_poly_schedule_as_deeplab(name):
  config = TrainConfig(train_steps=100, base_lr=0.01, optimizer=name)
  schedule = training.poly_schedule(config)
  for step in (0, 50, 99, 100):
    assert float(schedule(step)) == pytest.approx(
        0.01 * (1 - step / 100) ** 0.9, abs=1e-9)
  optimizer = training.make_optimizer(config)
  assert type(optimizer).__name__ == {'sgd': 'SGD', 'adam': 'Adam'}[name]
  if name == 'sgd':
    assert float(optimizer.momentum) == pytest.approx(0.9)


def test_short_training_on_demo_data_learns_more_than_the_class_prior(
    tmp_path):
  tf.random.set_seed(0)
  model = builder.build_model(ModelConfig(depth_multiplier=0.5, input_size=64))
  dataset = demo_dataset(size=64)
  config = TrainConfig(train_steps=150, batch_size=4, base_lr=0.003,
                       optimizer='adam', weight_decay=0.0, steps_per_log=150)
  model.compile(loss=training.losses.masked_sparse_cross_entropy)
  batches = list(dataset.take(4))
  before = np.mean([model.evaluate(x, y, verbose=0) for x, y in batches])
  training.fit(model, dataset, config, str(tmp_path / 'resume'),
               str(tmp_path / 'logs'))
  after = np.mean([model.evaluate(x, y, verbose=0) for x, y in batches])
  # Predicting the person frequency everywhere scores the prior's entropy;
  # a loss well below it means the model segments.
  labels = np.concatenate([y.numpy().ravel() for _, y in batches])
  person = np.mean(labels[labels != 255] == 1)
  prior = -(person * np.log(person) + (1 - person) * np.log(1 - person))
  assert before == pytest.approx(np.log(2), abs=0.05)
  assert after < 0.75 * prior, (before, after, prior)
  assert os.listdir(tmp_path / 'logs')  # TensorBoard events


_KILLED_RUN = '''
import os, signal, sys
sys.path.insert(0, {root!r})
import tensorflow as tf, tf_keras
from tests import test_training as t
from components import training
from model import builder
from pipeline.config import TrainConfig

class KillAt(tf_keras.callbacks.Callback):
  def on_train_batch_end(self, batch, logs=None):
    if int(self.model.optimizer.iterations.numpy()) == 7:
      os.kill(os.getpid(), signal.SIGKILL)

training.fit(builder.build_model(t.MODEL), t.demo_dataset(),
             TrainConfig(**{config!r}), {resume!r}, {logs!r},
             callbacks=[KillAt()])
'''


def test_killed_training_resumes_from_last_checkpoint(tmp_path):
  config = dict(train_steps=12, batch_size=4, base_lr=0.01, steps_per_log=3)
  resume, logs = str(tmp_path / 'resume'), str(tmp_path / 'logs')
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  killed = subprocess.run(
      [sys.executable, '-c', _KILLED_RUN.format(
          root=root, config=config, resume=resume, logs=logs)],
      capture_output=True, text=True, timeout=300)
  assert killed.returncode == -signal.SIGKILL, killed.stderr
  assert tf.train.latest_checkpoint(resume).endswith('ckpt-6')

  model = builder.build_model(MODEL)
  start = training.fit(model, demo_dataset(), TrainConfig(**config), resume,
                       logs)
  assert start == 6
  assert int(model.optimizer.iterations.numpy()) == 12
  assert tf.train.latest_checkpoint(resume).endswith('ckpt-12')
  # A rerun after completion trains no further.
  again = builder.build_model(MODEL)
  assert training.fit(again, demo_dataset(), TrainConfig(**config), resume,
                      logs) == 12
  assert int(again.optimizer.iterations.numpy()) == 12
  for a, b in zip(model.get_weights(), again.get_weights()):
    np.testing.assert_array_equal(a, b)
