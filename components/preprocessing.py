"""The Transform component's module: decode and resize, nothing random.

tf.Transform runs `preprocessing_fn` over the dataset on Beam and embeds the
same graph in the exported model, so serving decodes and resizes exactly as
training did. Augmentation is random and belongs to the Trainer's input
pipeline (components.training_input), never here.

Transformed examples hold the resized image and mask as lossless PNG bytes:
small on disk, readable by any image tool, and exact.

The way back lives here too (`class_ids_at`), so that every prediction at an
image's own size (serving signatures, TFLite evaluation, predict) inverts
the same resize.
"""

from typing import Any, Dict

import tensorflow as tf

from data import features


def resize_image(image: tf.Tensor, size: int) -> tf.Tensor:
  """uint8 [H, W, 3] -> uint8 [size, size, 3], bilinear (half-pixel centers).

  The model's uint8 input is defined as the image resized this way; phones
  feed TFLite models an image resized the same way.
  """
  resized = tf.image.resize(image, [size, size], method='bilinear')
  return tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)


def resize_mask(mask: tf.Tensor, height, width) -> tf.Tensor:
  """uint8 [H, W, 1] class ids -> [height, width, 1], nearest neighbour.

  Nearest keeps every value a valid class id (or the ignore label).
  """
  return tf.image.resize(mask, [height, width], method='nearest')


def resize_probabilities(probabilities: tf.Tensor, height, width) -> tf.Tensor:
  """float [..., S, S, C] class probabilities -> [..., height, width, C].

  Bilinear with half-pixel centres, the inverse of `resize_image`.
  """
  return tf.image.resize(probabilities, [height, width], method='bilinear')


def class_ids_at(probabilities: tf.Tensor, height, width) -> tf.Tensor:
  """float [..., S, S, C] probabilities -> int32 class ids [..., height, width].

  The argmax is taken after `resize_probabilities`, as DeepLab upsamples its
  logits before the argmax: a boundary then falls where the scores cross,
  between model pixels, rather than on the model's grid as with ids resized
  by nearest neighbour. MediaPipe's category mask too is an argmax after
  bilinear upsampling (docs/models.md).
  """
  return tf.argmax(
    resize_probabilities(probabilities, height, width),
    axis=-1,
    output_type=tf.int32,
  )


def decode_image(encoded: tf.Tensor) -> tf.Tensor:
  """Any JPEG/PNG/BMP/GIF, grayscale or RGB(A) -> uint8 [H, W, 3]."""
  return tf.io.decode_image(encoded, channels=3, expand_animations=False)


def decode_mask(encoded: tf.Tensor) -> tf.Tensor:
  """Single-channel PNG of class ids -> uint8 [H, W, 1]."""
  return tf.io.decode_png(encoded, channels=1)


def preprocessing_fn(
  inputs: Dict[str, Any], custom_config: Dict[str, Any]
) -> Dict[str, tf.Tensor]:
  """Raw examples -> {image, mask}, both PNG of the training size S x S.

  `custom_config['input_size']` is S. The mask is optional so that the same
  graph transforms unlabelled serving requests.
  """
  size = int(custom_config['input_size'])
  outputs = {
    features.IMAGE: _map_strings(
      lambda encoded: tf.io.encode_png(
        resize_image(decode_image(encoded), size)
      ),
      _dense_strings(inputs[features.IMAGE_ENCODED]),
    ),
  }
  if features.MASK_ENCODED in inputs:
    outputs[features.MASK] = _map_strings(
      lambda encoded: tf.io.encode_png(
        resize_mask(decode_mask(encoded), size, size)
      ),
      _dense_strings(inputs[features.MASK_ENCODED]),
    )
  return outputs


def _dense_strings(values) -> tf.Tensor:
  """A batch of one string per example, dense or sparse -> string [B]."""
  if isinstance(values, tf.SparseTensor):
    values = tf.sparse.to_dense(values, default_value='')
  return tf.reshape(values, [-1])


def _map_strings(fn, strings: tf.Tensor) -> tf.Tensor:
  return tf.map_fn(fn, strings, fn_output_signature=tf.string)
