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

  def segment(self, image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] of any size -> class ids [H, W].

    The image is resized as the Transform graph resizes it, and the ids are
    resized back with nearest neighbour, so they line up with the original
    mask (what the metric and the overlays need).
    """
    resized = preprocessing.resize_image(
      tf.constant(image), self.input_size
    ).numpy()
    class_ids = self.predict(resized)[export.CLASS_IDS]
    return preprocessing.resize_mask(
      tf.constant(class_ids[..., None]), *image.shape[:2]
    ).numpy()[..., 0]
