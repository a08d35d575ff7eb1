"""Runs an exported TFLite segmenter (model.export's contract) on images."""

import numpy as np
import tensorflow as tf

from components import preprocessing
from model import export


class TFLiteSegmenter:
  """A TFLite model with input `image` uint8 [1, S, S, 3] and `class_ids`."""

  def __init__(self, flatbuffer: bytes, num_threads: int = None):
    self._interpreter = tf.lite.Interpreter(
      model_content=flatbuffer, num_threads=num_threads
    )
    self._run = self._interpreter.get_signature_runner()
    self.input_size = int(
      self._run.get_input_details()[export.IMAGE]['shape'][1]
    )

  def predict(self, image: np.ndarray) -> dict:
    """uint8 [S, S, 3] -> {'class_ids': [S, S], 'probabilities': [S, S, C]}."""
    outputs = self._run(**{export.IMAGE: np.asarray(image, np.uint8)[None]})
    return {name: value[0] for name, value in outputs.items()}

  def segment(
    self, image: np.ndarray, resize=preprocessing.resize_image
  ) -> np.ndarray:
    """uint8 [H, W, 3] of any size -> int32 class ids [H, W].

    The image is resized as the Transform graph resizes it (or by
    `resize(image, size)`, e.g. to see what another client's resize does),
    and the ids are the argmax of the probabilities resized back to the
    image (preprocessing.class_ids_at), so they line up with the original
    mask (what the metric and the overlays need), as the SavedModel's do.
    """
    resized = np.asarray(resize(tf.constant(image), self.input_size))
    probabilities = self.predict(resized)[export.PROBABILITIES]
    return preprocessing.class_ids_at(
      tf.constant(probabilities), *image.shape[:2]
    ).numpy()
