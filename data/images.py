"""The one way readers decode image bytes, with every failure a BadExample.

Images, VOC masks and Supervisely bitmaps arrive as bytes that may be
truncated, corrupt, of the wrong kind, or small files that decode to
gigabytes. Every reader opens them here:

* the header is read first (PIL, lazily) and the pixel count checked against
  a limit before anything is decoded (`image_too_large`);
* the format is checked (`unsupported_image_format`, `mask_not_png`);
* bytes the pipeline stores as they are must decode with TensorFlow's own
  decoders, the ones Transform uses: libpng there checks every chunk's CRC,
  which PIL does not for pixel data, so a file PIL reads could otherwise
  fail the run in Transform.

A new reader that goes through these functions inherits all of it.
TensorFlow is imported on first use, so listing a dataset stays light.
"""

import io
from typing import Sequence, Tuple
import warnings

import numpy as np
from PIL import Image
from PIL import ImageOps

from data import problems

# Default limit on an image's pixels (width x height): 40 megapixels, more
# than any camera photo in these datasets (VOC: 0.2, Supervisely Person: at
# most 24) and under PIL's own decompression-bomb limit (89 megapixels).
# Decoding one costs ~120 MB per copy.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000


def check_image(
  data: bytes,
  path: str,
  max_pixels: int,
  formats: Sequence[str] = ('JPEG', 'PNG'),
) -> Tuple[str, int, int]:
  """(PIL format, height, width) of image bytes the pipeline can decode.

  Raises BadExample: corrupt_image, unsupported_image_format or
  image_too_large. JPEGs are verified with libjpeg's 1/8 DCT scaling, which
  still reads every entropy-coded byte (so truncation and corruption fail)
  at a fraction of the cost of a full decode.
  """
  image = _open(data, path, problems.CORRUPT_IMAGE, 'image')
  if image.format not in formats:
    raise problems.BadExample(
      problems.UNSUPPORTED_IMAGE,
      path,
      f'the image is {image.format}; the pipeline reads {" or ".join(formats)}',
    )
  width, height = image.size
  _check_pixels(width, height, max_pixels, path, 'image')
  verify_in_tensorflow(data, image.format, path, problems.CORRUPT_IMAGE)
  return image.format, height, width


def open_mask(data: bytes, path: str, max_pixels: int) -> Image.Image:
  """A decoded PNG mask; BadExample (mask_not_png, corrupt_mask, ...)."""
  image = _open(data, path, problems.CORRUPT_MASK, 'mask')
  if image.format != 'PNG':
    raise problems.BadExample(
      problems.MASK_NOT_PNG,
      path,
      f'the mask is {image.format} data; masks must be PNG (lossless: a '
      'JPEG would turn its edges into wrong class ids)',
    )
  _check_pixels(*image.size, max_pixels, path, 'mask')
  _load(image, path, problems.CORRUPT_MASK, 'mask')
  verify_in_tensorflow(data, 'PNG', path, problems.CORRUPT_MASK)
  return image


def open_bitmap(
  data: bytes, path: str, max_height: int, max_width: int
) -> Image.Image:
  """A decoded PNG bitmap no larger than max_height x max_width."""
  image = _open(data, path, problems.BAD_BITMAP, 'bitmap')
  if image.format != 'PNG':
    raise problems.BadExample(
      problems.BAD_BITMAP, path, f'the bitmap is {image.format}, not a PNG'
    )
  width, height = image.size
  if height > max_height or width > max_width:
    raise problems.BadExample(
      problems.BITMAP_TOO_LARGE,
      path,
      f'a bitmap of {height}x{width} (HxW) on an image of '
      f'{max_height}x{max_width}; it was not decoded',
    )
  _load(image, path, problems.BAD_BITMAP, 'bitmap')
  return image


def verify_in_tensorflow(
  data: bytes, image_format: str, path: str, problem: str
) -> None:
  """BadExample(problem) unless TensorFlow's decoder takes the bytes."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  try:
    if image_format == 'JPEG':
      tf.io.decode_jpeg(data, channels=3, ratio=8)
    else:
      tf.io.decode_png(data)
  except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
    raise problems.BadExample(
      problem,
      path,
      f'TensorFlow cannot decode it ({e.message.strip()}); the pipeline '
      'decodes with TensorFlow',
    ) from e


def _check_pixels(
  width: int, height: int, max_pixels: int, path: str, what: str
) -> None:
  if width * height > max_pixels:
    raise problems.BadExample(
      problems.IMAGE_TOO_LARGE,
      path,
      f'the {what} is {width}x{height} = {width * height} pixels, over the '
      f'limit of {max_pixels} (--max_image_pixels); it was not decoded',
    )


def _open(data: bytes, path: str, problem: str, what: str) -> Image.Image:
  """The image with only its header read."""
  try:
    with warnings.catch_warnings():
      # PIL warns past its own limit; callers check theirs (lower) next.
      warnings.simplefilter('ignore', Image.DecompressionBombWarning)
      return Image.open(io.BytesIO(data))
  except Image.DecompressionBombError as e:
    raise problems.BadExample(
      problems.IMAGE_TOO_LARGE, path, f'{what}: {e}; it was not decoded'
    ) from e
  except Exception as e:  # PIL raises OSError, SyntaxError, ValueError...
    raise problems.BadExample(
      problem, path, f'cannot decode {what}: {e}'
    ) from e


def _load(image: Image.Image, path: str, problem: str, what: str) -> None:
  try:
    image.load()
  except Exception as e:
    raise problems.BadExample(
      problem, path, f'cannot decode {what}: {e}'
    ) from e


def open_photo(data: bytes, path: str, max_pixels: int) -> Image.Image:
  """Any image PIL decodes (pipeline.predict's photos), size-checked first."""
  image = _open(data, path, problems.CORRUPT_IMAGE, 'image')
  _check_pixels(*image.size, max_pixels, path, 'image')
  _load(image, path, problems.CORRUPT_IMAGE, 'image')
  return image


# Photo extensions a folder walk takes (lower case); PIL decodes them all.
PHOTO_EXTENSIONS = (
  '.jpg',
  '.jpeg',
  '.png',
  '.bmp',
  '.gif',
  '.webp',
  '.tif',
  '.tiff',
)


def read_photo(data: bytes, path: str, max_pixels: int) -> np.ndarray:
  """uint8 RGB [H, W, 3] of photo bytes, upright as a phone gallery shows it.

  The size is checked before decoding (`open_photo`). Then the EXIF
  orientation is applied: phones store the sensor's pixels and a rotation
  tag, and a mask must line up with the photo a person sees. 16-bit images
  are scaled to 8 bits (their top byte) rather than clipped at 255;
  grayscale and palette photos are expanded to RGB and alpha is dropped.
  """
  image = open_photo(data, path, max_pixels)
  try:
    image = ImageOps.exif_transpose(image)
  except Exception as e:  # A malformed EXIF block: PIL raises many kinds.
    raise problems.BadExample(
      problems.CORRUPT_IMAGE, path, f'cannot apply its EXIF orientation: {e}'
    ) from e
  if image.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
    wide = np.asarray(image, dtype=np.uint32)
    gray = (np.minimum(wide, 65535) >> 8).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)
  return np.asarray(image.convert('RGB'))
