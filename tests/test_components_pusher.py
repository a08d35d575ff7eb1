"""components.pusher: the gates, and a push that is all or nothing."""

import json
import os
import shutil

import pytest
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components import pusher
from components import tflite_export
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
  (tflite / tflite_export.CONVERTER_LOG_FILE).write_text('not published')
  return str(serving), str(tflite)


def artifacts(tmp_path, blessed, float_iou, int8_iou):
  blessing = standard_artifacts.ModelBlessing()
  blessing.set_int_custom_property('blessed', int(blessed))
  tflite = TFLiteModel()
  tflite.uri = str(tmp_path / 'scores')
  os.makedirs(tflite.uri, exist_ok=True)
  with open(os.path.join(tflite.uri, tflite_export.METRICS_FILE), 'w') as f:
    json.dump(
      {'float': {'mean_iou': float_iou}, 'int8': {'mean_iou': int8_iou}}, f
    )
  return blessing, tflite


def test_push_when_blessed_and_int8_close_enough(tmp_path):
  assert (
    pusher.refusal_reason(*artifacts(tmp_path, True, 0.8, 0.78), 0.05) == ''
  )


def test_refuses_unblessed_model(tmp_path):
  reason = pusher.refusal_reason(*artifacts(tmp_path, False, 0.8, 0.8), 0.05)
  assert reason == (
    'the Evaluator did not bless it (mean IoU under the bound, or worse '
    'than the last blessed model); see its evaluation'
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
  first = pusher.push_version(*model_dirs, destination, 'model/1')
  second = pusher.push_version(*model_dirs, destination, 'model/1')
  assert pusher.find_pushed(destination, 'model/1') == second != first
  shutil.rmtree(first)
  shutil.rmtree(second)
  # A crashed push's staging folder holds the model but is no version.
  staging = os.path.join(destination, '.staging-1')
  os.makedirs(staging)
  with open(os.path.join(staging, pusher.SOURCE_FILE), 'w') as f:
    json.dump({'model': 'model/1'}, f)
  assert pusher.find_pushed(destination, 'model/1') is None


def test_a_version_is_one_past_the_newest_even_in_the_future(
  tmp_path, model_dirs, monkeypatch
):
  destination = tmp_path / 'pushed'
  (destination / '99999999999').mkdir(parents=True)
  version = pusher.push_version(*model_dirs, str(destination), 'model/1')
  assert os.path.basename(version) == '100000000000'
  # Object stores list folders with a trailing slash.
  listdir = fileio.listdir
  monkeypatch.setattr(
    fileio, 'listdir', lambda path: [name + '/' for name in listdir(path)]
  )
  version = pusher.push_version(*model_dirs, str(destination), 'model/2')
  assert os.path.basename(version) == '100000000001'
  assert pusher.find_pushed(str(destination), 'model/2') == version


def test_push_writes_a_complete_version_folder(tmp_path, model_dirs):
  destination = str(tmp_path / 'pushed')
  first = pusher.push_version(*model_dirs, destination, 'model/1')
  second = pusher.push_version(*model_dirs, destination, 'model/2')
  assert int(os.path.basename(second)) > int(os.path.basename(first))
  for version in (first, second):
    assert set(os.listdir(version)) == {
      'saved_model.pb',
      'variables',
      'pushed_from.json',
      *TFLITE_FILES,
    }
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
    pusher.push_version(*model_dirs, destination, 'model/1')
  assert not [n for n in os.listdir(destination) if n.isdigit()]
  os.makedirs(os.path.join(destination, '.staging-1'))
  with open(os.path.join(destination, '.staging-1', 'x'), 'w') as f:
    f.write('an older crashed push')
  monkeypatch.setattr(fileio, 'copy', real_copy)
  version = pusher.push_version(*model_dirs, destination, 'model/1')
  assert os.listdir(destination) == [os.path.basename(version)]


def _run_component(tmp_path, model_dirs, float_iou, int8_iou, **exec_props):
  """Runs MobilePusher's executor as TFX does; returns the PushedModel."""
  serving, tflite_dir = model_dirs
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'model')
  shutil.copytree(serving, path_utils.serving_model_path(model.uri))
  blessing, tflite = artifacts(tmp_path, True, float_iou, int8_iou)
  for name in TFLITE_FILES:
    if name != tflite_export.METRICS_FILE:
      shutil.copy(os.path.join(tflite_dir, name), tflite.uri)
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / 'pushed_model')
  executor = pusher.MobilePusher.EXECUTOR_SPEC.executor_class()
  executor.Do(
    {'model': [model], 'model_blessing': [blessing], 'tflite_model': [tflite]},
    {'pushed_model': [pushed]},
    {'push_destination': str(tmp_path / 'serving'), **exec_props},
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
