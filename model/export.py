"""Deployable export: uint8 image in, class ids out, TFLite builtin ops only.

`inference_model` wraps a trained model for deployment; `convert_to_tflite`
turns that wrapper into a float32, float16-weight or full-int8 TFLite
flatbuffer and `freeze_graph` into a TF1 frozen GraphDef. All keep the
contract an app codes against: input `image` uint8 [1, S, S, 3] RGB; outputs
`class_ids` int32 [1, S, S] and `probabilities` float32 [1, S, S, C].
"""

from typing import Dict, Iterable, Optional, Tuple

import numpy as np
import tensorflow as tf

# TF's freezing utility for tf.functions; it has no public TF2 name.
from tensorflow.python.framework import convert_to_constants
import tf_keras

from model import layers as model_layers
from model.contract import CLASS_IDS  # The contract's names, as export.X.
from model.contract import IMAGE
from model.contract import PROBABILITIES


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
  representative_images: Optional[Iterable[np.ndarray]] = None,
  float16_weights: bool = False,
) -> bytes:
  """Converts an `inference_model` wrapper to a TFLite flatbuffer.

  Args:
    model: the output of `inference_model` (uint8 `image` input).
    representative_images: None for a float model; otherwise uint8
      [1, S, S, 3] arrays that calibrate full int8 quantization (builtin
      int8 kernels only; the uint8 input stays uint8).
    float16_weights: store the weights as float16 (half the file; compute
      stays float32 on CPU, float16 on GPU delegates). The format MediaPipe
      ships its own segmentation models in.

  Returns:
    The serialized TFLite model, with one signature 'serving_default' whose
    input is `image` and whose outputs are `class_ids` and `probabilities`,
    in that order: MediaPipe's ImageSegmenter reads the last output.
  """
  if representative_images is not None and float16_weights:
    raise ValueError(
      f'convert_to_tflite({model.name!r}): representative_images (int8) '
      'and float16_weights exclude each other; pass one'
    )
  # The converter saves its trackable as a SavedModel to name the signature.
  # Handing it the variables alone, not the Keras model, spares it tracing
  # every layer for Keras serialization (10x faster, same ops and weights).
  trackable = tf.Module()
  trackable.variables_ = list(model.variables)
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
    [_image_function(model).get_concrete_function()], trackable
  )
  if representative_images is not None:
    calibration = [
      np.asarray(image, np.uint8) for image in representative_images
    ]
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = lambda: (
      [image] for image in calibration
    )
  if float16_weights:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
  return converter.convert()


def freeze_graph(
  model: tf_keras.Model,
) -> Tuple[tf.compat.v1.GraphDef, Dict[str, str]]:
  """An `inference_model` wrapper as a TF1 frozen graph.

  The original TF1 project shipped `frozen_model.pb` for TF1 and C++
  consumers, which load a GraphDef without a SavedModel loader. The
  variables become constants; the outputs are named `class_ids` and
  `probabilities` in the graph.

  Returns:
    (GraphDef, {'input': tensor name, 'outputs': {output: tensor name}}).
  """
  names = {}

  def named_outputs(image):
    outputs = {}
    for name, tensor in model(image).items():
      outputs[name] = tf.identity(tensor, name=name)
      names[name] = outputs[name].name
    return outputs

  frozen = convert_to_constants.convert_variables_to_constants_v2(
    _image_function(model, named_outputs).get_concrete_function()
  )
  return frozen.graph.as_graph_def(), {
    'input': frozen.inputs[0].name,
    'outputs': names,
  }


def _image_function(model: tf_keras.Model, fn=None) -> tf.function:
  """`fn` (default: the model) as a tf.function of the uint8 `image`."""
  if model.input.dtype != tf.uint8:
    raise ValueError(
      f'{model.name!r}: input dtype is {model.input.dtype.name}, expected '
      'uint8; pass inference_model(model), not the training model'
    )
  return tf.function(
    fn or model,
    autograph=False,
    input_signature=[tf.TensorSpec(model.input_shape, tf.uint8, name=IMAGE)],
  )
