"""TFLiteExport: the phone models and the frozen graph, and their mIoU.

The Trainer's SavedModel is what the Evaluator measures and TF Serving
serves; phones run TFLite files, and quantization can cost accuracy. So this
component converts the trained Keras model to a float32, a float16-weight
(the GPU-delegate format) and a full-int8 TFLite model (calibrated on
training images), writes into each the TFLite Model Metadata that MediaPipe
needs (components.tflite_metadata), and evaluates all three exactly as the
Evaluator evaluates the SavedModel: each eval image decoded and resized as
Transform does, the ids taken at the original size from the probabilities
resized back (preprocessing.class_ids_at), one confusion matrix over the
split (model.metrics). The Pusher reads the result to refuse an int8 model
that lost too much. The same phone-contract model is also frozen into a TF1
GraphDef for TF1/C++ consumers (model.export.freeze_graph).
"""

import contextlib
import json
import os
import sys
import tempfile
from typing import Dict, Iterator, List, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.utils import path_utils

from components import artifacts
from components import example_io
from components import model_io
from components import preprocessing
from components import tflite_metadata
from components.artifacts import TFLiteModel
from components.tflite_runner import TFLiteSegmenter
from data import features
from data import labels as labels_lib
from model import export
from model import metrics


@tfx.dsl.components.component
def TFLiteExport(  # pylint: disable=invalid-name
  model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
  examples: tfx.dsl.components.InputArtifact[
    tfx.types.standard_artifacts.Examples
  ],
  tflite_model: tfx.dsl.components.OutputArtifact[TFLiteModel],
  num_calibration_images: tfx.dsl.components.Parameter[int] = 100,
  code_version: tfx.dsl.components.Parameter[str] = '',
) -> None:
  """Converts, evaluates and writes the TFLite models (see module doc)."""
  del code_version  # Only part of the cache key (pipeline.code_version).
  serving_dir = path_utils.serving_model_path(model.uri)
  keras_model, config, labels = model_io.load_keras_model(serving_dir)
  size = config.input_size
  calibration = [
    image[None]
    for image, _ in _resized_examples(
      examples.uri, features.TRAIN_SPLIT, size, limit=num_calibration_images
    )
  ]
  phone_model = export.inference_model(keras_model)
  with tempfile.TemporaryDirectory() as scratch:
    converter_log = os.path.join(scratch, artifacts.CONVERTER_LOG_FILE)
    with _native_logs_to(converter_log):
      models = {
        'float': export.convert_to_tflite(phone_model),
        'fp16': export.convert_to_tflite(phone_model, float16_weights=True),
        'int8': export.convert_to_tflite(phone_model, calibration),
      }
    fileio.copy(
      converter_log,
      os.path.join(tflite_model.uri, artifacts.CONVERTER_LOG_FILE),
    )
    labels_file = labels_lib.write_labels(
      os.path.join(scratch, labels_lib.LABELS_FILE), labels
    )
    models = tflite_metadata.add_metadata(models, labels_file)
  labels_lib.write_labels(
    os.path.join(tflite_model.uri, labels_lib.LABELS_FILE), labels
  )
  scores = {}
  for kind, flatbuffer in models.items():
    with fileio.open(
      os.path.join(tflite_model.uri, artifacts.TFLITE_FILES[kind]), 'wb'
    ) as f:
      f.write(flatbuffer)
    scores[kind] = evaluate_tflite(flatbuffer, examples.uri, labels)
    logging.info(
      'TFLite %s: %.1f KB, mean IoU %s, mean boundary IoU %s on the eval split',
      kind,
      len(flatbuffer) / 1024,
      metrics.format_score(scores[kind][metrics.MEAN_IOU]),
      metrics.format_score(scores[kind][metrics.MEAN_BOUNDARY_IOU]),
    )
    for name in (metrics.MEAN_IOU, metrics.MEAN_BOUNDARY_IOU):
      if scores[kind][name] is not None:
        tflite_model.set_float_custom_property(
          f'{kind}_{name}', scores[kind][name]
        )
  graph_def, graph_tensors = export.freeze_graph(phone_model)
  with fileio.open(
    os.path.join(tflite_model.uri, artifacts.FROZEN_GRAPH_FILE), 'wb'
  ) as f:
    f.write(graph_def.SerializeToString())

  _write_json(os.path.join(tflite_model.uri, artifacts.METRICS_FILE), scores)
  _write_json(
    os.path.join(tflite_model.uri, artifacts.METADATA_FILE),
    model_metadata(size, labels, graph_tensors),
  )


@contextlib.contextmanager
def _native_logs_to(path: str):
  """Sends the converter's C++ output (fds 1 and 2) to a file.

  The MLIR converter prints notes a user cannot act on straight to the
  process's stdout/stderr, past Python's logging. If conversion fails, the
  captured output is logged with the error. `path` is a local file.
  """
  sys.stdout.flush()
  sys.stderr.flush()
  saved = [os.dup(1), os.dup(2)]
  with open(path, 'wb') as log:
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
      yield
    except Exception:
      os.dup2(saved[0], 1)
      os.dup2(saved[1], 2)
      with open(path, errors='replace') as f:
        logging.error('TFLite converter output:\n%s', f.read())
      raise
    finally:
      os.dup2(saved[0], 1)
      os.dup2(saved[1], 2)
      for fd in saved:
        os.close(fd)


def model_metadata(
  input_size: int, labels: List[str], frozen_graph_tensors: Dict
) -> Dict:
  """What an app needs to feed the models and read their output.

  `frozen_graph_tensors` is model.export.freeze_graph's tensor names.
  """
  return {
    'input': {
      'name': 'image',
      'shape': [1, input_size, input_size, 3],
      'dtype': 'uint8',
      'color': 'RGB',
      'resize': 'bilinear to input size; normalization is inside the model',
    },
    'outputs': {
      'class_ids': 'int32 [1, S, S], argmax class per pixel',
      'probabilities': 'float32 [1, S, S, C], softmax',
    },
    'labels': list(labels),
    'tflite': dict(artifacts.TFLITE_FILES),
    'frozen_graph': {
      'file': artifacts.FROZEN_GRAPH_FILE,
      **frozen_graph_tensors,
    },
  }


def evaluate_tflite(
  flatbuffer: bytes, examples_uri: str, labels: List[str]
) -> Dict:
  """metrics.Scores (as JSON) of a TFLite model on the eval split, at
  original resolution."""
  segmenter = TFLiteSegmenter(flatbuffer)
  counts = metrics.SplitCounts(len(labels))
  for example in example_io.split_examples(examples_uri, features.EVAL_SPLIT):
    counts.add(
      example_io.mask_of(example),
      segmenter.segment(example_io.image_of(example)),
    )
  return counts.scores(labels).to_json()


def _resized_examples(
  examples_uri: str, split: str, input_size: int, limit: int = None
) -> Iterator[Tuple[np.ndarray, tf.train.Example]]:
  """(uint8 [S, S, 3] image as Transform resizes it, raw example)."""
  for count, example in enumerate(
    example_io.split_examples(examples_uri, split)
  ):
    if limit is not None and count >= limit:
      return
    image = example_io.image_of(example)
    yield preprocessing.resize_image(image, input_size).numpy(), example


def _write_json(path: str, value) -> None:
  with fileio.open(path, 'w') as f:
    f.write(json.dumps(value, indent=2))
