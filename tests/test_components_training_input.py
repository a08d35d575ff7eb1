"""components.training_input: augmentation keeps image and mask aligned."""

import numpy as np
import pytest
import tensorflow as tf

from components import training_input


def block_pair(size=32):
  """An image whose red channel encodes the mask: 60 * class id."""
  mask = np.zeros((size, size, 1), np.uint8)
  mask[: size // 2, size // 4 :] = 1
  mask[size // 2 :, : size // 3] = 2
  image = np.zeros((size, size, 3), np.float32)
  image[..., 0] = mask[..., 0] * 60.0
  image[..., 1] = np.arange(size)[None, :]  # to see flips
  return tf.constant(image), tf.constant(mask)


@pytest.mark.parametrize('seed', range(5))
def test_crop_and_flip_without_scaling_keep_exact_alignment(seed):
  tf.random.set_seed(seed)
  image, mask = block_pair()
  out_image, out_mask = training_input.random_scale_crop_flip(
    image, mask, 32, 1.0, 1.0
  )
  out_image, out_mask = out_image.numpy(), out_mask.numpy()
  assert out_image.shape == (32, 32, 3) and out_mask.shape == (32, 32, 1)
  assert out_mask.dtype == np.uint8
  np.testing.assert_array_equal(out_image[..., 0], out_mask[..., 0] * 60.0)
  columns = out_image[0, :, 1]
  assert np.all(columns == np.arange(32)) or np.all(
    columns == np.arange(31, -1, -1)
  )


def test_downscaling_pads_with_ignore_label_and_mean_pixel():
  tf.random.set_seed(1)
  image, mask = block_pair()
  out_image, out_mask = training_input.random_scale_crop_flip(
    image, mask, 32, 0.5, 0.5
  )
  out_image, out_mask = out_image.numpy(), out_mask[..., 0].numpy()
  padding = out_mask == 255
  assert padding.sum() == 32 * 32 - 16 * 16
  assert np.all(out_image[padding] == 127.5)
  assert set(np.unique(out_mask[~padding])) <= {0, 1, 2}


def test_upscaling_keeps_mask_values_valid():
  tf.random.set_seed(2)
  image, mask = block_pair()
  _, out_mask = training_input.random_scale_crop_flip(image, mask, 32, 2.0, 2.0)
  assert set(np.unique(out_mask.numpy())) <= {0, 1, 2}
