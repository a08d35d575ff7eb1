"""Test-wide settings (tf_keras models, quiet TensorFlow, no GPU probing)
and the fixture that drives the real clients (MediaPipe, LiteRT)."""

import os

import pytest

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')


@pytest.fixture
def run_clients(tmp_path):
  """fn(.tflite paths, photos) -> what MediaPipe and LiteRT made of them.

  Runs clients/segment.py in the clients venv (failing, not skipping, when
  it is missing) and compares each file's results with the project's own
  prediction for that file (components.tflite_runner, i.e. tf.lite):
  {path: {'mediapipe': [per photo: fraction of pixels where MediaPipe's
  category mask equals TFLiteSegmenter.segment], 'category', 'confidence':
  [per photo: MediaPipe's category mask, confidence masks], 'litert',
  'litert_builtin': fraction of all pixels where LiteRT's class ids
  (default delegate; builtin kernels) equal tf.lite's on the resized
  photos}}.
  """
  # Imported here: the settings above must precede TensorFlow's import.
  # pylint: disable=import-outside-toplevel
  import numpy as np
  import tensorflow as tf
  import clients
  from components import preprocessing
  from components.tflite_runner import TFLiteSegmenter

  def run(paths, photos):
    segmenters = []
    for path in paths:
      with open(path, 'rb') as f:
        segmenters.append(TFLiteSegmenter(f.read()))
    resized = [preprocessing.resize_image(
        tf.constant(photo), segmenters[0].input_size).numpy()
               for photo in photos]
    request = str(tmp_path / 'images.npz')
    np.savez(request, **{f'photo_{i}': p for i, p in enumerate(photos)},
             **{f'resized_{i}': r for i, r in enumerate(resized)})
    response = str(tmp_path / 'results.npz')
    clients.run('segment.py', [f'--images={request}',
                               f'--output={response}', *paths])
    measured = {}
    with np.load(response) as results:
      for m, (path, segmenter) in enumerate(zip(paths, segmenters)):
        ids = [segmenter.predict(image)['class_ids'] for image in resized]
        category = [results[f'mediapipe_category/{m}/{i}']
                    for i in range(len(photos))]
        measured[path] = {
            'mediapipe': [np.mean(mask == segmenter.segment(photo))
                          for mask, photo in zip(category, photos)],
            'category': category,
            'confidence': [results[f'mediapipe_confidence/{m}/{i}']
                           for i in range(len(photos))],
            **{client: np.mean([results[f'{client}_class_ids/{m}/{i}'] ==
                                expected for i, expected in enumerate(ids)])
               for client in ('litert', 'litert_builtin')},
        }
    return measured

  return run
