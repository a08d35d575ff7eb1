"""components.tflite_metadata, read back and run by the real clients.

MediaPipe Tasks' ImageSegmenter and LiteRT run in the clients venv
(clients/__init__.py); these tests fail, not skip, when it is missing. A
tiny MobileNetV3-Small + LR-ASPP model (random weights) is exported in the
three precisions the Pusher ships. How often MediaPipe's category mask
agrees with the project's own prediction on a photo depends on how
confident a trained model is at boundaries, so tests/test_pipeline_pipeline.py
measures that on the pushed files. Here MediaPipe's output is checked
exactly: on S x S photos nothing is resized and it must be the model's own;
on other photos it must be the model's output under MediaPipe's resizing.
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest
import tensorflow as tf

import clients
from components import preprocessing
from components import tflite_metadata
from components.tflite_runner import TFLiteSegmenter
from data import demo
from data import labels
from model import builder
from model import export
from model.config import ModelConfig
from tests.fixtures import tiny_model

SIZE = 64
LABELS = ['background', 'person']


def test_each_file_gets_metadata_and_keeps_its_key_and_prediction(
  tmp_path, monkeypatch
):
  """On the committed tiny segmenter: no conversion, so a fast test."""
  # Its scratch files are its own: none is left where it runs.
  (tmp_path / 'cwd').mkdir()
  monkeypatch.chdir(tmp_path / 'cwd')
  labels_path = labels.write_labels(
    str(tmp_path / labels.LABELS_FILE), tiny_model.LABELS
  )
  with open(tiny_model.TFLITE, 'rb') as f:
    plain = f.read()
  # Two models of different names, so that swapped keys would show.
  other = plain.replace(b'tiny_segmenter', b'tiny_segmentes')
  with_metadata = tflite_metadata.add_metadata(
    {'first': plain, 'second': other}, labels_path
  )
  assert list(with_metadata) == ['first', 'second']
  paths = []
  for key, source in [('first', plain), ('second', other)]:
    names = [b'tiny_segmenter', b'tiny_segmentes']
    if key == 'second':
      names.reverse()
    assert names[0] in with_metadata[key]
    assert names[1] not in with_metadata[key]
    paths.append(str(tmp_path / f'{key}.tflite'))
    with open(paths[-1], 'wb') as f:
      f.write(with_metadata[key])
    packed = zipfile.ZipFile(io.BytesIO(with_metadata[key]))
    assert packed.read('labels.txt') == b'background\nperson\n'
    photo = np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)
    np.testing.assert_array_equal(
      TFLiteSegmenter(with_metadata[key]).predict(photo)[export.CLASS_IDS],
      TFLiteSegmenter(source).predict(photo)[export.CLASS_IDS],
    )
  described = json.loads(clients.run('read_metadata.py', paths))
  for path in paths:
    assert described[path]['associated_files'] == ['labels.txt']
  assert not os.listdir(tmp_path / 'cwd')


def _photos(count=3):
  """Demo photos (112-192 px a side) and the same resized to S x S."""
  photos = [
    demo.render_example(np.random.default_rng([11, i]))[0] for i in range(count)
  ]
  return photos, [
    preprocessing.resize_image(tf.constant(photo), SIZE).numpy()
    for photo in photos
  ]


def _as_mediapipe_on_cpu(segmenter, photo, resize):
  """MediaPipe 0.10.21's CPU category mask, emulated with TF ops.

  `resize` resizes the photo as its ImageToTensorCalculator does (the
  resize_as_mediapipe_cpu fixture); its TensorsToSegmentationCalculator
  upsamples the scores with aligned corners before the argmax, where the
  project uses half-pixel centres (components.preprocessing.class_ids_at).
  Found by comparing the candidates.
  """
  scores = segmenter.predict(resize(photo, SIZE))[export.PROBABILITIES]
  return (
    tf.compat.v1.image.resize_bilinear(
      scores[None], photo.shape[:2], align_corners=True
    )[0]
    .numpy()
    .argmax(-1)
  )


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
  """({kind: flatbuffer without metadata}, {kind: file with it}, labels)."""
  folder = tmp_path_factory.mktemp('tflite')
  labels_path = str(folder / 'labels.txt')
  with open(labels_path, 'w') as f:
    f.write(''.join(f'{label}\n' for label in LABELS))
  model = export.inference_model(
    builder.build_model(
      ModelConfig(backbone='mobilenet_v3_small', head='lraspp', input_size=SIZE)
    )
  )
  plain = {
    'float': export.convert_to_tflite(model),
    'fp16': export.convert_to_tflite(model, float16_weights=True),
    'int8': export.convert_to_tflite(
      model, [image[None] for image in _photos()[1]]
    ),
  }
  paths = {}
  for kind, flatbuffer in tflite_metadata.add_metadata(
    plain, labels_path
  ).items():
    paths[kind] = str(folder / f'{kind}.tflite')
    with open(paths[kind], 'wb') as f:
      f.write(flatbuffer)
  return plain, paths, labels_path


# Converts models to TFLite: seconds each (`make test-fast` skips it).
@pytest.mark.slow
def test_metadata_is_image_segmentation_metadata(exported):
  _, paths, labels_path = exported
  described = json.loads(clients.run('read_metadata.py', list(paths.values())))
  with open(labels_path, 'rb') as f:
    labels_bytes = f.read()
  for path in paths.values():
    (subgraph,) = described[path]['metadata']['subgraph_metadata']
    (image,) = subgraph['input_tensor_metadata']
    assert image['name'] == 'image'
    assert image['content']['content_properties']['color_space'] == 'RGB'
    (normalization,) = image['process_units']
    assert normalization['options'] == {'mean': [0.0], 'std': [1.0]}
    class_ids, probabilities = subgraph['output_tensor_metadata']
    assert class_ids['name'] == 'class_ids'
    assert probabilities['name'] == 'probabilities'
    (labels_file,) = probabilities['associated_files']
    assert (labels_file['name'], labels_file['type']) == (
      'labels.txt',
      'TENSOR_AXIS_LABELS',
    )
    assert described[path]['activation'] == 'NONE'  # softmax is inside
    assert described[path]['associated_files'] == ['labels.txt']
    # Associated files are a zip appended to the flatbuffer.
    with open(path, 'rb') as f:
      packed = zipfile.ZipFile(io.BytesIO(f.read()))
    assert packed.read('labels.txt') == labels_bytes


# Converts models to TFLite: seconds each (`make test-fast` skips it).
@pytest.mark.slow
def test_metadata_changes_no_prediction(exported):
  plain, paths, _ = exported
  image = _photos(1)[1][0]
  for kind, path in paths.items():
    with open(path, 'rb') as f:
      after = TFLiteSegmenter(f.read()).predict(image)
    before = TFLiteSegmenter(plain[kind]).predict(image)
    for name in (export.CLASS_IDS, export.PROBABILITIES):
      np.testing.assert_array_equal(before[name], after[name])


# Converts models to TFLite: seconds each (`make test-fast` skips it).
@pytest.mark.slow
def test_mediapipe_and_litert_run_every_file(
  exported, run_clients, resize_as_mediapipe_cpu
):
  _, paths, _ = exported
  photos, resized = _photos()
  measured = run_clients(list(paths.values()), photos + resized)
  for kind, path in paths.items():
    with open(path, 'rb') as f:
      segmenter = TFLiteSegmenter(f.read())
    got = measured[path]
    assert got['labels'] == LABELS, kind  # read from the file's metadata
    # LiteRT's builtin kernels are tf.lite's; its default XNNPACK delegate
    # rounds int8 arithmetic its own way (see docs/models.md), which random
    # weights, whose class scores are all nearly tied, turn into other ids.
    assert got['litert_builtin'] >= 0.999, (kind, got['litert_builtin'])
    for mask, photo in zip(got['category'], photos + resized, strict=True):
      assert mask.shape == photo.shape[:2]
    if kind == 'int8':
      continue
    assert got['litert'] >= 0.999, (kind, got['litert'])
    for photo, mask in zip(photos, got['category'][: len(photos)], strict=True):
      agreement = np.mean(
        mask == _as_mediapipe_on_cpu(segmenter, photo, resize_as_mediapipe_cpu)
      )
      assert agreement >= 0.995, (kind, photo.shape, agreement)
    for image, agreement, confidence in zip(
      resized,
      got['mediapipe'][len(photos) :],
      got['confidence'][len(photos) :],
      strict=True,
    ):
      # Nothing resized: MediaPipe's confidence masks are the model's
      # probabilities, so it fed raw pixels, read the last output and added
      # no softmax; its category mask is their argmax.
      np.testing.assert_allclose(
        confidence, segmenter.predict(image)[export.PROBABILITIES], atol=1e-5
      )
      assert agreement >= 0.999, (kind, agreement)


# Converts models to TFLite: seconds each (`make test-fast` skips it).
@pytest.mark.slow
def test_mediapipe_crashes_on_a_file_without_metadata(exported, tmp_path):
  """Why the metadata exists (and why the clients run in a subprocess)."""
  plain, _, _ = exported
  path = str(tmp_path / 'plain.tflite')
  with open(path, 'wb') as f:
    f.write(plain['float'])
  request = str(tmp_path / 'images.npz')
  image = _photos(1)[1][0]
  np.savez(request, photo_0=image, resized_0=image)
  with pytest.raises(RuntimeError, match='exited with -11'):
    clients.run(
      'segment.py',
      [f'--images={request}', f'--output={tmp_path / "out.npz"}', path],
    )
  assert not os.path.exists(tmp_path / 'out.npz')
