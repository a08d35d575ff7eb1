"""components.model_io: a trained model read back from its SavedModel."""

import json
import os

import numpy as np
import tensorflow as tf
import tf_keras

from components import model_io
from data import labels as labels_lib
from model import builder
from model.config import ModelConfig


def test_a_model_trained_from_imagenet_weights_loads_without_them(tmp_path):
  """Its config still names the ImageNet weights it started from; loading
  the trained weights must not fetch those (offline, or gone since)."""
  config = ModelConfig(backbone='mobilenet_v3_small', input_size=32)
  tf_keras.utils.set_random_seed(0)
  model = builder.build_model(config)
  serving = str(tmp_path / 'Format-Serving')
  os.makedirs(os.path.dirname(model_io.config_path(serving)))
  started_from = str(tmp_path / 'gone' / 'imagenet.h5')
  with open(model_io.config_path(serving), 'w') as f:
    json.dump({**config.to_dict(), 'backbone_weights': started_from}, f)
  labels_lib.write_labels(model_io.labels_path(serving), ['bg', 'person'])
  model.save_weights(model_io.weights_path(serving), save_format='tf')

  loaded, loaded_config, labels = model_io.load_keras_model(serving)
  assert loaded_config.backbone_weights == started_from
  assert labels == ['bg', 'person']
  for got, want in zip(loaded.get_weights(), model.get_weights(), strict=True):
    np.testing.assert_array_equal(got, want)


def test_the_serving_folder_holds_the_saved_model_and_its_extras(
  tiny_saved_model,
):
  """What save_serving_model writes (on the tiny_saved_model fixture): the
  SavedModel, and in assets.extra/ the config, the class names and the
  Keras weights as a TF checkpoint."""
  from tests.fixtures import make_tiny_segmenter
  from tests.fixtures import tiny_model

  assert os.path.isfile(os.path.join(tiny_saved_model, 'saved_model.pb'))
  extras = os.path.join(tiny_saved_model, 'assets.extra')
  assert model_io.config_path(tiny_saved_model) == os.path.join(
    extras, 'model_config.json'
  )
  config, labels = model_io.load_config(tiny_saved_model)
  assert config == ModelConfig(
    input_size=tiny_model.SAVED_MODEL_SIZE, num_classes=2
  )
  assert labels == tiny_model.LABELS
  with open(os.path.join(extras, 'labels.txt')) as f:
    assert f.read() == 'background\nperson\n'
  weights = model_io.weights_path(tiny_saved_model)
  assert weights == os.path.join(extras, 'keras_weights')
  (kernel,) = make_tiny_segmenter.build().get_weights()
  checkpoint = tf.train.load_checkpoint(weights)
  stored = [
    checkpoint.get_tensor(name)
    for name in checkpoint.get_variable_to_shape_map()
    if name.endswith('kernel/.ATTRIBUTES/VARIABLE_VALUE')
  ]
  assert len(stored) == 1
  np.testing.assert_array_equal(stored[0], kernel)
