"""components.inference and components.tflite_runner on the committed tiny
TFLite file (tests/fixtures/tiny_segmenter): the one prediction every
photo gets, against the same computed by hand (tests.fixtures.tiny_model).

The same convolution saved as a SavedModel (the tiny_saved_model fixture)
is run through its serving_images signature; trained SavedModels are
loaded in the slow tests (test_components_batch_inference.py,
test_pipeline_batch_predict.py).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from tflite_runtime import interpreter as tflite_runtime

from components import batch_inference
from components import bilinear
from components import inference
from components import model_io
from components.tflite_runner import TFLiteSegmenter
from data import labels
from model.config import ModelConfig
from tests.fixtures import tiny_model

PHOTO = np.random.default_rng(0).integers(0, 256, (37, 53, 3), np.uint8)


def test_the_tiny_model_marks_pixels_redder_than_blue():
  """What tests/fixtures/make_tiny_segmenter.py says it wrote."""
  photo = np.random.default_rng(1).integers(0, 256, (16, 16, 3), np.uint8)
  red, blue = photo[..., 0].astype(int), photo[..., 2].astype(int)
  class_ids = tiny_model.class_ids(photo)
  assert class_ids.shape == (16, 16)
  np.testing.assert_array_equal(
    class_ids[red != blue], (red > blue)[red != blue]
  )


def test_load_segmenter_segments_a_photo_at_its_own_size():
  segment, names = inference.load_segmenter(tiny_model.TFLITE)
  assert names == tiny_model.LABELS
  class_ids = segment(PHOTO)
  assert class_ids.dtype == np.uint8
  expected = tiny_model.class_ids(PHOTO)
  assert 0 < expected.mean() < 1
  np.testing.assert_array_equal(class_ids, expected)


def test_tflite_segmenter_segment_is_the_same_prediction():
  with open(tiny_model.TFLITE, 'rb') as f:
    segmenter = TFLiteSegmenter(
      f.read(), interpreter=tflite_runtime.Interpreter, xnnpack=True
    )
  assert segmenter.input_size == 16
  np.testing.assert_array_equal(
    segmenter.segment(PHOTO), tiny_model.class_ids(PHOTO)
  )


def test_model_size_and_labels_of_a_tflite_file(tmp_path):
  assert inference.input_size_of(tiny_model.TFLITE) == 16
  assert inference.labels_of(tiny_model.TFLITE) == tiny_model.LABELS
  alone = str(tmp_path / 'model.tflite')
  shutil.copy(tiny_model.TFLITE, alone)
  with pytest.raises(ValueError, match=f'^no labels.txt in {tmp_path} '):
    inference.labels_of(alone)


def test_a_model_path_must_be_a_tflite_file_or_a_saved_model(tmp_path):
  missing = str(tmp_path / 'm.tflite')
  with pytest.raises(ValueError, match=f'^--model={missing}: no such file$'):
    inference.load_model(missing)
  with pytest.raises(
    ValueError,
    match=f'^--model={tmp_path}: neither a .tflite file nor a SavedModel '
    r'folder \(no saved_model.pb\)$',
  ):
    inference.input_size_of(str(tmp_path))


def test_load_segmenter_segments_a_photo_with_a_saved_model(tiny_saved_model):
  import tensorflow as tf  # only here: the module runs without it

  model = inference.load_model(tiny_saved_model)
  size = tiny_model.SAVED_MODEL_SIZE
  assert model.input_size == size
  resized = bilinear.resize_image(PHOTO, size)
  np.testing.assert_allclose(
    model.probabilities(resized[None]),
    tiny_model.probabilities(resized)[None],
    atol=1e-6,
  )
  segment, names = inference.load_segmenter(tiny_saved_model)
  assert names == tiny_model.LABELS
  class_ids = segment(PHOTO)
  assert class_ids.dtype == np.uint8
  scores = tf.image.resize(tiny_model.probabilities(resized), PHOTO.shape[:2])
  tiny_model.assert_argmax(class_ids.astype(np.int32), scores.numpy())


def test_size_and_labels_of_a_saved_model_come_from_its_extras(tmp_path):
  """Read without loading the SavedModel (or TensorFlow): a folder with a
  saved_model.pb and model_io's extras is all they need."""
  folder = str(tmp_path / 'serving_model')
  os.makedirs(os.path.dirname(model_io.config_path(folder)))
  with open(os.path.join(folder, 'saved_model.pb'), 'wb'):
    pass
  with open(model_io.config_path(folder), 'w', encoding='utf-8') as f:
    json.dump(ModelConfig(input_size=96).to_dict(), f)
  labels.write_labels(model_io.labels_path(folder), ('sky', 'boat'))
  inference.check_model_path(folder)
  assert inference.input_size_of(folder) == 96
  assert inference.labels_of(folder) == ['sky', 'boat']
  # labels.txt beside the model comes first (a pushed version's).
  labels.write_labels(os.path.join(folder, 'labels.txt'), ('a', 'b'))
  assert inference.labels_of(folder) == ['a', 'b']


def test_tensorflow_s_interpreter_by_default_gives_the_same_prediction():
  """TFLiteSegmenter's default: TensorFlow's interpreter and its builtin
  kernels (the evaluation's), equal here to tflite_runtime's XNNPACK."""
  with open(tiny_model.TFLITE, 'rb') as f:
    segmenter = TFLiteSegmenter(f.read())
  assert type(segmenter._interpreter).__module__.startswith('tensorflow')
  np.testing.assert_array_equal(
    segmenter.segment(PHOTO), tiny_model.class_ids(PHOTO)
  )


# The batch job's model, and a TFLiteSegmenter with the builtin kernels.
_JOB_MODEL = f"""
from components import inference
inference.TFLiteModel({tiny_model.TFLITE!r})
"""
_BUILTIN = f"""
from tflite_runtime import interpreter
from components.tflite_runner import TFLiteSegmenter
with open({tiny_model.TFLITE!r}, 'rb') as f:
  TFLiteSegmenter(f.read(), interpreter=interpreter.Interpreter)
"""


@pytest.mark.parametrize(
  'code, level, logged',
  [(_JOB_MODEL, '1', False), (_JOB_MODEL, '0', True), (_BUILTIN, '0', False)],
)
def test_xnnpack_s_log_line_follows_the_quiet_setting(code, level, logged):
  """tflite_runtime prints its XNNPACK line, once per process, whatever
  TF_CPP_MIN_LOG_LEVEL says: the job's model filters it when quiet, and the
  builtin kernels (no XNNPACK delegate) never print it."""
  completed = subprocess.run(
    [sys.executable, '-c', code],
    capture_output=True,
    text=True,
    timeout=120,
    check=True,
    env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': level},
  )
  assert ('XNNPACK delegate' in completed.stderr) == logged, completed.stderr


def test_local_runs_pick_processes_for_tflite_and_threads_for_tensorflow():
  assert batch_inference.local_beam_args('a/model.tflite') == (
    '--direct_running_mode=multi_processing',
    '--direct_num_workers=0',
  )
  assert batch_inference.local_beam_args('a/serving_model') == (
    '--direct_running_mode=multi_threading',
    '--direct_num_workers=0',
  )
