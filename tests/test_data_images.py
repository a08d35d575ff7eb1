"""data.images: every way image bytes can fail becomes a named BadExample."""

import io

import numpy as np
from PIL import Image
import pytest

from data import images
from data import problems


def _encode(array, fmt, **kwargs):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, fmt, **kwargs)
  return buffer.getvalue()


PIXELS = np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)


@pytest.mark.parametrize('fmt', ['JPEG', 'PNG'])
def test_check_image_gives_the_full_size_even_in_draft_mode(fmt):
  data = _encode(PIXELS, fmt)
  assert images.check_image(data, 'x', problems.CORRUPT_IMAGE, 'image') == (
    fmt,
    30,
    40,
  )


def test_open_image_decodes_the_pixels():
  data = _encode(PIXELS, 'PNG')
  image = images.open_image(data, 'x.png', problems.CORRUPT_MASK, 'mask')
  np.testing.assert_array_equal(np.asarray(image), PIXELS)


@pytest.mark.parametrize(
  'data,detail',
  [
    (b'not an image', 'cannot decode image'),
    (_encode(PIXELS, 'JPEG')[:200], 'cannot decode image'),  # Truncated.
    (_encode(PIXELS, 'PNG')[:-40], 'cannot decode image'),
    (_encode(PIXELS, 'BMP'), 'image format BMP is not supported (JPEG or PNG)'),
  ],
)
def test_failures_name_the_file_the_problem_and_why(data, detail):
  with pytest.raises(problems.BadExample) as error:
    images.check_image(
      data,
      'dir/a.jpg',
      problems.CORRUPT_IMAGE,
      'image',
      formats=('JPEG', 'PNG'),
    )
  assert error.value.problem == problems.CORRUPT_IMAGE
  assert error.value.path == 'dir/a.jpg'
  assert detail in str(error.value)
