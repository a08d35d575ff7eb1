"""Serving signatures of the exported SavedModel.

- `serving_default` takes serialized tf.Examples, as TF Serving clients and
  the Evaluator send them, and runs the Transform graph first, so serving
  preprocesses exactly as training did.
- `serving_images` takes a batch of uint8 RGB images of any one size, for
  callers that have pixels rather than examples.

Both return per-pixel class ids. `serving_default` also returns ids at each
example's original size (preprocessing.class_ids_at: the argmax of the
probabilities resized back), padded with the ignore label to the largest
image of the batch: that is what the mIoU metric (components.iou_metric)
compares with the original-resolution masks, and what
components.tflite_runner computes for the TFLite files.
"""

from typing import Dict

import tensorflow as tf
import tensorflow_transform as tft

from components import preprocessing
from data import features

# The signatures' names and their inputs' names: TF Serving requests name
# them (docs/serving.md, pipeline.serving_request).
SERVING_DEFAULT = 'serving_default'
SERVING_IMAGES = 'serving_images'
EXAMPLES_INPUT = 'examples'
IMAGES_INPUT = 'images'
# serving_default's class ids at each example's original size.
CLASS_IDS_ORIGINAL = 'class_ids_original'


def build_signatures(
  model, tf_transform_output: tft.TFTransformOutput, input_size: int
) -> Dict[str, tf.types.experimental.ConcreteFunction]:
  """The signatures to pass to `model.save(..., signatures=...)`."""
  model.tft_layer = tf_transform_output.transform_features_layer()
  # Only the image: serving requests carry no mask (the Transform graph then
  # computes only the outputs that need no mask).
  raw_spec = {
    features.IMAGE_ENCODED: tf_transform_output.raw_feature_spec()[
      features.IMAGE_ENCODED
    ]
  }

  def predict(images: tf.Tensor) -> Dict[str, tf.Tensor]:
    logits = model(tf.cast(images, tf.float32), training=False)
    return {
      'class_ids': tf.argmax(logits, axis=-1, output_type=tf.int32),
      'probabilities': tf.nn.softmax(logits, axis=-1),
    }

  @tf.function(
    input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)]
  )
  def serve_examples(serialized):
    raw = tf.io.parse_example(serialized, raw_spec)
    transformed = model.tft_layer(raw)
    images = tf.map_fn(
      lambda png: tf.io.decode_png(png, channels=3),
      transformed[features.IMAGE],
      fn_output_signature=tf.TensorSpec([input_size, input_size, 3], tf.uint8),
    )
    outputs = predict(images)
    sizes = tf.map_fn(
      lambda encoded: tf.shape(preprocessing.decode_image(encoded))[:2],
      tf.reshape(raw[features.IMAGE_ENCODED], [-1]),
      fn_output_signature=tf.int32,
    )
    outputs['original_height'] = sizes[:, 0]
    outputs['original_width'] = sizes[:, 1]
    outputs[CLASS_IDS_ORIGINAL] = _resize_back_padded(
      outputs['probabilities'], sizes
    )
    return outputs

  @tf.function(
    input_signature=[
      tf.TensorSpec([None, None, None, 3], tf.uint8, name=IMAGES_INPUT)
    ]
  )
  def serve_images(images):
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    resized = tf.map_fn(
      lambda image: preprocessing.resize_image(image, input_size), images
    )
    outputs = predict(resized)
    probabilities = preprocessing.resize_probabilities(
      outputs['probabilities'], height, width
    )
    return {
      'class_ids': tf.argmax(probabilities, axis=-1, output_type=tf.int32),
      'probabilities': probabilities,
    }

  return {
    SERVING_DEFAULT: serve_examples.get_concrete_function(),
    SERVING_IMAGES: serve_images.get_concrete_function(),
  }


def _resize_back_padded(
  probabilities: tf.Tensor, sizes: tf.Tensor
) -> tf.Tensor:
  """[B, S, S, C] probabilities -> ids [B, max H, max W], each at its (H, W)."""
  max_size = tf.reduce_max(sizes, axis=0)

  def one(args):
    scores, size = args
    return tf.pad(
      preprocessing.class_ids_at(scores, size[0], size[1]),
      [[0, max_size[0] - size[0]], [0, max_size[1] - size[1]]],
      constant_values=features.IGNORE_LABEL,
    )

  return tf.map_fn(
    one,
    (probabilities, sizes),
    fn_output_signature=tf.TensorSpec([None, None], tf.int32),
  )
