"""data.example: mask PNGs decode to the same ids in PIL and TensorFlow."""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from data import example
from data import features
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


def test_foreground_fraction_counts_labelled_non_background_pixels():
  mask = np.zeros((4, 5), np.uint8)
  mask[0, :] = 255  # 5 void pixels: 15 labelled remain.
  mask[1, :3] = 1
  mask[2, 0] = 7
  assert example.foreground_fraction(mask) == pytest.approx(4 / 15)
  assert example.foreground_fraction(np.full((3, 3), 255, np.uint8)) == 0.0
  encoded = example.encode_class_mask(mask)
  assert encoded.foreground_fraction == pytest.approx(4 / 15)
  np.testing.assert_array_equal(
    np.asarray(Image.open(io.BytesIO(encoded.png))), mask
  )


def test_serialized_example_carries_source_fraction_and_bucket():
  mask = np.zeros((10, 10), np.uint8)
  mask[:5] = 1
  record = example.SegmentationExample(
    'a.png',
    b'image',
    example.ImageInfo('png', 10, 10),
    example.encode_class_mask(mask),
    source='ds7',
  )
  feature = tf.train.Example.FromString(record.serialize()).features.feature
  assert feature[features.SOURCE_KEY].bytes_list.value == [b'ds7']
  assert feature[features.FOREGROUND_FRACTION_KEY].float_list.value == [0.5]
  assert feature[features.FOREGROUND_BUCKET_KEY].bytes_list.value == [
    b'[0.25, 1]'
  ]
