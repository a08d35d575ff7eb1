"""Backbones: exact Keras applications twins, atrous output strides, levels."""

import numpy as np
import pytest
import tf_keras

from model import backbones
from model import builder
from model import pretrained
from model.config import ModelConfig

_APPLICATIONS = {
  'mobilenet_v2': tf_keras.applications.MobileNetV2,
  'mobilenet_v3_large': tf_keras.applications.MobileNetV3Large,
  'mobilenet_v3_small': tf_keras.applications.MobileNetV3Small,
}
SIZE = 96


def _keras_application(name, depth_multiplier):
  # V3 applications rescale [0, 255] inputs by default; ours take [-1, 1].
  extra = {} if name == 'mobilenet_v2' else {'include_preprocessing': False}
  return _APPLICATIONS[name](
    input_shape=(SIZE, SIZE, 3),
    weights=None,
    alpha=depth_multiplier,
    include_top=False,
    **extra,
  )


# The widths the presets use (pipeline/config.py: V2 at 1.0 and 0.5, V3-Small
# at 0.5) and V3-Large at its default.
@pytest.mark.parametrize(
  'name,depth_multiplier',
  [
    ('mobilenet_v2', 1.0),
    ('mobilenet_v2', 0.5),
    ('mobilenet_v3_small', 0.5),
    ('mobilenet_v3_large', 1.0),
  ],
)
def test_standard_backbone_computes_the_keras_application_without_top(
  name, depth_multiplier
):
  """Same weights, same input, same features: the twin computes, not just fits.

  Random BatchNorm statistics and a non-trivial input make every residual
  add, squeeze-excite gate and activation show in the output.
  """
  tf_keras.utils.set_random_seed(3)
  keras = _keras_application(name, depth_multiplier)
  rng = np.random.default_rng(0)
  for layer in keras.layers:
    if isinstance(layer, tf_keras.layers.BatchNormalization):
      gamma, beta, mean, variance = layer.get_weights()
      layer.set_weights(
        [
          rng.uniform(0.5, 1.5, gamma.shape),
          rng.uniform(-0.2, 0.2, beta.shape),
          rng.uniform(-0.2, 0.2, mean.shape),
          rng.uniform(0.5, 1.5, variance.shape),
        ]
      )
  ours = backbones.build_backbone(name, SIZE, depth_multiplier=depth_multiplier)
  assert ours.count_params() == keras.count_params()
  pretrained.copy_weights(keras, ours)

  images = rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
  expected = keras(images, training=False).numpy()
  actual = ours(images, training=False)['5'].numpy()
  assert actual.shape == expected.shape
  assert np.abs(expected).max() > 0.1  # Not a dead network.
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('name', ['mobilenet_v3_large', 'mobilenet_v3_small'])
def test_classifier_is_the_keras_application_with_top(name):
  ours = builder.build_classifier(
    ModelConfig(backbone=name, input_size=224, num_classes=1000)
  )
  keras = _APPLICATIONS[name](input_shape=(224, 224, 3), weights=None)
  assert ours.count_params() == keras.count_params()


@pytest.mark.parametrize('name', sorted(_APPLICATIONS))
@pytest.mark.parametrize('output_stride', [8, 16, 32])
def test_output_stride_sets_the_top_resolution(name, output_stride):
  features = backbones.build_backbone(
    name, 128, output_stride=output_stride
  ).output
  assert features['5'].shape[1:3] == (128 // output_stride,) * 2
  assert features['2'].shape[1:3] == (32, 32)
  assert features['3'].shape[1:3] == (16, 16)


@pytest.mark.parametrize(
  'output_stride,rates',
  [
    # slim/DeepLab rule: the first block that would stride keeps the old
    # rate and stride 1; the blocks after it multiply the rate by 2.
    (32, {}),
    (
      16,
      {
        'block_14_depthwise': 2,
        'block_15_depthwise': 2,
        'block_16_depthwise': 2,
      },
    ),
    (
      8,
      {
        **{f'block_{i}_depthwise': 2 for i in range(7, 13)},
        'block_13_depthwise': 2,
        'block_14_depthwise': 4,
        'block_15_depthwise': 4,
        'block_16_depthwise': 4,
      },
    ),
  ],
)
def test_atrous_rates_of_mobilenet_v2(output_stride, rates):
  model = backbones.build_backbone(
    'mobilenet_v2', 64, output_stride=output_stride
  )
  dilated = {
    layer.name: layer.dilation_rate[0]
    for layer in model.layers
    if isinstance(layer, tf_keras.layers.DepthwiseConv2D)
    and layer.dilation_rate[0] > 1
  }
  assert dilated == rates
  assert all(
    layer.strides == (1, 1) for layer in model.layers if layer.name in rates
  )


@pytest.mark.parametrize(
  'name,level_channels',
  [
    ('mobilenet_v2', {'2': 24, '3': 32, '4': 96, '5': 1280}),
    ('mobilenet_v3_large', {'2': 24, '3': 40, '4': 112, '5': 960}),
    ('mobilenet_v3_small', {'2': 16, '3': 24, '4': 48, '5': 576}),
  ],
)
def test_feature_levels_are_the_last_block_of_each_stride(name, level_channels):
  features = backbones.build_backbone(name, 64).output
  assert {
    level: features[level].shape[-1] for level in level_channels
  } == level_channels


def test_deeplab_mobilenet_v2_reads_the_320_channel_block():
  model = builder.build_model(ModelConfig(input_size=64))
  backbone = model.get_layer('mobilenet_v2')
  assert backbone.output['5'].shape[-1] == 320
  assert 'Conv_1' not in {layer.name for layer in backbone.layers}


def test_channel_divisor_1_keeps_deeplab_widths():
  """DeepLab's dm 0.5 MobileNetV2: 24 * 0.5 = 12 channels, not Keras' 16."""
  features = backbones.build_backbone(
    'mobilenet_v2', 64, depth_multiplier=0.5, channel_divisor=1
  ).output
  assert features['2'].shape[-1] == 12
  assert features['5'].shape[-1] == 1280  # the last conv is never thinned


@pytest.mark.parametrize(
  'value,rounded', [(12, 16), (8.4, 8), (44.8, 48), (20, 24), (72, 72), (4, 8)]
)
def test_make_divisible_rounds_like_keras(value, rounded):
  assert backbones.make_divisible(value) == rounded
