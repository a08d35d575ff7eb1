"""Small building blocks shared by backbones and heads.

Everything here is a plain tf_keras layer or a function that stacks standard
layers, so a built model saves as a SavedModel, reloads with
`tf_keras.models.load_model` (the two custom layers are registered), and
converts to TFLite builtin ops only.
"""

import contextlib
from typing import Iterator

import tensorflow as tf
import tf_keras

_PACKAGE = 'mobile_deeplab'


@tf_keras.saving.register_keras_serializable(package=_PACKAGE)
class HardSigmoid(tf_keras.layers.Layer):
  """relu6(x + 3) / 6 (MobileNetV3 paper, arXiv 1905.02244, section 5.2).

  Not `tf_keras.activations.hard_sigmoid`, which is the 0.2 x + 0.5 variant.
  """

  def call(self, inputs):  # pragma: no mutate block (see _KERAS_CALL)
    return hard_sigmoid(inputs)


@tf_keras.saving.register_keras_serializable(package=_PACKAGE)
class HardSwish(tf_keras.layers.Layer):
  """x * relu6(x + 3) / 6 (MobileNetV3 paper, section 5.2).

  The TFLite converter fuses this pattern into one HARD_SWISH op.
  """

  def call(self, inputs):  # pragma: no mutate block (see _KERAS_CALL)
    return hard_swish(inputs)


@tf_keras.saving.register_keras_serializable(package=_PACKAGE)
class ArgMax(tf_keras.layers.Layer):
  """Index of the largest channel, int32 (TFLite ARG_MAX's output type)."""

  def call(self, inputs):  # pragma: no mutate block (see _KERAS_CALL)
    return class_ids(inputs)


# _KERAS_CALL: Keras reads a layer's `call` signature to decide whether to
# pass `training=`; a mutation tool's wrapper (`make mutants`) takes
# `*args, **kwargs`, so Keras would pass it and the `call`s above would
# refuse it. The `call`s stay unwrapped and the arithmetic lives in these
# functions, which the tool does mutate.


def hard_sigmoid(x: tf.Tensor) -> tf.Tensor:
  return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def hard_swish(x: tf.Tensor) -> tf.Tensor:
  return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def class_ids(scores: tf.Tensor) -> tf.Tensor:
  return tf.argmax(scores, axis=-1, output_type=tf.int32)


def activation(kind: str, name: str) -> tf_keras.layers.Layer:
  """One activation layer by the short names the block tables use."""
  if kind == 'relu':
    return tf_keras.layers.ReLU(name=name)
  if kind == 'relu6':
    return tf_keras.layers.ReLU(6.0, name=name)
  if kind == 'hard_swish':
    return HardSwish(name=name)
  raise ValueError(f'activation={kind!r}: must be relu, relu6 or hard_swish')


def batch_norm(name: str) -> tf_keras.layers.BatchNormalization:
  """BatchNorm with the Keras-applications epsilon, so ImageNet BN stats fit.

  Momentum is 0.9 (PyTorch's default) rather than the applications' 0.999:
  the moving statistics must follow features that change quickly while the
  model trains from scratch or fine-tunes for few steps. Measured on the demo
  (MobileNetV2 x0.5, 300 steps): momentum 0.99 left inference-mode person IoU
  at 0.00 while training-mode IoU was 0.72; with 0.9 the two agree (0.66).
  """
  return tf_keras.layers.BatchNormalization(
    epsilon=1e-3, momentum=0.9, synchronized=_SYNC_BATCH_NORM[0], name=name
  )


# Whether batch_norm layers built now synchronize across replicas.
_SYNC_BATCH_NORM = [False]


@contextlib.contextmanager
def synchronized_batch_norm(enabled: bool = True) -> Iterator[None]:
  """BatchNorm layers built inside use the statistics of the global batch.

  With several replicas each sees batch / replicas examples; synchronized
  BatchNorm all-reduces its mean and variance so the statistics are those
  of the whole batch (DeepLabV3, arXiv 1706.05587, section 4.1, trains with
  batch 16 for BatchNorm's sake). Same variables, so checkpoints and
  weights move freely between synchronized and plain models.
  """
  previous = _SYNC_BATCH_NORM[0]
  _SYNC_BATCH_NORM[0] = enabled
  try:
    yield
  finally:
    _SYNC_BATCH_NORM[0] = previous


def resize_to(x: tf.Tensor, size, name: str) -> tf.Tensor:
  """Bilinear resize to a static (height, width).

  `Resizing` calls `tf.image.resize` (half_pixel_centers=True,
  align_corners=False), which TFLite's RESIZE_BILINEAR reproduces exactly;
  that is what keeps TFLite and Keras predictions pixel-identical.
  """
  height, width = size
  if tuple(x.shape[1:3]) == (height, width):
    return x
  return tf_keras.layers.Resizing(
    height, width, interpolation='bilinear', name=name
  )(x)


def separable_conv(
  x: tf.Tensor, filters: int, *, rate: int = 1, quant_friendly: bool, name: str
) -> tf.Tensor:
  """3x3 (atrous) depthwise + 1x1 pointwise, each with BN and ReLU.

  DeepLabV3+ (arXiv 1802.02611, section 3.1) uses this "atrous separable
  convolution" in ASPP and in the decoder. quant_friendly drops BN and ReLU
  between the depthwise and pointwise convs (arXiv 1803.08607):
  int8 ranges of depthwise outputs with per-channel BN scales are what hurt
  quantized MobileNets.
  """
  x = tf_keras.layers.DepthwiseConv2D(
    3,
    padding='same',
    dilation_rate=rate,
    use_bias=False,
    name=f'{name}/depthwise',
  )(x)
  if not quant_friendly:
    x = batch_norm(f'{name}/depthwise/BatchNorm')(x)
    x = tf_keras.layers.ReLU(name=f'{name}/depthwise/relu')(x)
  return conv_bn_relu(x, filters, name=f'{name}/pointwise')


def conv_bn_relu(x: tf.Tensor, filters: int, *, name: str) -> tf.Tensor:
  """1x1 conv (no bias: BN follows), BN, ReLU."""
  x = tf_keras.layers.Conv2D(filters, 1, use_bias=False, name=name)(x)
  x = batch_norm(f'{name}/BatchNorm')(x)
  return tf_keras.layers.ReLU(name=f'{name}/relu')(x)
