"""model.layers: the numbers the blocks share, checked by what they compute.

The activations and the resize are also reached through every backbone
test (test_model_backbones.py compares whole networks with Keras's); these
pin what a whole-network comparison cannot see: BatchNorm's momentum, which
only moves the moving statistics while training, and the switch to
synchronized BatchNorm.
"""

import numpy as np
import pytest
import tensorflow as tf

from model import layers

# 4 examples of 2 x 2 pixels, 3 channels with means 1, 2, 3.
_BATCH = np.random.default_rng(0).normal(size=(4, 2, 2, 3)) + [1.0, 2.0, 3.0]


def test_batch_norm_moving_statistics_move_a_tenth_of_the_way_per_step():
  """Momentum 0.9: fine-tuned for few steps, the statistics must keep up
  (layers.batch_norm's docstring has the measurement)."""
  bn = layers.batch_norm('bn')
  batch = tf.constant(_BATCH, tf.float32)
  bn(batch, training=True)
  mean = _BATCH.mean(axis=(0, 1, 2))
  variance = _BATCH.var(axis=(0, 1, 2), ddof=1)  # Keras keeps it unbiased.
  np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
  np.testing.assert_allclose(
    bn.moving_variance.numpy(), 0.9 + 0.1 * variance, rtol=1e-5
  )


def test_batch_norm_divides_by_the_keras_applications_epsilon():
  """1e-3, as the ImageNet weights' statistics were computed with."""
  bn = layers.batch_norm('bn')
  bn.build((None, 2, 2, 3))
  bn.moving_variance.assign(tf.zeros(3))
  out = bn(tf.constant(_BATCH, tf.float32), training=False).numpy()
  np.testing.assert_allclose(out, _BATCH / np.sqrt(1e-3), rtol=1e-5)


def test_synchronized_batch_norm_applies_to_layers_built_inside():
  assert not layers.batch_norm('plain').synchronized
  with layers.synchronized_batch_norm():
    assert layers.batch_norm('synced').synchronized is True
    with layers.synchronized_batch_norm(enabled=False):
      assert not layers.batch_norm('inner').synchronized
    assert layers.batch_norm('synced_again').synchronized is True
  with pytest.raises(RuntimeError):
    with layers.synchronized_batch_norm():
      raise RuntimeError('building failed')
  assert not layers.batch_norm('after').synchronized


@pytest.mark.parametrize(
  'kind,expected',
  [
    ('relu', [0, 0, 0, 3, 7]),
    ('relu6', [0, 0, 0, 3, 6]),
    # x * relu6(x + 3) / 6
    ('hard_swish', [-0.0, -1 / 3, 0, 3, 7]),
  ],
)
def test_activations_by_their_table_names(kind, expected):
  x = tf.constant([-4.0, -1.0, 0.0, 3.0, 7.0])
  layer = layers.activation(kind, f'{kind}_act')
  assert layer.name == f'{kind}_act'
  np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6)


def test_an_unknown_activation_is_refused_naming_the_choices():
  with pytest.raises(ValueError) as raised:
    layers.activation('swish', 'act')
  assert str(raised.value) == (
    "activation='swish': must be relu, relu6 or hard_swish"
  )
