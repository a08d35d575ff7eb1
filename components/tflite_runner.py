"""Runs an exported TFLite segmenter (model.export's contract) on images.

It imports no TensorFlow unless asked for TensorFlow's interpreter (the
default): with tflite_runtime's (components.inference), a Beam worker
segments photos without TensorFlow's 0.6 GB. The resizes are
components.bilinear's, equal to the Transform graph's.

Kernels: by default TFLite's builtin (reference) kernels, which the
TFLiteExport evaluation and the int8 gate score with, and which LiteRT's
builtin kernels reproduce exactly (tested). `xnnpack=True` adds TFLite's
default XNNPACK delegate, as apps run the files: 4 ms against 22 ms per
128 px image on the demo model, the same float probabilities to 1e-6, but
its own int8 arithmetic (about 99% of int8 class ids alike, docs/models.md).
"""

import importlib

import numpy as np

from components import bilinear
from model import contract


def _tensorflow_interpreter():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  return tf.lite.Interpreter


class TFLiteSegmenter:
  """A TFLite model with input `image` uint8 [1, S, S, 3] and `class_ids`."""

  def __init__(
    self,
    flatbuffer: bytes,
    num_threads: int = None,
    interpreter=None,
    xnnpack: bool = False,
  ):
    """`interpreter`: the Interpreter class to run it with; by default
    TensorFlow's (the kernels of the TensorFlow that converted the file).
    `xnnpack`: with TFLite's default delegate rather than the builtin
    kernels alone."""
    interpreter = interpreter or _tensorflow_interpreter()
    # Each runtime (tf.lite, tflite_runtime) has its own enum.
    resolvers = importlib.import_module(interpreter.__module__).OpResolverType
    self._interpreter = interpreter(
      model_content=flatbuffer,
      num_threads=num_threads,
      experimental_op_resolver_type=resolvers.AUTO
      if xnnpack
      else resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    # The signature names the tensors; calls go to the tensors themselves,
    # after the interpreter allocated them: a signature runner allocates
    # its subgraph alone, which never applies the XNNPACK delegate.
    self._interpreter.allocate_tensors()
    signature = self._interpreter.get_signature_runner()
    image = signature.get_input_details()[contract.IMAGE]
    self._image = image['index']
    self._outputs = {
      name: details['index']
      for name, details in signature.get_output_details().items()
    }
    self.input_size = int(image['shape'][1])

  def predict(self, image: np.ndarray) -> dict:
    """uint8 [S, S, 3] -> {'class_ids': [S, S], 'probabilities': [S, S, C]}."""
    self._interpreter.set_tensor(self._image, np.asarray(image, np.uint8)[None])
    self._interpreter.invoke()
    return {
      name: self._interpreter.get_tensor(index)[0]
      for name, index in self._outputs.items()
    }

  def segment(
    self, image: np.ndarray, resize=bilinear.resize_image
  ) -> np.ndarray:
    """uint8 [H, W, 3] of any size -> int32 class ids [H, W].

    The image is resized as the Transform graph resizes it (or by
    `resize(image, size)`, e.g. to see what another client's resize does),
    and the ids are the argmax of the probabilities resized back to the
    image (preprocessing.class_ids_at), so they line up with the original
    mask (what the metric and the overlays need), as the SavedModel's do.
    """
    resized = np.asarray(resize(image, self.input_size))
    probabilities = self.predict(resized)[contract.PROBABILITIES]
    return bilinear.class_ids_at(probabilities, *image.shape[:2])
