"""components.parent_model: where a parent is, what is refused, what loads."""

import json
import logging
import os
import shutil

import numpy as np
import pytest
import tf_keras

from components import artifacts
from components import model_io
from components import parent_model
from components import training
from model import builder
from model import metrics
from model.config import TrainConfig
from tests.fixtures import demo_batches

PEOPLE = ('background', 'person')


def test_the_three_places_a_parent_can_be(untrained_parent, tmp_path):
  serving = os.path.join(untrained_parent, 'Format-Serving')
  for path in (untrained_parent, serving, serving + '/'):
    parent = parent_model.find(path)
    assert parent.path == path  # As given, to name it in messages.
    assert parent.artifact_uri == untrained_parent
    assert parent.saved_model == serving
    assert parent.trainer_model == untrained_parent
    assert parent.labels == PEOPLE
    assert parent.model == model_io.load_config(serving)[0]
    assert parent.model.input_size == 32
  # A pushed version folder: the SavedModel at its top, its Trainer output
  # named by pushed_from.json.
  version = str(tmp_path / 'serving' / '1700000000')
  shutil.copytree(serving, version)
  with open(os.path.join(version, artifacts.SOURCE_FILE), 'w') as f:
    json.dump({'model': '/runs/x/pipeline/Trainer/model/3'}, f)
  parent = parent_model.find(version)
  assert (parent.artifact_uri, parent.saved_model) == (version, version)
  assert parent.trainer_model == '/runs/x/pipeline/Trainer/model/3'
  # What the Trainer gets as base_model: <artifact uri>/Format-Serving.
  assert (
    parent_model.from_base_model(os.path.join(version, 'Format-Serving'))
    == parent
  )


def test_a_path_without_a_model_is_refused(tmp_path):
  with pytest.raises(ValueError, match='no such file or folder'):
    parent_model.find(str(tmp_path / 'missing'))
  (tmp_path / 'photos').mkdir()
  with pytest.raises(ValueError) as error:
    parent_model.find(str(tmp_path / 'photos'))
  assert str(error.value) == (
    f'--init_from={tmp_path}/photos: holds no model: expected a pushed '
    'version folder, a Trainer model output or its SavedModel (a folder '
    'with saved_model.pb)'
  )


def test_a_parent_of_an_unreadable_model_config_is_refused(
  untrained_parent, tmp_path
):
  copy = str(tmp_path / 'copy')
  shutil.copytree(untrained_parent, copy)
  config_path = model_io.config_path(os.path.join(copy, 'Format-Serving'))
  with open(config_path) as f:
    config = json.load(f)
  with open(config_path, 'w') as f:
    json.dump({**config, 'backbone': 'resnet'}, f)
  with pytest.raises(ValueError) as error:
    parent_model.find(copy)
  assert str(error.value).startswith(
    f'{config_path}: not a valid ModelConfig (Invalid model config: '
    "backbone='resnet': must be one of"
  )


def test_a_savedmodel_this_project_did_not_write_is_refused(tmp_path):
  model = tf_keras.Sequential([tf_keras.layers.Dense(2, input_shape=(3,))])
  model.save(str(tmp_path / 'other'), save_format='tf')
  with pytest.raises(ValueError) as error:
    parent_model.find(str(tmp_path / 'other'))
  other = tmp_path / 'other'
  assert str(error.value) == (
    f'--init_from={other}: a SavedModel without '
    f'{other}/assets.extra/model_config.json: not a model this project '
    'trained (its Trainer stores the ModelConfig, labels and Keras weights '
    'in assets.extra/), so its architecture is unknown'
  )


@pytest.mark.parametrize(
  'damaged',
  [
    'Format-Serving/saved_model.pb',
    'Format-Serving/variables/variables.data-00000-of-00001',
    'Format-Serving/assets.extra/keras_weights.data-00000-of-00001',
  ],
)
def test_a_truncated_savedmodel_is_refused_naming_the_file(
  untrained_parent, tmp_path, damaged
):
  copy = str(tmp_path / 'copy')
  shutil.copytree(untrained_parent, copy)
  path = os.path.join(copy, damaged)
  with open(path, 'rb') as f:
    content = f.read()
  with open(path, 'wb') as f:
    f.write(content[: len(content) // 2])  # A copy that stopped half way.
  with pytest.raises(ValueError, match='truncated or corrupt') as error:
    parent_model.find(copy)
  stem = os.path.join(copy, damaged.split('.data-')[0].removesuffix('.pb'))
  serving = os.path.join(copy, 'Format-Serving')
  if damaged.endswith('.pb'):
    assert str(error.value).startswith(
      f'{stem}.pb: truncated or corrupt SavedModel ({len(content) // 2} '
      'bytes): '
    )
  else:
    # The first line of TensorFlow's own message.
    assert str(error.value) == (
      f'{stem}: truncated or corrupt weights of the SavedModel at {serving}: '
      'Read less bytes than requested'
    )


def test_same_labels_keep_every_weight(untrained_parent, caplog):
  parent = parent_model.find(untrained_parent)
  model = builder.build_model(parent.model)
  with caplog.at_level(logging.INFO, logger='absl'):
    assert parent_model.initialize(model, parent, PEOPLE) == ()
  assert (
    f'Initialized every weight from {parent.saved_model} (same labels '
    "['background', 'person'])"
  ) in caplog.messages
  source, _, _ = model_io.load_keras_model(parent.saved_model)
  for got, want in zip(model.get_weights(), source.get_weights(), strict=True):
    np.testing.assert_array_equal(got, want)


def test_other_labels_reinitialize_only_the_classifier(
  untrained_parent, caplog
):
  parent = parent_model.find(untrained_parent)
  labels = ('background', 'person', 'hair')
  config = parent.model.__class__(
    **{**parent.model.to_dict(), 'num_classes': 3}
  )
  model = builder.build_model(config)
  fresh = {layer.name: layer.get_weights() for layer in model.layers}
  with caplog.at_level(logging.INFO, logger='absl'):
    assert parent_model.initialize(model, parent, labels) == ('logits',)
  assert (
    f'Initialized from {parent.saved_model} except the classifier '
    "['logits'], re-initialized: its labels ['background', 'person'] differ "
    "from ['background', 'person', 'hair']"
  ) in caplog.messages
  source, _, _ = model_io.load_keras_model(parent.saved_model)
  for layer, loaded in zip(model.layers, source.layers, strict=True):
    want = fresh[layer.name] if layer.name == 'logits' else loaded.get_weights()
    for got, expected in zip(layer.get_weights(), want, strict=True):
      np.testing.assert_array_equal(got, expected)
  assert model.get_layer('logits').get_weights()[0].shape[-1] == 3


def _person_iou(model, dataset, batches):
  matrix = 0
  for images, masks in dataset.take(batches):
    predictions = np.argmax(model.predict(images, verbose=0), axis=-1)
    matrix = matrix + metrics.confusion_matrix(
      masks.numpy()[..., 0], predictions, 2
    )
  return metrics.scores_from_confusion(matrix, PEOPLE)['per_class_iou'][
    'person'
  ]


@pytest.mark.slow
def test_fine_tuning_beats_the_same_steps_from_scratch(
  trained_parent, tmp_path
):
  # New people in another setting: another seed, two background styles.
  new_people = dict(size=64, backgrounds=('checks', 'stripes'))
  train = demo_batches.demo_dataset(count=24, seed=21, **new_people)
  held_out = demo_batches.demo_dataset(count=16, seed=22, **new_people)
  config = TrainConfig(
    train_steps=30,
    batch_size=4,
    base_lr=0.003,
    optimizer='adam',
    weight_decay=0.0,
    steps_per_epoch=30,
  )
  parent = parent_model.find(trained_parent)
  scores = {}
  for start in ('parent', 'scratch'):
    training.tf_keras.utils.set_random_seed(1)
    model = builder.build_model(parent.model)
    if start == 'parent':
      parent_model.initialize(model, parent, PEOPLE)
    training.fit(
      model, train, config, str(tmp_path / start), str(tmp_path / 'logs')
    )
    scores[start] = _person_iou(model, held_out, 4)
  # Measured: person IoU 0.35 fine-tuned, 0.00 from scratch (the parent
  # itself scores 0.40 on these people).
  # A gap of 0.2 or more: the parent's features carry over.
  assert scores['parent'] > scores['scratch'] + 0.2, scores
