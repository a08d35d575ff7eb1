"""Phone-ready export: uint8 image in, class ids out, TFLite builtin ops only.

`inference_model` wraps a trained model for deployment and
`convert_to_tflite` turns that wrapper into a float or full-int8 TFLite
flatbuffer. Both keep the contract a phone app codes against: input `image`
uint8 [1, S, S, 3] RGB; outputs `class_ids` int32 [1, S, S] and
`probabilities` float32 [1, S, S, C].
"""

from typing import Iterable, Optional

import numpy as np
import tensorflow as tf
import tf_keras

from model import layers as model_layers

CLASS_IDS = 'class_ids'
PROBABILITIES = 'probabilities'
IMAGE = 'image'


def inference_model(model: tf_keras.Model) -> tf_keras.Model:
  """Wraps a model from `build_model` for phones.

  The argmax runs on the logits rather than on the probabilities: int8
  softmax outputs have 1/256 resolution and tie often, int8 logits rarely.

  Args:
    model: float32 [B, S, S, 3] raw RGB in [0, 255] -> logits [B, S, S, C].

  Returns:
    A model with input `image` uint8 [1, S, S, 3] and a dict output
    {class_ids: int32 [1, S, S], probabilities: float32 [1, S, S, C]}.
  """
  size = model.input_shape[1:3]
  image = tf_keras.Input((*size, 3), batch_size=1, dtype=tf.uint8, name=IMAGE)
  logits = model(tf.cast(image, tf.float32))
  outputs = {
      CLASS_IDS: model_layers.ArgMax(name=CLASS_IDS)(logits),
      PROBABILITIES: tf_keras.layers.Softmax(name=PROBABILITIES)(logits),
  }
  return tf_keras.Model(image, outputs, name=f'{model.name}_inference')


def convert_to_tflite(
    model: tf_keras.Model,
    representative_images: Optional[Iterable[np.ndarray]] = None) -> bytes:
  """Converts an `inference_model` wrapper to a TFLite flatbuffer.

  Args:
    model: the output of `inference_model` (uint8 `image` input).
    representative_images: None for a float model; otherwise uint8
      [1, S, S, 3] arrays that calibrate full int8 quantization (builtin
      int8 kernels only; the uint8 input stays uint8).

  Returns:
    The serialized TFLite model, with one signature 'serving_default' whose
    input is `image` and whose outputs are `class_ids` and `probabilities`.
  """
  if model.input.dtype != tf.uint8:
    raise ValueError(
        f'convert_to_tflite({model.name!r}): input dtype is '
        f'{model.input.dtype.name}, expected uint8; pass '
        'inference_model(model), not the training model')
  serve = tf.function(model, autograph=False, input_signature=[
      tf.TensorSpec(model.input_shape, tf.uint8, name=IMAGE)])
  # The converter saves its trackable as a SavedModel to name the signature.
  # Handing it the variables alone, not the Keras model, spares it tracing
  # every layer for Keras serialization (10x faster, same ops and weights).
  trackable = tf.Module()
  trackable.variables_ = list(model.variables)
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [serve.get_concrete_function()], trackable)
  if representative_images is not None:
    calibration = [np.asarray(image, np.uint8)
                   for image in representative_images]
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = lambda: ([image]
                                                for image in calibration)
  return converter.convert()
