"""ImageNet initialisation: Keras applications weights load layer by layer."""

import socket

import numpy as np
import pytest
import tf_keras

from model import builder
from model import pretrained
from model.config import ModelConfig

SIZE = 64


@pytest.fixture(scope='module')
def keras_weights(tmp_path_factory):
  """Weights files saved from randomly initialised Keras applications."""
  folder = tmp_path_factory.mktemp('weights')
  paths = {}
  for name, application in [
    ('mobilenet_v2', tf_keras.applications.MobileNetV2),
    ('mobilenet_v3_small', tf_keras.applications.MobileNetV3Small),
  ]:
    tf_keras.utils.set_random_seed(1)
    model = application(
      input_shape=(96, 96, 3), include_top=False, weights=None
    )
    # Random BN statistics, so a skipped BatchNorm would show.
    for layer in model.layers:
      if isinstance(layer, tf_keras.layers.BatchNormalization):
        layer.set_weights(
          [np.random.uniform(0.5, 2.0, w.shape) for w in layer.get_weights()]
        )
    paths[name] = str(folder / f'{name}_no_top.h5')
    model.save_weights(paths[name])
    paths[name, 'model'] = model
  return paths


@pytest.mark.parametrize('name', ['mobilenet_v2', 'mobilenet_v3_small'])
@pytest.mark.parametrize('quant_friendly', [False, True])
def test_local_weights_file_fills_every_backbone_layer(
  keras_weights, name, quant_friendly
):
  source = keras_weights[name, 'model']
  model = builder.build_model(
    ModelConfig(
      backbone=name,
      input_size=SIZE,
      quant_friendly=quant_friendly,
      backbone_weights=keras_weights[name],
    )
  )
  backbone = model.get_layer(name)
  weighted = [layer for layer in backbone.layers if layer.weights]
  checked = 0
  for layer in weighted:
    for ours, theirs in zip(
      layer.get_weights(),
      source.get_layer(layer.name).get_weights(),
      strict=True,
    ):
      np.testing.assert_array_equal(ours, theirs)
      checked += 1
  assert checked == sum(len(layer.weights) for layer in weighted)
  assert checked > 100


def test_missing_file_is_named(tmp_path):
  path = str(tmp_path / 'nope.h5')
  with pytest.raises(FileNotFoundError, match='nope.h5'):
    builder.build_model(ModelConfig(input_size=SIZE, backbone_weights=path))


def test_weights_of_another_backbone_are_refused(keras_weights):
  path = keras_weights['mobilenet_v3_small']
  with pytest.raises(ValueError) as error:
    builder.build_model(ModelConfig(input_size=SIZE, backbone_weights=path))
  assert str(error.value).startswith(
    f'backbone_weights={path!r}: cannot load into '
    'tf_keras.applications.MobileNetV2(alpha=1.0, include_top=False): '
  )


def test_a_file_that_is_not_weights_is_refused(tmp_path):
  path = tmp_path / 'weights.h5'
  path.write_text('not HDF5')
  with pytest.raises(ValueError) as error:
    builder.build_model(
      ModelConfig(input_size=SIZE, backbone_weights=str(path))
    )
  assert str(error.value).startswith(
    f"backbone_weights='{path}': not a weights file of "
    'tf_keras.applications.MobileNetV2(alpha=1.0, include_top=False): '
  )


def test_imagenet_weights_keras_does_not_publish_are_refused():
  with pytest.raises(ValueError, match='alpha can be one of'):
    builder.build_model(
      ModelConfig(
        backbone='mobilenet_v3_small',
        depth_multiplier=0.5,
        input_size=SIZE,
        backbone_weights='imagenet',
      )
    )


def test_imagenet_offline_fails_with_a_clear_message(monkeypatch, tmp_path):
  monkeypatch.setenv('HOME', str(tmp_path))  # no cached Keras weights

  def offline(*unused_args, **unused_kwargs):
    raise OSError('network is unreachable')

  monkeypatch.setattr(socket.socket, 'connect', offline)
  monkeypatch.setattr(socket, 'create_connection', offline)
  with pytest.raises(RuntimeError, match='Offline') as error:
    builder.build_model(
      ModelConfig(input_size=SIZE, backbone_weights='imagenet')
    )
  assert "backbone_weights='imagenet'" in str(error.value)
  assert 'pass its path as backbone_weights' in str(error.value)


def test_copy_weights_names_the_layer_that_does_not_fit():
  def model(name, units, layer_name):
    return tf_keras.Sequential(
      [tf_keras.layers.Dense(units, input_shape=(3,), name=layer_name)],
      name=name,
    )

  with pytest.raises(ValueError) as error:
    pretrained.copy_weights(model('keras', 4, 'a'), model('ours', 4, 'b'))
  assert str(error.value) == (
    "layer 'b' of backbone 'ours' has no counterpart in 'keras': "
    'architectures differ'
  )
  with pytest.raises(ValueError) as error:
    pretrained.copy_weights(model('keras', 4, 'a'), model('ours', 5, 'a'))
  assert str(error.value) == (
    "layer 'a': weight shapes [TensorShape([3, 4]), TensorShape([4])] in "
    "'keras' but [TensorShape([3, 5]), TensorShape([5])] in 'ours' "
    '(different depth_multiplier?)'
  )
