"""model.heads: LR-ASPP computed by hand from its own weights."""

import numpy as np
import tensorflow as tf
import tf_keras

from components import parent_model
from model import heads


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


def test_lraspp_computes_the_papers_head():
  # MobileNetV3 paper, fig. 10: a 1x1 conv, BN, ReLU on the top level,
  # gated by the sigmoid of a bias-free 1x1 conv of its global mean,
  # upsampled bilinearly to level '3'; each level classified by a 1x1 conv
  # with bias, and the two logits summed.
  high_in = tf_keras.Input((2, 3, 8))
  low_in = tf_keras.Input((4, 6, 5))
  logits = heads.lraspp({'5': high_in, '3': low_in}, num_classes=3)
  model = tf_keras.Model([high_in, low_in], logits)
  rng = np.random.default_rng(0)
  model.set_weights(
    [
      rng.uniform(0.5, 1.5, w.shape)
      if 'variance' in v.name
      else rng.normal(0, 0.5, w.shape)
      for v, w in zip(model.weights, model.get_weights(), strict=True)
    ]
  )
  high = rng.normal(0, 1, (1, 2, 3, 8)).astype(np.float32)
  low = rng.normal(0, 1, (1, 4, 6, 5)).astype(np.float32)

  def weights(name):
    return [w.numpy() for w in model.get_layer(name).weights]

  (conv,) = weights('lraspp/conv')
  gamma, beta, mean, variance = weights('lraspp/conv/BatchNorm')
  epsilon = model.get_layer('lraspp/conv/BatchNorm').epsilon
  x = high @ conv[0, 0]
  x = np.maximum((x - mean) / np.sqrt(variance + epsilon) * gamma + beta, 0)
  (pool_conv,) = weights('lraspp/pooling/conv')
  gate = _sigmoid(high.mean(axis=(1, 2), keepdims=True) @ pool_conv[0, 0])
  x = tf.image.resize(x * gate, (4, 6), method='bilinear').numpy()
  high_kernel, high_bias = weights('lraspp/high_logits')
  low_kernel, low_bias = weights('lraspp/low_logits')
  expected = (x @ high_kernel[0, 0] + high_bias) + (
    low @ low_kernel[0, 0] + low_bias
  )
  np.testing.assert_allclose(
    model([high, low], training=False).numpy(), expected, rtol=1e-4, atol=1e-5
  )
  # Fine-tuning to other labels re-initializes the classifiers by name.
  names = {layer.name for layer in model.layers}
  assert set(parent_model.CLASSIFIER_LAYERS) - {'logits'} <= names
  assert 'logits' in names  # The sum: the model's output layer.
