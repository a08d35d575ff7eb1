"""components.pusher: the gates, and a push that is all or nothing."""

import json
import os
import shutil

import pytest
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components import artifacts as artifacts_lib
from components import pusher
from components.artifacts import TFLiteModel

TFLITE_FILES = (
  'model.tflite',
  'model_fp16.tflite',
  'model_int8.tflite',
  'frozen_model.pb',
  'labels.txt',
  'metadata.json',
  'metrics.json',
)


@pytest.fixture
def model_dirs(tmp_path):
  serving = tmp_path / 'serving_model'
  (serving / 'variables').mkdir(parents=True)
  (serving / 'saved_model.pb').write_bytes(b'graph')
  (serving / 'variables' / 'variables.index').write_bytes(b'index')
  tflite = tmp_path / 'tflite'
  tflite.mkdir()
  for name in TFLITE_FILES:
    (tflite / name).write_text(name)
  (tflite / artifacts_lib.CONVERTER_LOG_FILE).write_text('not published')
  return str(serving), str(tflite)


def artifacts(tmp_path, blessed, float_iou, int8_iou):
  blessing = standard_artifacts.ModelBlessing()
  blessing.set_int_custom_property('blessed', int(blessed))
  tflite = TFLiteModel()
  tflite.uri = str(tmp_path / 'scores')
  os.makedirs(tflite.uri, exist_ok=True)
  with open(os.path.join(tflite.uri, artifacts_lib.METRICS_FILE), 'w') as f:
    json.dump({'float': _scores(float_iou), 'int8': _scores(int8_iou)}, f)
  return blessing, tflite


def _scores(mean_iou):
  """A metrics.json entry (model.metrics.Scores) with this mean IoU."""
  return {
    'mean_iou': mean_iou,
    'per_class_iou': {'bg': mean_iou, 'fg': mean_iou},
    'pixel_accuracy': 0.9,
    'mean_boundary_iou': 0.3,
    'per_class_boundary_iou': {'bg': 0.3, 'fg': 0.3},
    'label_pixels': {'bg': 800, 'fg': 200},
    'images': 5,
    'void_images': 0,
  }


def _card(version):
  return f'# card of version {version}\n'


@pytest.mark.parametrize(
  'float_iou, int8_iou', [(None, None), (0.8, None), (None, 0.8)]
)
def test_refuses_when_the_eval_split_left_no_mean_iou(
  tmp_path, float_iou, int8_iou
):
  reason = pusher.refusal_reason(
    *artifacts(tmp_path, True, float_iou, int8_iou), 0.05
  )
  assert reason == (
    'the TFLite models have no mean IoU: the eval split has no labelled pixel'
  )


def test_push_when_blessed_and_int8_close_enough(tmp_path):
  assert (
    pusher.refusal_reason(*artifacts(tmp_path, True, 0.8, 0.78), 0.05) == ''
  )


def test_refuses_unblessed_model(tmp_path):
  reason = pusher.refusal_reason(*artifacts(tmp_path, False, 0.8, 0.8), 0.05)
  assert reason == (
    'the Evaluator did not bless it (mean IoU or mean boundary IoU under '
    'its bound, or mean IoU worse than the last blessed model); see its '
    'evaluation'
  )


def test_refuses_int8_model_that_lost_too_much(tmp_path):
  reason = pusher.refusal_reason(*artifacts(tmp_path, True, 0.8, 0.7), 0.05)
  assert reason == (
    'the int8 TFLite model lost 0.1000 mean IoU against the float one '
    '(allowed: 0.05)'
  )


def test_an_int8_drop_equal_to_the_gate_is_allowed(tmp_path):
  # Exact binary fractions: the drop is exactly the gate.
  assert pusher.refusal_reason(*artifacts(tmp_path, True, 0.75, 0.5), 0.25) == (
    ''
  )


def test_find_pushed_takes_the_newest_version_and_no_staging_folder(
  tmp_path, model_dirs
):
  destination = str(tmp_path / 'pushed')
  first = pusher.push_version(*model_dirs, destination, 'model/1', _card)
  second = pusher.push_version(*model_dirs, destination, 'model/1', _card)
  assert pusher.find_pushed(destination, 'model/1') == second != first
  shutil.rmtree(first)
  shutil.rmtree(second)
  # A crashed push's staging folder holds the model but is no version.
  staging = os.path.join(destination, '.staging-1')
  os.makedirs(staging)
  with open(os.path.join(staging, artifacts_lib.SOURCE_FILE), 'w') as f:
    json.dump({'model': 'model/1'}, f)
  assert pusher.find_pushed(destination, 'model/1') is None


def test_a_version_is_one_past_the_newest_even_in_the_future(
  tmp_path, model_dirs, monkeypatch
):
  destination = tmp_path / 'pushed'
  (destination / '99999999999').mkdir(parents=True)
  version = pusher.push_version(*model_dirs, str(destination), 'model/1', _card)
  assert os.path.basename(version) == '100000000000'
  # Object stores list folders with a trailing slash.
  listdir = fileio.listdir
  monkeypatch.setattr(
    fileio, 'listdir', lambda path: [name + '/' for name in listdir(path)]
  )
  version = pusher.push_version(*model_dirs, str(destination), 'model/2', _card)
  assert os.path.basename(version) == '100000000001'
  assert pusher.find_pushed(str(destination), 'model/2') == version


def test_push_writes_a_complete_version_folder(tmp_path, model_dirs):
  destination = str(tmp_path / 'pushed')
  first = pusher.push_version(*model_dirs, destination, 'model/1', _card)
  second = pusher.push_version(*model_dirs, destination, 'model/2', _card)
  assert int(os.path.basename(second)) > int(os.path.basename(first))
  for version in (first, second):
    assert set(os.listdir(version)) == {
      'saved_model.pb',
      'variables',
      'pushed_from.json',
      'model_card.md',
      *TFLITE_FILES,
    }
    # The card is written for the version it lands in.
    with open(os.path.join(version, 'model_card.md')) as f:
      assert f.read() == _card(os.path.basename(version))
  assert pusher.find_pushed(destination, 'model/1') == first
  assert pusher.find_pushed(destination, 'model/2') == second
  assert pusher.find_pushed(destination, 'model/3') is None
  assert sorted(os.listdir(destination)) == sorted(
    os.path.basename(v) for v in (first, second)
  )


def test_crash_mid_push_leaves_no_version_folder(
  tmp_path, model_dirs, monkeypatch
):
  destination = str(tmp_path / 'pushed')
  real_copy = fileio.copy
  calls = []

  def failing_copy(src, dst, overwrite=False):
    calls.append(src)
    if len(calls) == 3:
      raise OSError('disk full')
    return real_copy(src, dst, overwrite)

  monkeypatch.setattr(fileio, 'copy', failing_copy)
  with pytest.raises(OSError, match='disk full'):
    pusher.push_version(*model_dirs, destination, 'model/1', _card)
  assert not [n for n in os.listdir(destination) if n.isdigit()]
  os.makedirs(os.path.join(destination, '.staging-1'))
  with open(os.path.join(destination, '.staging-1', 'x'), 'w') as f:
    f.write('an older crashed push')
  monkeypatch.setattr(fileio, 'copy', real_copy)
  version = pusher.push_version(*model_dirs, destination, 'model/1', _card)
  assert os.listdir(destination) == [os.path.basename(version)]


def test_model_card_facts_come_from_the_runs_artifacts(tmp_path):
  import dataclasses

  from components import model_card
  from components import model_io
  from data import labels as labels_lib
  from model import profile
  from model.config import ModelConfig
  from model.config import TrainConfig
  from tests.fixtures.tfx_outputs import write_evaluation
  from tests.fixtures.tfx_outputs import write_statistics

  config = ModelConfig(
    backbone='mobilenet_v3_small',
    depth_multiplier=0.5,
    head='lraspp',
    output_stride=32,
    input_size=64,
    # Where the run took its ImageNet weights: the card's profile counts
    # parameters without loading them (this file is not there).
    backbone_weights=str(tmp_path / 'gone' / 'imagenet.h5'),
  )
  serving = tmp_path / 'serving'
  extra = serving / 'assets.extra'
  extra.mkdir(parents=True)
  (extra / 'model_config.json').write_text(json.dumps(config.to_dict()))
  labels_lib.write_labels(model_io.labels_path(str(serving)), ['bg', 'fg'])
  tflite = tmp_path / 'tflite'
  tflite.mkdir()
  for i, name in enumerate(TFLITE_FILES):
    (tflite / name).write_bytes(b'x' * (1000 + i))
  one = {
    'mean_iou': 0.66,
    'per_class_iou': {'bg': 0.9, 'fg': 0.42},
    'pixel_accuracy': 0.9,
    'mean_boundary_iou': 0.33,
    'per_class_boundary_iou': {'bg': 0.5, 'fg': 0.16},
    'label_pixels': {'bg': 800, 'fg': 200},
    'images': 5,
    'void_images': 1,
  }
  (tflite / 'metrics.json').write_text(
    json.dumps({'float': one, 'fp16': one, 'int8': one})
  )
  train = dataclasses.asdict(TrainConfig(train_steps=77))
  facts = pusher.card_facts(
    '42',
    str(serving),
    str(tflite),
    write_evaluation(str(tmp_path / 'evaluation')),
    write_statistics(
      str(tmp_path / 'stats'),
      {'train': {'ds1': 9, 'ds2': 1}, 'eval': {'ds1': 5}},
    ),
    'people',
    train,
  )
  size = profile.profile(dataclasses.replace(config, backbone_weights=None))
  assert (facts.params, facts.madds) == (size['params'], size['madds'])
  assert (facts.version, facts.dataset) == ('42', 'people')
  assert facts.model == config and facts.labels == ['bg', 'fg']
  assert facts.file_bytes == {
    'model.tflite': 1000,
    'model_fp16.tflite': 1001,
    'model_int8.tflite': 1002,
    'frozen_model.pb': 1003,
  }
  assert facts.num_examples == {'train': 10, 'eval': 5}
  assert facts.sources['train'] == {'ds1': 9, 'ds2': 1}
  assert facts.metrics.mean_iou == 0.7  # The Evaluator's candidate.
  assert list(facts.metrics_by_slice['source']) == ['ds1', 'ds2']
  assert facts.metrics_tflite['int8'].mean_boundary_iou == 0.33
  card = model_card.render(facts)
  assert '| steps | 77 |' in card
  assert 'slice source=ds2: no eval example falls in it' in card


def _run_component(tmp_path, model_dirs, float_iou, int8_iou, **exec_props):
  """Runs MobilePusher's executor as TFX does; returns the PushedModel."""
  import dataclasses

  from components import model_io
  from data import labels as labels_lib
  from model.config import ModelConfig
  from model.config import TrainConfig
  from tests.fixtures.tfx_outputs import write_evaluation
  from tests.fixtures.tfx_outputs import write_statistics

  serving, tflite_dir = model_dirs
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'model')
  serving_copy = path_utils.serving_model_path(model.uri)
  shutil.copytree(serving, serving_copy)
  # What the model card reads of the model: its config and labels.
  os.makedirs(os.path.join(serving_copy, 'assets.extra'))
  config = ModelConfig(
    backbone='mobilenet_v3_small', head='lraspp', input_size=32
  )
  with open(
    os.path.join(serving_copy, 'assets.extra', 'model_config.json'), 'w'
  ) as f:
    json.dump(config.to_dict(), f)
  labels_lib.write_labels(model_io.labels_path(serving_copy), ['bg', 'fg'])
  blessing, tflite = artifacts(tmp_path, True, float_iou, int8_iou)
  for name in TFLITE_FILES:
    if name != artifacts_lib.METRICS_FILE:
      shutil.copy(os.path.join(tflite_dir, name), tflite.uri)
  evaluation = standard_artifacts.ModelEvaluation()
  evaluation.uri = write_evaluation(str(tmp_path / 'evaluation'))
  statistics = standard_artifacts.ExampleStatistics()
  statistics.uri = write_statistics(
    str(tmp_path / 'statistics'), {'train': {'ds1': 3}, 'eval': {'ds1': 2}}
  )
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / 'pushed_model')
  executor = pusher.MobilePusher.EXECUTOR_SPEC.executor_class()
  executor.Do(
    {
      'model': [model],
      'model_blessing': [blessing],
      'tflite_model': [tflite],
      'model_evaluation': [evaluation],
      'statistics': [statistics],
    },
    {'pushed_model': [pushed]},
    {
      'push_destination': str(tmp_path / 'serving'),
      'dataset': 'people',
      'train_config': json.dumps(dataclasses.asdict(TrainConfig())),
      **exec_props,
    },
  )
  return pushed


@pytest.mark.parametrize(
  'int8_iou,gate,pushed',
  [
    (0.70, {}, False),  # Default gate 0.05: a 0.10 drop is refused...
    (0.76, {}, True),  # ...a 0.04 drop passes.
    (0.76, {'max_int8_mean_iou_drop': 0.03}, False),
    (0.70, {'max_int8_mean_iou_drop': 0.2}, True),
  ],
)
def test_component_applies_the_int8_gate(
  tmp_path, model_dirs, int8_iou, gate, pushed
):
  artifact = _run_component(tmp_path, model_dirs, 0.8, int8_iou, **gate)
  destination = tmp_path / 'serving'
  assert artifact.get_int_custom_property('pushed') == int(pushed)
  if pushed:
    (version,) = os.listdir(destination)
    assert artifact.get_string_custom_property('pushed_destination') == str(
      destination / version
    )
    assert set(TFLITE_FILES) <= set(os.listdir(artifact.uri))
  else:
    assert not destination.exists() or not os.listdir(destination)
    reason = artifact.get_string_custom_property('not_pushed_reason')
    assert f'lost {0.8 - int8_iou:.4f} mean IoU' in reason
