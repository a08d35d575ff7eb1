"""The parts of components.tflite_export that need no conversion: the TFLite
evaluation, the calibration images, metadata.json and the converter log.

The component itself converts three models and runs in the slow end-to-end
test (test_pipeline_pipeline.py). Here the committed tiny segmenter
(tests/fixtures/tiny_model.py) is scored on an eval split whose masks
differ from its prediction in known places.
"""

import json
import logging
import os

import numpy as np
import pytest

from components import bilinear
from components import tflite_export
from data import features
from tests.fixtures import examples_split
from tests.fixtures import tiny_model


def _photos(sizes, seed):
  rng = np.random.default_rng(seed)
  return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in sizes]


def test_evaluate_tflite_scores_the_eval_split_at_each_photos_size(tmp_path):
  photos = _photos([(20, 30), (27, 16)], seed=0)
  predictions = [tiny_model.class_ids(photo) for photo in photos]
  masks = [prediction.astype(np.uint8) for prediction in predictions]
  masks[1][:5] = 1 - masks[1][:5]  # 5 rows labelled the other class
  masks[1][-3:] = features.IGNORE_LABEL  # 3 rows not scored
  examples_split.write_split(tmp_path, 'eval', photos, masks)
  # A train split the score must not read.
  examples_split.write_split(
    tmp_path, 'train', _photos([(9, 9)], seed=1), [np.zeros((9, 9), np.uint8)]
  )
  with open(tiny_model.TFLITE, 'rb') as f:
    scores = tflite_export.evaluate_tflite(
      f.read(), str(tmp_path), tiny_model.LABELS
    )

  confusion = np.zeros((2, 2), int)
  for mask, prediction in zip(masks, predictions, strict=True):
    scored = mask != features.IGNORE_LABEL
    np.add.at(confusion, (mask[scored], prediction[scored]), 1)
  assert confusion[0, 1] + confusion[1, 0] == 5 * 16  # the flipped rows
  ious = np.diag(confusion) / (
    confusion.sum(0) + confusion.sum(1) - np.diag(confusion)
  )
  assert scores['images'] == 2
  assert scores['void_images'] == 0
  assert scores['per_class_iou'] == pytest.approx(
    dict(zip(tiny_model.LABELS, ious, strict=True))
  )
  assert scores['mean_iou'] == pytest.approx(ious.mean())
  assert scores['pixel_accuracy'] == pytest.approx(
    np.trace(confusion) / confusion.sum()
  )
  assert scores['label_pixels'] == dict(
    zip(tiny_model.LABELS, confusion.sum(1).tolist(), strict=True)
  )
  assert 0 < scores['mean_boundary_iou'] < 1


def test_calibration_images_are_the_splits_first_resized_as_transform(
  tmp_path,
):
  photos = _photos([(20, 30), (27, 16), (12, 40)], seed=2)
  masks = [np.zeros(photo.shape[:2], np.uint8) for photo in photos]
  examples_split.write_split(tmp_path, 'train', photos, masks)

  def read(limit):
    return list(
      tflite_export._resized_examples(  # pylint: disable=protected-access
        str(tmp_path), 'train', 8, limit=limit
      )
    )

  for limit, count in [(2, 2), (None, 3), (0, 0)]:
    read_back = read(limit)
    assert len(read_back) == count
    for (image, example), photo in zip(read_back, photos, strict=False):
      np.testing.assert_array_equal(image, bilinear.resize_image(photo, 8))
      assert (
        example.features.feature[features.IMAGE_ENCODED]
        .bytes_list.value[0]
        .startswith(b'\x89PNG')
      )


def test_metadata_json_names_the_input_the_outputs_and_the_files():
  tensors = {'input': 'image:0', 'outputs': {'class_ids': 'Identity:0'}}
  assert tflite_export.model_metadata(
    65, ['background', 'person'], tensors
  ) == {
    'input': {
      'name': 'image',
      'shape': [1, 65, 65, 3],
      'dtype': 'uint8',
      'color': 'RGB',
      'resize': 'bilinear to input size; normalization is inside the model',
    },
    'outputs': {
      'class_ids': 'int32 [1, S, S], argmax class per pixel',
      'probabilities': 'float32 [1, S, S, C], softmax',
    },
    'labels': ['background', 'person'],
    'tflite': {
      'float': 'model.tflite',
      'fp16': 'model_fp16.tflite',
      'int8': 'model_int8.tflite',
    },
    'frozen_graph': {
      'file': 'frozen_model.pb',
      'input': 'image:0',
      'outputs': {'class_ids': 'Identity:0'},
    },
  }


def test_metrics_and_metadata_files_are_json_a_person_reads_too(tmp_path):
  path = tmp_path / 'metrics.json'
  value = {'mean_iou': {'float': 0.5, 'int8': 0.48}, 'labels': ['a', 'b']}
  tflite_export._write_json(str(path), value)  # pylint: disable=protected-access
  text = path.read_text(encoding='utf-8')
  assert json.loads(text) == value
  # One value per line, nested ones indented.
  assert text.startswith('{\n  "mean_iou": {\n    "float": 0.5,\n')


def _capture_native_output(path, fail=False):
  """Writes to file descriptors 1 and 2 inside tflite_export's capture,
  as the converter's C++ code does; raises inside it if `fail`."""
  with tflite_export._native_logs_to(path):  # pylint: disable=protected-access
    os.write(1, b'converter note\n')
    os.write(2, b'converter warning\n')
    if fail:
      raise ValueError('conversion failed')


def test_the_converters_native_output_goes_to_the_log_file(tmp_path, capfd):
  path = str(tmp_path / 'converter.log')
  _capture_native_output(path)
  os.write(1, b'after\n')
  with open(path, 'rb') as f:
    assert f.read() == b'converter note\nconverter warning\n'
  # The process's own output is back where it was.
  assert capfd.readouterr().out == 'after\n'


def test_a_failed_conversion_logs_what_the_converter_printed(
  tmp_path, capfd, caplog
):
  path = str(tmp_path / 'converter.log')
  with (
    caplog.at_level(logging.ERROR, logger='absl'),
    pytest.raises(ValueError, match='conversion failed'),
  ):
    _capture_native_output(path, fail=True)
  assert [record.getMessage() for record in caplog.records] == [
    'TFLite converter output:\nconverter note\nconverter warning\n'
  ]
  os.write(2, b'after\n')
  assert capfd.readouterr().err == 'after\n'
