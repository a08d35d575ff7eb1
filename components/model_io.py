"""The serving model directory: a SavedModel plus what rebuilds it in Keras.

Besides the SavedModel (what TF Serving and the Evaluator load), the Trainer
writes into its `assets.extra/` the ModelConfig, the class names and the
Keras weights. The TFLite exporter rebuilds the exact Keras model from these
(model.builder) instead of reviving the SavedModel's generic layers.
"""

import dataclasses
import json
import os
from typing import List, Tuple

import tf_keras
from tfx.dsl.io import fileio

from data import labels as labels_lib
from model import builder
from model.config import ModelConfig

_EXTRA = 'assets.extra'
_CONFIG = 'model_config.json'
_WEIGHTS = 'keras_weights'  # TF checkpoint prefix: works on GCS too


def save_serving_model(
  model: tf_keras.Model,
  serving_dir: str,
  config: ModelConfig,
  labels: List[str],
  signatures,
) -> None:
  model.save(serving_dir, save_format='tf', signatures=signatures)
  fileio.makedirs(os.path.join(serving_dir, _EXTRA))
  with fileio.open(config_path(serving_dir), 'w') as f:
    f.write(json.dumps(config.to_dict(), indent=2))
  labels_lib.write_labels(labels_path(serving_dir), labels)
  model.save_weights(weights_path(serving_dir), save_format='tf')


def load_keras_model(
  serving_dir: str,
) -> Tuple[tf_keras.Model, ModelConfig, List[str]]:
  """(model with trained weights, its ModelConfig, class names)."""
  config, labels = load_config(serving_dir)
  # The trained weights replace any pretrained ones: do not fetch those.
  model = builder.build_model(
    dataclasses.replace(config, backbone_weights=None)
  )
  status = model.load_weights(weights_path(serving_dir))
  status.assert_existing_objects_matched().expect_partial()  # no optimizer
  return model, config, labels


def load_config(serving_dir: str) -> Tuple[ModelConfig, List[str]]:
  """(the model's ModelConfig, class names), without building the model."""
  config = ModelConfig.from_dict(
    json.loads(_read_text(config_path(serving_dir)))
  )
  return config, list(labels_lib.read_labels(labels_path(serving_dir)))


def config_path(serving_dir: str) -> str:
  return os.path.join(serving_dir, _EXTRA, _CONFIG)


def labels_path(serving_dir: str) -> str:
  return os.path.join(serving_dir, _EXTRA, labels_lib.LABELS_FILE)


def weights_path(serving_dir: str) -> str:
  """The Keras weights' TF checkpoint prefix (.index and .data-* files)."""
  return os.path.join(serving_dir, _EXTRA, _WEIGHTS)


def _read_text(path: str) -> str:
  with fileio.open(path, 'r') as f:
    return f.read()
