"""components.preprocessing: decode, resize, encode, as Transform runs it."""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from components import preprocessing
from data import features


def encode(array, fmt='PNG', mode=None):
  buffer = io.BytesIO()
  Image.fromarray(array, mode=mode).save(buffer, fmt)
  return buffer.getvalue()


def run(images, masks=None, size=8):
  inputs = {features.IMAGE_ENCODED: tf.constant([[i] for i in images])}
  if masks is not None:
    inputs[features.MASK_ENCODED] = tf.constant([[m] for m in masks])
  outputs = preprocessing.preprocessing_fn(inputs, {'input_size': size})
  return {
    key: [tf.io.decode_png(v).numpy() for v in values]
    for key, values in outputs.items()
  }


def test_image_and_mask_resized_to_size_with_exact_mask_values():
  image = np.zeros((12, 20, 3), np.uint8)
  image[:, :10] = (200, 100, 50)
  mask = np.zeros((12, 20), np.uint8)
  mask[:, 10:] = 1
  mask[0, 0] = 255
  out = run([encode(image)], [encode(mask, mode='L')], size=8)
  resized_image, resized_mask = out[features.IMAGE][0], out[features.MASK][0]
  assert resized_image.shape == (8, 8, 3)
  assert resized_mask.shape == (8, 8, 1)
  # Nearest neighbour keeps only values that were there.
  assert set(np.unique(resized_mask)) <= {0, 1, 255}
  np.testing.assert_array_equal(
    resized_mask[:, :4, 0] != 255, resized_mask[:, :4, 0] == 0
  )
  assert (resized_mask[:, 4:, 0] == 1).all()
  # Flat regions stay exactly their colour under bilinear resizing.
  np.testing.assert_array_equal(resized_image[:, 0], [[200, 100, 50]] * 8)
  np.testing.assert_array_equal(resized_image[:, -1], [[0, 0, 0]] * 8)


def test_grayscale_jpeg_becomes_three_equal_channels():
  gray = np.tile(np.arange(0, 250, 25, dtype=np.uint8), (10, 1))
  out = run([encode(gray, 'JPEG', mode='L')], size=10)
  image = out[features.IMAGE][0]
  assert image.shape == (10, 10, 3)
  np.testing.assert_array_equal(image[..., 0], image[..., 1])
  np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_serving_path_without_mask_transforms_images_only():
  out = run([encode(np.full((5, 7, 3), 9, np.uint8))], size=16)
  assert set(out) == {features.IMAGE}
  assert (out[features.IMAGE][0] == 9).all()


def test_resize_image_matches_tf_bilinear_half_pixel_rounded():
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, size=(17, 23, 3)).astype(np.uint8)
  expected = np.round(
    tf.compat.v1.image.resize_bilinear(
      image[None].astype(np.float32), [9, 9], half_pixel_centers=True
    ).numpy()[0]
  ).astype(np.uint8)
  np.testing.assert_array_equal(
    preprocessing.resize_image(tf.constant(image), 9).numpy(), expected
  )


def test_class_ids_at_put_the_boundary_where_the_scores_cross():
  # Two model pixels, person probability 0.45 then 0.9, shown 8 pixels wide:
  # bilinear scores cross 0.5 an eighth of the way from the first centre,
  # at output column 2; resized ids would switch halfway, at column 4.
  person = np.array([[0.45, 0.9]], np.float32)
  probabilities = np.stack([1 - person, person], axis=-1)
  ids = preprocessing.class_ids_at(tf.constant(probabilities), 1, 8).numpy()
  np.testing.assert_array_equal(ids, [[0, 0, 1, 1, 1, 1, 1, 1]])
  assert ids.dtype == np.int32
  nearest = preprocessing.resize_mask(
    tf.constant(np.argmax(probabilities, -1)[..., None]), 1, 8
  ).numpy()[..., 0]
  np.testing.assert_array_equal(nearest, [[0, 0, 0, 0, 1, 1, 1, 1]])


def test_class_ids_at_the_model_size_are_the_argmax():
  rng = np.random.default_rng(0)
  probabilities = rng.random((2, 6, 6, 3)).astype(np.float32)
  np.testing.assert_array_equal(
    preprocessing.class_ids_at(tf.constant(probabilities), 6, 6).numpy(),
    probabilities.argmax(-1),
  )


def test_gif_and_bmp_decode_to_one_rgb_image():
  image = np.zeros((6, 4, 3), np.uint8)
  image[:3] = (255, 0, 0)
  for fmt in ('GIF', 'BMP'):
    decoded = preprocessing.decode_image(tf.constant(encode(image, fmt)))
    np.testing.assert_array_equal(decoded.numpy(), image)


def test_decoders_give_the_graph_a_known_channel_count():
  """Transform traces preprocessing_fn: resizing needs the static rank."""
  spec = tf.TensorSpec([], tf.string)
  for decode, channels in (
    (preprocessing.decode_image, 3),
    (preprocessing.decode_mask, 1),
  ):
    traced = tf.function(decode).get_concrete_function(spec)
    assert traced.structured_outputs.shape.as_list() == [None, None, channels]


def test_sparse_image_column_is_read_one_per_example():
  """TFX's schema may parse the image column as a SparseTensor."""
  png = encode(np.full((3, 3, 3), 7, np.uint8))
  sparse = tf.sparse.from_dense(tf.constant([[png], [png]]))
  outputs = preprocessing.preprocessing_fn(
    {features.IMAGE_ENCODED: sparse}, {'input_size': 2}
  )
  images = [tf.io.decode_png(v).numpy() for v in outputs[features.IMAGE]]
  assert len(images) == 2
  assert all(
    (image == 7).all() and image.shape == (2, 2, 3) for image in images
  )


def test_an_example_without_image_is_an_error_not_a_shift():
  """A missing value must not shift the next example's image into its row."""
  png = encode(np.full((3, 3, 3), 7, np.uint8))
  sparse = tf.SparseTensor([[0, 0], [2, 0]], [png, png], [3, 1])
  with pytest.raises(tf.errors.InvalidArgumentError):
    preprocessing.preprocessing_fn(
      {features.IMAGE_ENCODED: sparse}, {'input_size': 2}
    )
