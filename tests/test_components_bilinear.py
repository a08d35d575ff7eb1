"""components.bilinear: TensorFlow's resizes of the Transform graph, in numpy.

TensorFlow (components.preprocessing) is the oracle: the same bytes for the
image resize, the same class ids after upsampling, on sizes that shrink,
grow, keep, and leave one pixel.
"""

import numpy as np
import pytest
import tensorflow as tf

from components import bilinear
from components import preprocessing

_RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
  'height,width,size',
  [
    (480, 640, 128),  # A photo shrunk.
    (3000, 4000, 128),  # A 12-megapixel photo.
    (50, 70, 257),  # Grown, odd size.
    (128, 128, 128),  # Kept.
    (129, 127, 128),  # Almost kept: weights near 0 and 1.
    (1, 1, 128),
    (2, 500, 65),
  ],
)
def test_resize_image_equals_tensorflows(height, width, size):
  image = _RNG.integers(0, 256, (height, width, 3), np.uint8)
  ours = bilinear.resize_image(image, size)
  theirs = preprocessing.resize_image(tf.constant(image), size).numpy()
  assert ours.dtype == np.uint8 and ours.shape == (size, size, 3)
  np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
  'size,classes,height,width',
  [
    (128, 2, 480, 640),
    (128, 21, 300, 500),
    (33, 3, 3000, 4000),  # Many strips.
    (128, 2, 50, 70),  # Shrunk.
    (128, 2, 128, 128),
    (65, 2, 1, 1),
    (16, 5, 17, 9),
  ],
)
def test_class_ids_at_equal_tensorflows(size, classes, height, width):
  probabilities = _RNG.random((size, size, classes), np.float32)
  ours = bilinear.class_ids_at(probabilities, height, width)
  theirs = preprocessing.class_ids_at(
    tf.constant(probabilities), height, width
  ).numpy()
  assert ours.dtype == np.int32 and ours.shape == (height, width)
  np.testing.assert_array_equal(ours, theirs)


def test_class_ids_put_the_boundary_where_the_scores_cross():
  """Two columns of scores, upsampled 4x: the argmax changes where the
  interpolated scores cross, at 8/9 of the way, not half-way as ids
  resized by nearest neighbour would."""
  probabilities = np.zeros((2, 2, 2), np.float32)
  probabilities[:, 0] = [0.9, 0.1]
  probabilities[:, 1] = [0.45, 0.55]
  ids = bilinear.class_ids_at(probabilities, 1, 8)
  # By hand: source x = (i + 0.5) / 4 - 0.5, clamped to [0, 1]; class 1
  # minus class 0 is -0.8 + 0.9 x, positive past x = 8/9.
  source = np.clip((np.arange(8) + 0.5) / 4 - 0.5, 0, 1)
  np.testing.assert_array_equal(ids[0], (-0.8 + 0.9 * source > 0))
  assert list(ids[0]) == [0, 0, 0, 0, 0, 0, 1, 1]


def test_strips_bound_the_memory_of_a_large_photo(monkeypatch):
  """Strips of rows give the same ids as one strip."""
  probabilities = _RNG.random((32, 32, 3), np.float32)
  whole = bilinear.class_ids_at(probabilities, 301, 203)
  monkeypatch.setattr(bilinear, '_STRIP_ELEMENTS', 203 * 7)  # 7 rows.
  np.testing.assert_array_equal(
    bilinear.class_ids_at(probabilities, 301, 203), whole
  )


def test_upsampled_scores_equal_tensorflows_to_the_bit():
  """The float32 scores before the argmax, not only the argmax: the same
  operations in the same order and precision as TensorFlow's kernel."""
  probabilities = _RNG.random((32, 32, 2), np.float32)
  rows, columns = bilinear._weights(32, 75), bilinear._weights(32, 41)
  ours = bilinear._resize_plane(probabilities[:, :, 1], rows, columns)
  theirs = preprocessing.resize_probabilities(
    tf.constant(probabilities), 75, 41
  ).numpy()[:, :, 1]
  assert ours.dtype == np.float32
  np.testing.assert_array_equal(ours, theirs)


def test_ties_go_to_the_first_class_as_with_tensorflows_argmax():
  probabilities = np.full((8, 8, 3), 0.25, np.float32)
  probabilities[:4, :, 2] = 0.5  # Class 2 wins the top half only.
  ours = bilinear.class_ids_at(probabilities, 16, 16)
  theirs = preprocessing.class_ids_at(
    tf.constant(probabilities), 16, 16
  ).numpy()
  np.testing.assert_array_equal(ours, theirs)
  assert set(np.unique(ours)) == {0, 2}
