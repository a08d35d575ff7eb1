"""The model a run fine-tunes from (`--init_from`): found, checked, loaded.

A parent is a model this project trained, in any of three places:
  - a version folder the MobilePusher published (<serving>/<version>/);
  - a Trainer model output (<pipeline>/Trainer/model/<execution id>/);
  - that output's SavedModel (<...>/Format-Serving/).
Each holds a SavedModel whose assets.extra/ keeps the ModelConfig, the labels
and the Keras weights (components.model_io). The child's architecture is the
stored ModelConfig, and its weights are loaded into a fresh build of it.
`find` checks all of that before a run starts, so a wrong path fails in
seconds, not after ExampleGen and Transform.

In a pipeline, the parent is a Model artifact (an Importer feeding the
Trainer's `base_model`), so ML Metadata records what a run started from.
"""

import dataclasses
import json
import os
from typing import Optional, Sequence, Tuple

from absl import logging
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
import tf_keras
from tfx.dsl.io import fileio
from tfx.utils import path_utils

from components import artifacts
from components import model_io
from model.config import ModelConfig

_SAVED_MODEL_PB = 'saved_model.pb'
_VARIABLES = os.path.join('variables', 'variables')
# The layers whose output channels are the classes (model.heads): the only
# ones a different label set cannot keep.
CLASSIFIER_LAYERS = ('logits', 'lraspp/high_logits', 'lraspp/low_logits')


@dataclasses.dataclass(frozen=True)
class Parent:
  """A checked parent model.

  Attributes:
    path: the path as the user gave it.
    artifact_uri: what a pipeline imports as the Model artifact: the
      Trainer output (the folder above Format-Serving) or the version
      folder.
    saved_model: the SavedModel folder.
    model: its stored ModelConfig.
    labels: its class names, in class-id order.
    trainer_model: the Trainer output it came from (the output itself, or
      what a pushed version's pushed_from.json names); None if unknown.
  """

  path: str
  artifact_uri: str
  saved_model: str
  model: ModelConfig
  labels: Tuple[str, ...]
  trainer_model: Optional[str]


def find(path: str) -> Parent:
  """The parent model at `path`; ValueError saying why it cannot be one."""
  given = path
  path = path.rstrip('/')
  if not fileio.exists(path):
    raise ValueError(f'--init_from={given}: no such file or folder')
  saved_model = _saved_model_dir(path)
  if saved_model is None:
    raise ValueError(
      f'--init_from={given}: holds no model: expected a pushed version '
      'folder, a Trainer model output or its SavedModel (a folder with '
      f'{_SAVED_MODEL_PB})'
    )
  config_path = model_io.config_path(saved_model)
  if not fileio.exists(config_path):
    raise ValueError(
      f'--init_from={given}: a SavedModel without {config_path}: not a '
      'model this project trained (its Trainer stores the ModelConfig, '
      'labels and Keras weights in assets.extra/), so its architecture '
      'is unknown'
    )
  try:
    model, labels = model_io.load_config(saved_model)
  except (ValueError, TypeError) as e:
    raise ValueError(f'{config_path}: not a valid ModelConfig ({e})') from e
  _check_complete(saved_model)
  above = os.path.dirname(saved_model)
  trainer_output = saved_model == path_utils.serving_model_dir(above)
  artifact_uri = above if trainer_output else saved_model
  return Parent(
    path=given,
    artifact_uri=artifact_uri,
    saved_model=saved_model,
    model=model,
    labels=tuple(labels),
    trainer_model=artifact_uri if trainer_output else _pushed_from(path),
  )


def from_base_model(base_model: str) -> Parent:
  """The parent behind the Trainer's fn_args.base_model.

  TFX hands the Trainer `<artifact uri>/Format-Serving`; for a pushed
  version folder that path does not exist, so look from the artifact.
  """
  return find(os.path.dirname(base_model.rstrip('/')))


def initialize(
  model: tf_keras.Model, parent: Parent, labels: Sequence[str]
) -> Tuple[str, ...]:
  """Loads the parent's weights into `model`, built from parent.model.

  With the parent's label set, every weight is kept. With another one, the
  classifier layers (CLASSIFIER_LAYERS) keep their fresh initialization and
  every other layer takes the parent's weights.

  Returns:
    The names of the layers left re-initialized (empty: all kept).
  """
  source, _, _ = model_io.load_keras_model(parent.saved_model)
  if tuple(labels) == parent.labels:
    model.set_weights(source.get_weights())
    logging.info(
      'Initialized every weight from %s (same labels %s)',
      parent.saved_model,
      list(labels),
    )
    return ()
  kept_out = []
  for target_layer, source_layer in zip(
    model.layers, source.layers, strict=True
  ):
    if target_layer.name in CLASSIFIER_LAYERS:
      kept_out.append(target_layer.name)
    else:
      target_layer.set_weights(source_layer.get_weights())
  logging.info(
    'Initialized from %s except the classifier %s, re-initialized: its '
    'labels %s differ from %s',
    parent.saved_model,
    kept_out,
    list(parent.labels),
    list(labels),
  )
  return tuple(kept_out)


def _saved_model_dir(path: str) -> Optional[str]:
  for candidate in (path, path_utils.serving_model_dir(path)):
    if fileio.exists(os.path.join(candidate, _SAVED_MODEL_PB)):
      return candidate
  return None


def _check_complete(saved_model: str) -> None:
  """ValueError naming the file if the SavedModel or a weight is cut short.

  Parses the graph and reads every tensor of both checkpoints: a copy that
  stopped half way fails here rather than in the Trainer.
  """
  graph = os.path.join(saved_model, _SAVED_MODEL_PB)
  with fileio.open(graph, 'rb') as f:
    content = f.read()
  try:
    saved_model_pb2.SavedModel.FromString(content)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(
      f'{graph}: truncated or corrupt SavedModel ({len(content)} bytes): {e}'
    ) from e
  for prefix in (
    os.path.join(saved_model, _VARIABLES),
    model_io.weights_path(saved_model),
  ):
    try:
      reader = tf.train.load_checkpoint(prefix)
      for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError) as e:
      message = getattr(e, 'message', str(e)).splitlines()[0]
      raise ValueError(
        f'{prefix}: truncated or corrupt weights of the SavedModel at '
        f'{saved_model}: {message}'
      ) from e


def _pushed_from(version_dir: str) -> Optional[str]:
  """The Trainer output a pushed version names, if it names one."""
  source = os.path.join(version_dir, artifacts.SOURCE_FILE)
  if not fileio.exists(source):
    return None
  with fileio.open(source) as f:
    return json.load(f).get('model')
