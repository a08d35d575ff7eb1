"""data.images: every way image bytes can fail becomes a named BadExample."""

import io

import numpy as np
from PIL import Image
import pytest

from data import images
from data import problems
from tests.fixtures import hostile

LIMIT = images.DEFAULT_MAX_IMAGE_PIXELS
PIXELS = np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)


def _encode(array, fmt, **kwargs):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, fmt, **kwargs)
  return buffer.getvalue()


def _cmyk_jpeg():
  buffer = io.BytesIO()
  Image.fromarray(PIXELS).convert('CMYK').save(buffer, 'JPEG')
  return buffer.getvalue()


@pytest.mark.parametrize('fmt', ['JPEG', 'PNG'])
def test_check_image_gives_format_and_size(fmt):
  data = _encode(PIXELS, fmt)
  assert images.check_image(data, 'x', LIMIT) == (fmt, 30, 40)


def test_open_mask_decodes_the_pixels():
  mask = (PIXELS[..., 0] % 21).astype(np.uint8)
  image = images.open_mask(_encode(mask, 'PNG'), 'x.png', LIMIT)
  np.testing.assert_array_equal(np.asarray(image), mask)


@pytest.mark.parametrize(
  'data,problem,detail',
  [
    (b'not an image', problems.CORRUPT_IMAGE, 'cannot decode image'),
    (_encode(PIXELS, 'JPEG')[:200], problems.CORRUPT_IMAGE, 'cannot decode'),
    (_encode(PIXELS, 'JPEG')[:-100], problems.CORRUPT_IMAGE, 'truncated'),
    (_encode(PIXELS, 'PNG')[:-40], problems.CORRUPT_IMAGE, 'PNG chunk'),
    (
      _encode(PIXELS, 'BMP'),
      problems.UNSUPPORTED_IMAGE,
      'the image is BMP; the pipeline reads JPEG or PNG',
    ),
    (
      _encode(PIXELS, 'TIFF'),
      problems.UNSUPPORTED_IMAGE,
      'the image is TIFF',
    ),
    (hostile.png_with_bad_crc(PIXELS), problems.CORRUPT_IMAGE, 'checksum'),
    (_cmyk_jpeg(), problems.UNSUPPORTED_IMAGE, 'a CMYK JPEG'),
  ],
)
def test_failures_name_the_file_the_problem_and_why(data, problem, detail):
  with pytest.raises(problems.BadExample) as error:
    images.check_image(data, 'dir/a.jpg', LIMIT)
  assert error.value.problem == problem
  assert error.value.path == 'dir/a.jpg'
  assert detail in str(error.value)


def test_a_bad_crc_passes_pil_but_not_the_pipeline():
  data = hostile.png_with_bad_crc(PIXELS)
  np.testing.assert_array_equal(
    np.asarray(Image.open(io.BytesIO(data))), PIXELS
  )
  with pytest.raises(problems.BadExample, match='broken PNG chunk'):
    images.open_mask(data, 'm.png', LIMIT)
  # TensorFlow, which decodes in Transform, refuses it too.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  with pytest.raises(tf.errors.InvalidArgumentError):
    tf.io.decode_png(data)


@pytest.mark.parametrize('fmt', ['JPEG', 'PNG'])
def test_the_checks_refuse_what_tensorflow_refuses(fmt):
  """Every prefix of a file: the PIL checks and TF's decoders agree."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  data = _encode(PIXELS, fmt)
  for end in range(20, len(data), max(1, len(data) // 60)):
    part = data[:end]
    try:
      images.check_image(part, 'x', LIMIT)
      ours = True
    except problems.BadExample:
      ours = False
    try:
      decode = tf.io.decode_jpeg if fmt == 'JPEG' else tf.io.decode_png
      decode(part)
      theirs = True
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
      theirs = False
    assert ours == theirs, (fmt, end, len(data))


def test_too_many_pixels_are_refused_before_decoding():
  bomb = hostile.header_bomb_png(
    20_000, 20_000
  )  # 400 megapixels in a few hundred bytes.
  assert len(bomb) < 2_000
  for call in (
    lambda: images.check_image(bomb, 'a.png', LIMIT),
    lambda: images.open_mask(bomb, 'a.png', LIMIT),
    lambda: images.open_photo(bomb, 'a.png', LIMIT),
  ):
    with pytest.raises(problems.BadExample) as error:
      call()
    assert error.value.problem == problems.IMAGE_TOO_LARGE
    assert '400000000 pixels' in error.value.detail
    assert error.value.detail.endswith('it was not decoded')
  # The limit is the caller's: 30 x 40 is too many for 1,000.
  with pytest.raises(
    problems.BadExample, match='1200 pixels, over the limit of 1000'
  ):
    images.check_image(_encode(PIXELS, 'PNG'), 'a.png', 1000)


@pytest.mark.parametrize('fmt', ['JPEG', 'TIFF', 'BMP'])
def test_masks_declared_png_must_be_png(fmt):
  mask = np.zeros((8, 8), np.uint8)
  with pytest.raises(problems.BadExample) as error:
    images.open_mask(_encode(mask, fmt), 'SegmentationClassAug/1.png', LIMIT)
  assert error.value.problem == problems.MASK_NOT_PNG
  assert f'the mask is {fmt} data' in error.value.detail


def test_a_bitmap_larger_than_its_image_is_not_decoded():
  bitmap = hostile.header_bomb_png(13_000, 13_000)
  with pytest.raises(problems.BadExample) as error:
    images.open_bitmap(bitmap, 'ann.json', 100, 120)
  assert error.value.problem == problems.BITMAP_TOO_LARGE
  assert '13000x13000 (HxW) on an image of 100x120' in error.value.detail
  small = _encode(np.full((5, 6), 255, np.uint8), 'PNG')
  assert images.open_bitmap(small, 'ann.json', 100, 120).size == (6, 5)
