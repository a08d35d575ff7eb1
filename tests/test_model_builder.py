"""build_model: the interface the Trainer relies on, and the DeepLab wiring."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from model import builder
from model.config import ModelConfig

SIZE = 64


def _layer_shape(model, name):
  return tuple(model.get_layer(name).output.shape[1:])


@pytest.mark.parametrize(
  'backbone,head',
  [
    ('mobilenet_v2', 'deeplabv3plus'),
    ('mobilenet_v3_large', 'lraspp'),
    ('mobilenet_v3_small', 'deeplabv3plus'),
  ],
)
def test_logits_at_input_resolution(backbone, head):
  model = builder.build_model(
    ModelConfig(backbone=backbone, head=head, num_classes=5, input_size=SIZE)
  )
  images = np.random.RandomState(0).uniform(0, 255, (2, SIZE, SIZE, 3))
  logits = model(images.astype(np.float32))
  assert logits.shape == (2, SIZE, SIZE, 5)
  assert logits.dtype == tf.float32
  assert model.input.dtype == tf.float32


def test_normalization_inside_model_maps_pixels_to_unit_range():
  model = builder.build_model(ModelConfig(input_size=SIZE))
  normalize = model.get_layer('normalize')
  np.testing.assert_allclose(
    normalize(np.array([0.0, 127.5, 255.0])).numpy(), [-1.0, 0.0, 1.0]
  )


@pytest.mark.parametrize(
  'decoder,logits_size', [(True, SIZE // 4), (False, SIZE // 16)]
)
def test_decoder_predicts_at_output_stride_4(decoder, logits_size):
  model = builder.build_model(ModelConfig(decoder=decoder, input_size=SIZE))
  assert _layer_shape(model, 'logits')[:2] == (logits_size, logits_size)
  names = {layer.name for layer in model.layers}
  assert ('decoder/low_level' in names) == decoder
  if decoder:
    assert _layer_shape(model, 'decoder/low_level') == (16, 16, 48)
    assert _layer_shape(model, 'decoder/conv2/pointwise') == (16, 16, 256)


@pytest.mark.parametrize(
  'output_stride,rates', [(16, (6, 12, 18)), (8, (12, 24, 36)), (32, (3, 6, 9))]
)
def test_aspp_rates_scale_with_output_stride(output_stride, rates):
  model = builder.build_model(
    ModelConfig(aspp=True, output_stride=output_stride, input_size=SIZE)
  )
  dilations = sorted(
    layer.dilation_rate[0]
    for layer in model.layers
    if layer.name.startswith('aspp/atrous_rate_')
    and layer.name.endswith('/depthwise')
  )
  assert tuple(dilations) == rates
  assert _layer_shape(model, 'aspp/projection/relu') == (
    SIZE // output_stride,
    SIZE // output_stride,
    256,
  )
  # DeepLab's keep probability of 0.9 after the projection, in training.
  dropout = model.get_layer('aspp/dropout')
  assert isinstance(dropout, tf_keras.layers.Dropout) and dropout.rate == 0.1


@pytest.mark.parametrize('quant_friendly', [False, True])
def test_separable_convs_are_3x3_depthwise_without_bias(quant_friendly):
  """DeepLabV3+ (arXiv 1802.02611, section 3.1): ASPP's atrous branches
  and the decoder's two convs are 3x3 depthwise (the decoder's at rate 1),
  each followed by BatchNorm, so no bias; 1x1 pointwise after them."""
  model = builder.build_model(
    ModelConfig(
      aspp=True, decoder=True, input_size=SIZE, quant_friendly=quant_friendly
    )
  )
  depthwise = {
    layer.name: layer
    for layer in model.layers
    if layer.name.startswith(('aspp/', 'decoder/'))
    and layer.name.endswith('/depthwise')
  }
  assert sorted(depthwise) == [
    'aspp/atrous_rate_12/depthwise',
    'aspp/atrous_rate_18/depthwise',
    'aspp/atrous_rate_6/depthwise',
    'decoder/conv1/depthwise',
    'decoder/conv2/depthwise',
  ]
  for name, layer in depthwise.items():
    assert isinstance(layer, tf_keras.layers.DepthwiseConv2D), name
    assert (layer.kernel_size, layer.use_bias) == ((3, 3), False), name
    assert layer.padding == 'same', name
    if name.startswith('decoder/'):
      assert layer.dilation_rate == (1, 1), name
    pointwise = model.get_layer(name.replace('/depthwise', '/pointwise'))
    assert (pointwise.kernel_size, pointwise.use_bias) == ((1, 1), False)
    # Quant-friendly drops BatchNorm and ReLU between the two convs.
    between = {
      layer.name for layer in model.layers if layer.name.startswith(name + '/')
    }
    assert between == (
      set() if quant_friendly else {name + '/BatchNorm', name + '/relu'}
    ), name


def test_without_aspp_head_is_image_pooling_and_1x1():
  model = builder.build_model(ModelConfig(aspp=False, input_size=SIZE))
  aspp = {
    layer.name
    for layer in model.layers
    if layer.name.startswith('aspp/') and layer.weights
  }
  assert not any('atrous' in name for name in aspp)
  assert 'aspp/conv_1x1' in aspp and 'aspp/image_pooling/conv' in aspp


def test_quant_friendly_separable_convs_have_no_depthwise_bn_nor_relu6():
  model = builder.build_model(
    ModelConfig(quant_friendly=True, aspp=True, input_size=SIZE)
  )
  layers = list(_all_layers(model))
  names = {layer.name for layer in layers}
  depthwise = [
    layer.name
    for layer in layers
    if isinstance(layer, tf_keras.layers.DepthwiseConv2D)
  ]
  assert len(depthwise) == 17 + 3 + 2  # backbone + ASPP + decoder
  assert not any(
    f'{name}_BN' in names or f'{name}/BatchNorm' in names for name in depthwise
  )
  relus = [layer for layer in layers if isinstance(layer, tf_keras.layers.ReLU)]
  assert relus and all(relu.max_value is None for relu in relus)


def test_standard_model_keeps_relu6_and_depthwise_bn():
  layers = list(_all_layers(builder.build_model(ModelConfig(input_size=SIZE))))
  names = {layer.name for layer in layers}
  assert 'block_5_depthwise_BN' in names
  assert 'decoder/conv1/depthwise/BatchNorm' in names
  assert any(
    isinstance(layer, tf_keras.layers.ReLU) and layer.max_value == 6.0
    for layer in layers
  )


@pytest.mark.slow
def test_round_trips_through_savedmodel(tmp_path):
  """Every layer serialises (training is components.training's test)."""
  tf_keras.utils.set_random_seed(0)
  model = builder.build_model(ModelConfig(input_size=SIZE, num_classes=3))
  # Moving statistics away from their initial values, so a BatchNorm that
  # reloads without them shows.
  for layer in _all_layers(model):
    if isinstance(layer, tf_keras.layers.BatchNormalization):
      layer.set_weights(
        [np.random.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()]
      )
  images = (
    np.random.RandomState(0).uniform(0, 255, (2, SIZE, SIZE, 3))
  ).astype(np.float32)
  model.save(str(tmp_path / 'saved_model'))
  reloaded = tf_keras.models.load_model(str(tmp_path / 'saved_model'))
  np.testing.assert_allclose(
    reloaded(images).numpy(), model(images).numpy(), atol=1e-4
  )


def _all_layers(model):
  """Layers of a model and of the models nested in it (the backbone)."""
  for layer in model.layers:
    if isinstance(layer, tf_keras.Model):
      yield from _all_layers(layer)
    else:
      yield layer


def test_logits_are_upsampled_bilinearly_before_any_argmax():
  """DeepLab upsamples logits bilinearly to the input, then takes the argmax.

  The output is the head's logits resized with half-pixel centres; ids
  resized by nearest neighbour would put every boundary on the model's grid.
  """
  model = builder.build_model(
    ModelConfig(depth_multiplier=0.5, input_size=SIZE, num_classes=3)
  )
  upsample = model.get_layer('upsample_logits')
  probe = tf_keras.Model(model.input, [upsample.input, model.output])
  images = np.random.RandomState(1).uniform(0, 255, (1, SIZE, SIZE, 3))
  head_logits, logits = probe(images.astype(np.float32))
  assert head_logits.shape[1] == SIZE // 4
  # Freshly initialised logits are small: compare relative to their range.
  scale = float(np.ptp(head_logits))
  assert scale > 0
  np.testing.assert_allclose(
    logits.numpy() / scale,
    tf.image.resize(head_logits, [SIZE, SIZE], method='bilinear').numpy()
    / scale,
    atol=1e-4,
  )


def test_under_mixed_precision_the_logits_come_out_in_float32():
  """Keras's mixed precision guide: the loss and softmax need float32
  logits; the float32 model has no extra layer."""
  policy = tf_keras.mixed_precision.global_policy()
  tf_keras.mixed_precision.set_global_policy('mixed_float16')
  try:
    mixed = builder.build_model(ModelConfig(input_size=SIZE))
  finally:
    tf_keras.mixed_precision.set_global_policy(policy)
  assert mixed.get_layer('upsample_logits').compute_dtype == 'float16'
  assert mixed.output.dtype == tf.float32
  assert mixed.get_layer('logits_float32').compute_dtype == 'float32'
  plain = builder.build_model(ModelConfig(input_size=SIZE))
  assert 'logits_float32' not in {layer.name for layer in plain.layers}
  assert plain.output.dtype == tf.float32
  # Names a summary, TensorBoard's graph and the TFLite input show.
  assert (plain.name, plain.input.name) == (
    'mobilenet_v2_1.0_deeplabv3plus_os16',
    'image',
  )
