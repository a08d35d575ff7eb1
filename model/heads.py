"""Heads: DeepLabV3+ (ASPP + decoder), LR-ASPP, and the ImageNet classifier.

A head reads feature levels by name from the dict a backbone returns ('2' is
OS 4, '3' is OS 8, '5' the top; see `model.backbones`) and returns logits at
the resolution of the finest level it used. It knows nothing else of the
backbone. Layer names follow the boxes of the papers' figures.
"""

from typing import Dict, Optional

import tensorflow as tf
import tf_keras

from model import layers as model_layers

Features = Dict[str, tf.Tensor]

# DeepLabV3 (arXiv 1706.05587) section 3.3: rates (6, 12, 18) at output
# stride 16, doubled at 8 (and halved at 32).
_ASPP_RATES_AT_OS16 = (6, 12, 18)
_ASPP_FILTERS = 256
_DECODER_LOW_LEVEL_FILTERS = 48
_DECODER_FILTERS = 256
_LRASPP_FILTERS = 128


def deeplabv3plus(
  features: Features,
  *,
  num_classes: int,
  output_stride: int,
  aspp: bool,
  decoder: bool,
  quant_friendly: bool,
) -> tf.Tensor:
  """DeepLabV3+ head (arXiv 1802.02611, figure 2).

  Encoder head on level '5': image pooling and a 1x1 conv, plus three atrous
  separable convs when `aspp`, concatenated and projected to 256 channels.
  Without `aspp` this is the "DeepLabv3, no ASPP" head of the MobileNetV2
  paper (Table 7): image pooling + 1x1 conv, as in the DeepLab model zoo.
  With `decoder`, the result is upsampled to level '2' (OS 4), concatenated
  with those features reduced to 48 channels and refined by two 3x3
  separable convs of 256 (section 3.1).

  Returns:
    Logits at OS 4 with the decoder, at the output stride without.
  """
  x = _atrous_spatial_pyramid_pooling(
    features['5'],
    output_stride=output_stride,
    with_atrous=aspp,
    quant_friendly=quant_friendly,
  )
  if decoder:
    x = _decoder(x, features['2'], quant_friendly=quant_friendly)
  return tf_keras.layers.Conv2D(num_classes, 1, name='logits')(x)


def _atrous_spatial_pyramid_pooling(
  x, *, output_stride: int, with_atrous: bool, quant_friendly: bool
):
  """ASPP (DeepLabV3 section 3.3, with separable convs as in V3+ 3.1)."""
  size = x.shape[1:3]
  pooled = tf_keras.layers.GlobalAveragePooling2D(
    keepdims=True, name='aspp/image_pooling'
  )(x)
  pooled = model_layers.conv_bn_relu(
    pooled, _ASPP_FILTERS, name='aspp/image_pooling/conv'
  )
  branches = [
    model_layers.resize_to(pooled, size, 'aspp/image_pooling/upsample'),
    model_layers.conv_bn_relu(x, _ASPP_FILTERS, name='aspp/conv_1x1'),
  ]
  if with_atrous:
    for rate in _ASPP_RATES_AT_OS16:
      rate = rate * 16 // output_stride
      branches.append(
        model_layers.separable_conv(
          x,
          _ASPP_FILTERS,
          rate=rate,
          quant_friendly=quant_friendly,
          name=f'aspp/atrous_rate_{rate}',
        )
      )
  x = tf_keras.layers.Concatenate(name='aspp/concat')(branches)
  x = model_layers.conv_bn_relu(x, _ASPP_FILTERS, name='aspp/projection')
  return tf_keras.layers.Dropout(0.1, name='aspp/dropout')(x)


def _decoder(x, low_level, *, quant_friendly: bool):
  """DeepLabV3+ decoder (arXiv 1802.02611 section 3.1, table 1 and 2)."""
  low_level = model_layers.conv_bn_relu(
    low_level, _DECODER_LOW_LEVEL_FILTERS, name='decoder/low_level'
  )
  x = model_layers.resize_to(x, low_level.shape[1:3], 'decoder/upsample')
  x = tf_keras.layers.Concatenate(name='decoder/concat')([x, low_level])
  for i in (1, 2):
    x = model_layers.separable_conv(
      x,
      _DECODER_FILTERS,
      quant_friendly=quant_friendly,
      name=f'decoder/conv{i}',
    )
  return x


def lraspp(features: Features, *, num_classes: int) -> tf.Tensor:
  """Lite R-ASPP (MobileNetV3 paper, arXiv 1905.02244, section 6.4, fig. 10).

  On the top level: a 1x1 conv of 128 (BN, ReLU) gated by a sigmoid of a
  pooled 1x1 conv, upsampled to level '3' (OS 8) and classified; plus a
  1x1 classifier on level '3'; the two logits are summed. The paper pools
  with a 49x49 kernel, stride (16, 20), sized for 1024x2048 Cityscapes
  crops; we pool globally (as torchvision and Model Garden do), which is
  what that kernel covers at the input sizes used here.

  Returns:
    Logits at the resolution of level '3'.
  """
  high, low = features['5'], features['3']
  x = model_layers.conv_bn_relu(high, _LRASPP_FILTERS, name='lraspp/conv')
  gate = tf_keras.layers.GlobalAveragePooling2D(
    keepdims=True, name='lraspp/pooling'
  )(high)
  gate = tf_keras.layers.Conv2D(
    _LRASPP_FILTERS, 1, use_bias=False, name='lraspp/pooling/conv'
  )(gate)
  gate = tf_keras.layers.Activation('sigmoid', name='lraspp/sigmoid')(gate)
  x = tf_keras.layers.Multiply(name='lraspp/gate')([x, gate])
  x = model_layers.resize_to(x, low.shape[1:3], 'lraspp/upsample')
  x = tf_keras.layers.Conv2D(num_classes, 1, name='lraspp/high_logits')(x)
  low = tf_keras.layers.Conv2D(num_classes, 1, name='lraspp/low_logits')(low)
  return tf_keras.layers.Add(name='logits')([x, low])


def image_classifier(
  features: Features, *, num_classes: int, hidden_filters: Optional[int]
) -> tf.Tensor:
  """The ImageNet classifier the backbones were published with.

  Only used to check backbones against their papers' sizes (MobileNetV2
  Table 4 layout: pool + dense; MobileNetV3 Tables 1-2: pool, 1x1 conv with
  h-swish, 1x1 conv logits). Layer names are Keras applications' so the
  parameter count can be compared with them including the top.
  """
  x = features['5']
  if hidden_filters is None:
    x = tf_keras.layers.GlobalAveragePooling2D(name='avg_pool')(x)
    return tf_keras.layers.Dense(num_classes, name='predictions')(x)
  x = tf_keras.layers.GlobalAveragePooling2D(keepdims=True, name='avg_pool')(x)
  x = tf_keras.layers.Conv2D(hidden_filters, 1, name='Conv_2')(x)
  x = model_layers.HardSwish(name='Conv_2/hard_swish')(x)
  x = tf_keras.layers.Dropout(0.2, name='dropout')(x)
  x = tf_keras.layers.Conv2D(num_classes, 1, name='Logits')(x)
  return tf_keras.layers.Flatten(name='flatten')(x)
