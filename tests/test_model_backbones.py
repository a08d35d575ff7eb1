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


@pytest.fixture
def float64():
  """Layers built in float64: float32's rounding, amplified by a network
  whose signal is alive to the top, reaches 3e-5 between two orders of the
  same operations; in float64 it is far below the 1e-5 compared.

  The policy too: once any test has set a global policy (and put the old
  one back), layers take their dtype from it, no longer from floatx.
  """
  policy = tf_keras.mixed_precision.global_policy()
  tf_keras.backend.set_floatx('float64')
  tf_keras.mixed_precision.set_global_policy('float64')
  yield
  tf_keras.mixed_precision.set_global_policy(policy)
  tf_keras.backend.set_floatx('float32')


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
  name, depth_multiplier, float64
):
  """Same weights, same input, same features: the twin computes, not just fits.

  Random BatchNorm statistics and a non-trivial input make every residual
  add, squeeze-excite gate and activation show in the output.
  """
  tf_keras.utils.set_random_seed(3)
  keras = _keras_application(name, depth_multiplier)
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (4, SIZE, SIZE, 3))
  _calibrate_batch_norms(keras, rng, images)
  ours = backbones.build_backbone(name, SIZE, depth_multiplier=depth_multiplier)
  assert ours.count_params() == keras.count_params()
  pretrained.copy_weights(keras, ours)

  expected = keras(images[:2], training=False).numpy()
  actual = ours(images[:2], training=False)['5'].numpy()
  assert actual.shape == expected.shape
  assert actual.dtype == expected.dtype == np.float64
  # The input shows at the top: the features of two images differ.
  assert np.abs(expected[0] - expected[1]).mean() > 0.1
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def _calibrate_batch_norms(model, rng, images):
  """Random BatchNorm scales and offsets, statistics measured on `images`.

  Keras's initial statistics (mean 0, variance 1) do not fit random conv
  weights: the input's signal fades within a few blocks, and every image
  then gives the same features. Measured statistics keep it alive to the
  top, so every layer's computation shows in the output.
  """
  batch_norms = [
    layer
    for layer in model.layers
    if isinstance(layer, tf_keras.layers.BatchNormalization)
  ]
  for layer in batch_norms:
    gamma, beta, mean, variance = layer.get_weights()
    layer.set_weights(
      [
        rng.uniform(0.5, 1.5, gamma.shape),
        rng.uniform(-0.2, 0.2, beta.shape),
        mean,
        variance,
      ]
    )
    layer.momentum, momentum = 0.0, layer.momentum
  model(images, training=True)  # Moving statistics := this batch's.
  for layer in batch_norms:
    layer.momentum = momentum


# V2's top is pooling and a dense layer; V3's a pooled 1x1 conv, hard-swish
# and a 1x1 conv of logits, that conv wider above depth multiplier 1.
@pytest.mark.parametrize(
  'name,depth_multiplier',
  [
    ('mobilenet_v2', 1.4),
    ('mobilenet_v3_small', 1.0),
    ('mobilenet_v3_large', 1.25),
  ],
)
def test_classifier_computes_the_keras_application_with_top(
  name, depth_multiplier, float64
):
  """`python -m model.profile --classifier` measures this model against
  the papers' classifiers: it must be them, weights copied, to 1e-5."""
  tf_keras.utils.set_random_seed(4)
  keras = _APPLICATIONS[name](
    input_shape=(SIZE, SIZE, 3),
    weights=None,
    alpha=depth_multiplier,
    classes=7,
    classifier_activation=None,
  )
  rng = np.random.default_rng(1)
  pixels = rng.uniform(0, 255, (4, SIZE, SIZE, 3))
  # Ours takes camera pixels; Keras's V2 takes them normalized to [-1, 1].
  keras_input = pixels / 127.5 - 1 if name == 'mobilenet_v2' else pixels
  _calibrate_batch_norms(keras, rng, keras_input)
  ours = builder.build_classifier(
    ModelConfig(
      backbone=name,
      depth_multiplier=depth_multiplier,
      input_size=SIZE,
      num_classes=7,
      channel_divisor=8,  # Keras's widths at every depth multiplier.
    )
  )
  assert ours.count_params() == keras.count_params()
  assert ours.input.shape == (None, SIZE, SIZE, 3)
  assert ours.name == f'{name}_classifier'
  pretrained.copy_weights(keras, ours.get_layer(name))
  top = {'mobilenet_v2': ['predictions']}.get(name, ['Conv_2', 'Logits'])
  for layer in top:
    ours.get_layer(layer).set_weights(keras.get_layer(layer).get_weights())

  expected = keras(keras_input[:2], training=False).numpy()
  actual = ours(pixels[:2], training=False).numpy()
  assert actual.shape == expected.shape == (2, 7)
  assert actual.dtype == expected.dtype == np.float64
  assert np.abs(expected[0] - expected[1]).max() > 0.1  # Input matters.
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_classifier_is_built_on_the_configs_backbone():
  """Quant-friendly, and rounded by DeepLab's rule (MobileNetV2 at 0.5:
  widths not rounded to 8), as the segmentation model's backbone is."""
  config = ModelConfig(
    depth_multiplier=0.5, quant_friendly=True, input_size=64, num_classes=3
  )
  backbone = builder.build_classifier(config).get_layer('mobilenet_v2')
  twin = backbones.build_backbone(
    'mobilenet_v2',
    64,
    depth_multiplier=0.5,
    quant_friendly=True,
    channel_divisor=1,
  )
  assert [w.shape for w in backbone.weights] == [w.shape for w in twin.weights]


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


def test_mobilenet_v3_heads_read_its_last_1x1_conv():
  """MobileNetV3's last stage ends in its 1x1 conv (paper, section 5.1)."""
  model = builder.build_model(
    ModelConfig(backbone='mobilenet_v3_small', head='lraspp', input_size=64)
  )
  assert model.get_layer('mobilenet_v3_small').output['5'].shape[-1] == 576


def test_channel_divisor_1_keeps_deeplab_widths():
  """DeepLab's dm 0.5 MobileNetV2: 24 * 0.5 = 12 channels, not Keras' 16."""
  model = backbones.build_backbone(
    'mobilenet_v2', 64, depth_multiplier=0.5, channel_divisor=1
  )
  assert model.output['2'].shape[-1] == 12
  assert model.output['5'].shape[-1] == 1280  # the last conv is never thinned
  # Every block's output width: the paper's table 2 at half width.
  widths = [16, 8] + [12] * 2 + [16] * 3 + [32] * 4 + [48] * 3 + [80] * 3
  assert [
    layer.filters
    for layer in model.layers
    if layer.name == 'Conv1' or layer.name.endswith('project')
  ] == widths + [160]
  # The stem too: 32 * 0.35 = 11.2 is 11 channels (8 would make it 16).
  thin = backbones.build_backbone(
    'mobilenet_v2', 32, depth_multiplier=0.35, channel_divisor=1
  )
  assert thin.get_layer('Conv1').filters == 11


@pytest.mark.parametrize(
  'value,rounded', [(12, 16), (8.4, 8), (44.8, 48), (20, 24), (72, 72), (4, 8)]
)
def test_make_divisible_rounds_like_keras(value, rounded):
  assert backbones.make_divisible(value) == rounded
