"""Loads a trained model (SavedModel or TFLite) as one segment function."""

import os
from typing import Callable, List, Tuple

import numpy as np
import tensorflow as tf

from components import model_io
from components import signatures as signatures_lib
from components.tflite_runner import TFLiteSegmenter
from data import labels

Segmenter = Callable[[np.ndarray], np.ndarray]


def load_segmenter(path: str) -> Tuple[Segmenter, List[str]]:
  """(image uint8 [H, W, 3] -> class ids [H, W], class names)."""
  if path.endswith('.tflite'):
    with open(path, 'rb') as f:
      return TFLiteSegmenter(f.read()).segment, _labels(os.path.dirname(path))
  if not os.path.isfile(os.path.join(path, 'saved_model.pb')):
    raise ValueError(
      f'--model={path}: neither a .tflite file nor a '
      'SavedModel folder (no saved_model.pb)'
    )
  serve = tf.saved_model.load(path).signatures[signatures_lib.SERVING_IMAGES]

  def segment(image: np.ndarray) -> np.ndarray:
    return serve(**{signatures_lib.IMAGES_INPUT: tf.constant(image[None])})[
      'class_ids'
    ].numpy()[0]

  return segment, _labels(path)


def _labels(folder: str) -> List[str]:
  """A pushed version's labels.txt, or the one in a SavedModel's extras."""
  for candidate in (
    os.path.join(folder, labels.LABELS_FILE),
    model_io.labels_path(folder),
  ):
    if os.path.isfile(candidate):
      return list(labels.read_labels(candidate))
  raise ValueError(
    f'no {labels.LABELS_FILE} in {folder} (nor {model_io.labels_path(folder)})'
  )
