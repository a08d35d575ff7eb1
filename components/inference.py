"""Loads a trained model (SavedModel or TFLite) for prediction on photos.

One prediction everywhere a photo is segmented (pipeline.predict, the Beam
job of components.batch_inference, pipeline.report): the photo resized to
the model's S x S as the Transform graph resizes it, the model's
probabilities, and their argmax after resizing them back to the photo
(components.bilinear: preprocessing.resize_image and class_ids_at in numpy,
equal to them). That is what the `serving_images` signature computes on one
photo and what components.tflite_runner computes for the TFLite files.

A `Model` scores batches of S x S images, so that RunInference can batch
photos of any sizes; `segment` is the one-photo form.

A .tflite file runs in tflite_runtime, and this module imports TensorFlow
only to load a SavedModel: a Beam worker that segments with a .tflite file
holds about 0.1 GB rather than TensorFlow's 0.6 GB (docs/beam.md).
"""

import functools
import os
import threading
from typing import Callable, List, Protocol, Tuple

import numpy as np
from tflite_runtime import interpreter as tflite_runtime

from clients import quiet_logs
from components import bilinear
from components.tflite_runner import TFLiteSegmenter
from data import cli_env
from data import files
from data import labels
from model import contract

Segmenter = Callable[[np.ndarray], np.ndarray]


class Model(Protocol):
  """What the batch job needs of a model."""

  input_size: int

  def probabilities(self, images: np.ndarray) -> np.ndarray:
    """uint8 [B, S, S, 3] -> float [B, S, S, C]."""


class SavedModel:
  """A SavedModel's `serving_images` signature, fed images already at S."""

  def __init__(self, path: str):
    # pylint: disable=g-import-not-at-top
    import tensorflow as tf

    from components import model_io
    from components import signatures

    # pylint: enable=g-import-not-at-top
    self._tf = tf
    self._serve = tf.saved_model.load(path).signatures[
      signatures.SERVING_IMAGES
    ]
    self._input = signatures.IMAGES_INPUT
    self.input_size = model_io.load_config(path)[0].input_size

  def probabilities(self, images: np.ndarray) -> np.ndarray:
    # At S x S the signature's own resizes are the identity.
    outputs = self._serve(**{self._input: self._tf.constant(images)})
    return outputs[contract.PROBABILITIES].numpy()


class TFLiteModel:
  """A .tflite file of model.export's contract (one image per call), run by
  tflite_runtime with XNNPACK, as apps run it (components.tflite_runner).

  A TFLite interpreter must not be invoked from two threads at once (it
  corrupts its heap: "malloc(): corrupted top size"), and RunInference
  shares one model among a worker's threads: each thread gets its own
  interpreter of the same file, a few MB each.
  """

  def __init__(self, path: str):
    self._flatbuffer = files.read_bytes(path)
    self._per_thread = threading.local()
    self.input_size = self._segmenter().input_size

  def _segmenter(self) -> TFLiteSegmenter:
    if not hasattr(self._per_thread, 'segmenter'):
      with quiet_logs.unless_verbose(not cli_env.quiet()):
        self._per_thread.segmenter = TFLiteSegmenter(
          self._flatbuffer,
          interpreter=tflite_runtime.Interpreter,
          xnnpack=True,
        )
    return self._per_thread.segmenter

  def probabilities(self, images: np.ndarray) -> np.ndarray:
    segmenter = self._segmenter()
    return np.stack(
      [segmenter.predict(image)[contract.PROBABILITIES] for image in images]
    )


def check_model_path(path: str) -> None:
  """ValueError unless `path` is a .tflite file or a SavedModel folder."""
  if path.endswith('.tflite'):
    if not files.exists(path):
      raise ValueError(f'--model={path}: no such file')
    return
  if not files.exists(os.path.join(path, 'saved_model.pb')):
    raise ValueError(
      f'--model={path}: neither a .tflite file nor a '
      'SavedModel folder (no saved_model.pb)'
    )


def load_model(path: str) -> Model:
  check_model_path(path)
  return TFLiteModel(path) if path.endswith('.tflite') else SavedModel(path)


def input_size_of(path: str) -> int:
  """S of the model at `path`, without loading a SavedModel."""
  check_model_path(path)
  if path.endswith('.tflite'):
    return TFLiteModel(path).input_size
  from components import model_io  # pylint: disable=g-import-not-at-top

  return model_io.load_config(path)[0].input_size


def resize_to(size: int, image: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 3] -> [size, size, 3], as the Transform graph resizes."""
  return bilinear.resize_image(image, size)


def class_ids(probabilities: np.ndarray, height: int, width: int) -> np.ndarray:
  """float [S, S, C] -> uint8 class ids [height, width] (at most 256)."""
  return bilinear.class_ids_at(probabilities, height, width).astype(np.uint8)


def segment(model: Model, image: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 3] -> uint8 class ids [H, W]."""
  resized = resize_to(model.input_size, image)
  probabilities = model.probabilities(resized[None])[0]
  return class_ids(probabilities, *image.shape[:2])


def load_segmenter(path: str) -> Tuple[Segmenter, List[str]]:
  """(image uint8 [H, W, 3] -> class ids [H, W], class names)."""
  return functools.partial(segment, load_model(path)), labels_of(path)


def labels_of(path: str) -> List[str]:
  """A pushed version's labels.txt, or the one in a SavedModel's extras.

  For a .tflite file, the labels.txt beside it.
  """
  folder = os.path.dirname(path) if path.endswith('.tflite') else path
  beside = os.path.join(folder, labels.LABELS_FILE)
  if files.exists(beside):
    return list(labels.read_labels(beside))
  from components import model_io  # pylint: disable=g-import-not-at-top

  extras = model_io.labels_path(folder)
  if files.exists(extras):
    return list(labels.read_labels(extras))
  raise ValueError(f'no {labels.LABELS_FILE} in {folder} (nor {extras})')
