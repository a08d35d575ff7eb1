"""data.example: mask PNGs decode to the same ids in PIL and TensorFlow."""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from data import example
from data import images
from data import problems


@pytest.mark.parametrize('shape', [(1, 1), (3, 7), (375, 500)])
def test_mask_png_decodes_to_the_ids(shape):
  rng = np.random.default_rng(sum(shape))
  mask = np.zeros(shape, np.uint8)  # Runs, like a label map...
  mask[:, shape[1] // 3 :] = 7
  mask[shape[0] // 2 :] = 255
  noise = rng.random(shape) < 0.05  # ...and every value somewhere.
  mask[noise] = rng.integers(0, 256, noise.sum())
  png = example.encode_mask(mask)
  image = Image.open(io.BytesIO(png))
  assert (image.format, image.mode, image.size) == ('PNG', 'L', shape[::-1])
  np.testing.assert_array_equal(np.asarray(image), mask)
  decoded = tf.io.decode_png(png, channels=1).numpy()
  np.testing.assert_array_equal(decoded[..., 0], mask)


def test_mask_png_rejects_other_arrays():
  for bad in (np.zeros((2, 2), np.int32), np.zeros((2, 2, 1), np.uint8)):
    with pytest.raises(ValueError, match='2-D uint8'):
      example.encode_mask(bad)


def test_inspect_image_reads_size_and_catches_truncation():
  rng = np.random.default_rng(0)
  pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
  for fmt, name in (('JPEG', 'jpeg'), ('PNG', 'png')):
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    data = out.getvalue()
    assert example.inspect_image(
      data, 'x', images.DEFAULT_MAX_IMAGE_PIXELS
    ) == example.ImageInfo(name, 30, 40)
    with pytest.raises(problems.BadExample, match='x: corrupt_image'):
      example.inspect_image(
        data[: len(data) // 2], 'x', images.DEFAULT_MAX_IMAGE_PIXELS
      )


def test_foreground_fraction_counts_labelled_pixels_only():
  mask = np.array([[0, 0, 1, 255], [2, 0, 255, 255]], np.uint8)
  # 5 labelled pixels, 2 of them not background.
  assert example.foreground_fraction(mask) == 2 / 5
  assert example.foreground_fraction(np.full((3, 3), 255, np.uint8)) == 0.0
  assert example.foreground_fraction(np.zeros((2, 2), np.uint8)) == 0.0
  record = example.segmentation_example(
    'a.png', 'ds1', b'img', example.ImageInfo('png', 2, 4), mask
  )
  assert (record.source, record.foreground_fraction) == ('ds1', 0.4)
  decoded = np.asarray(Image.open(io.BytesIO(record.mask_png)))
  np.testing.assert_array_equal(decoded, mask)
