"""The one way readers decode image bytes, with every failure a BadExample.

Images, VOC masks and Supervisely bitmaps arrive as bytes that may be
truncated, corrupt, of the wrong kind, or small files that decode to
gigabytes. Every reader opens them here:

* the header is read first (PIL, lazily) and the pixel count checked against
  a limit before anything is decoded (`image_too_large`);
* the format is checked (`unsupported_image_format`, `mask_not_png`);
* bytes the pipeline stores as they are must decode later in Transform,
  with TensorFlow's decoders (libpng, libjpeg-turbo); they are checked here
  with PIL, to the same strictness (`verify_decodable`): every PNG chunk's
  CRC (libpng checks them, PIL's decoder does not), every byte of a JPEG's
  entropy-coded data at 1/8 scale, and colour models TensorFlow decodes
  (no CMYK JPEGs).

A new reader that goes through these functions inherits all of it.
No TensorFlow: a Beam worker that loads it only for these checks grows by
~0.3 GB (bench/ingest.py measures the whole process tree).
"""

import io
import math
import struct
from typing import Iterator, Sequence, Tuple
import zlib

import numpy as np
from PIL import Image
from PIL import ImageOps

from data import problems

# Default limit on an image's pixels (width x height): 40 megapixels, more
# than any camera photo in these datasets (VOC: 0.2, Supervisely Person: at
# most 24) and under PIL's own decompression-bomb limit (89 megapixels).
# Decoding one costs ~120 MB per copy.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000

# PIL refuses images over twice its own limit (179 megapixels) as it opens
# them, before `_check_pixels` sees the size: a --max_image_pixels above
# that would be overruled, and a bomb's error would name PIL's limit rather
# than the user's. Every untrusted image is opened here and checked against
# the caller's limit before it is decoded, so PIL's check is turned off.
Image.MAX_IMAGE_PIXELS = None


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
  verify_decodable(data, image, path, problems.CORRUPT_IMAGE, 'image')
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
  _verify_png(data, path, problems.CORRUPT_MASK, 'mask')
  _load(image, path, problems.CORRUPT_MASK, 'mask')
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
  _verify_png(data, path, problems.BAD_BITMAP, 'bitmap')
  _load(image, path, problems.BAD_BITMAP, 'bitmap')
  return image


def verify_decodable(
  data: bytes, image: Image.Image, path: str, problem: str, what: str
) -> None:
  """BadExample(problem) unless TensorFlow's decoders will take the bytes.

  `image` is `data` opened (header only) and is decoded here: a PNG in full
  after its chunks' CRCs are checked, a JPEG at 1/8 scale (libjpeg's DCT
  scaling still reads every entropy-coded byte, so truncation and
  corruption fail, at a fraction of a full decode's cost).
  """
  if image.format == 'PNG':
    _verify_png(data, path, problem, what)
  elif image.format == 'JPEG':
    if image.mode not in ('L', 'RGB'):
      raise problems.BadExample(
        problems.UNSUPPORTED_IMAGE,
        path,
        f'a {image.mode} JPEG; the pipeline decodes grayscale or RGB JPEGs '
        '(convert it to RGB)',
      )
    width, height = image.size
    image.draft('RGB', ((width + 7) // 8, (height + 7) // 8))
  _load(image, path, problem, what)


def _verify_png(data: bytes, path: str, problem: str, what: str):
  """Every chunk present up to IEND with its CRC right, and all its pixels.

  libpng (TensorFlow's decoder) refuses a PNG whose compressed data ends
  before the last row; PIL fills the missing rows with zeros, which would
  turn a mask's lost rows into background. So the pixel data is inflated
  (1 MB at a time, discarded) and its length checked against the header's.
  """
  try:
    Image.open(io.BytesIO(data)).verify()
  except Exception as e:  # PIL raises SyntaxError, OSError, struct.error...
    raise problems.BadExample(
      problem,
      path,
      f'cannot decode {what}: {e} (a broken PNG chunk: its CRC or length)',
    ) from e
  expected = _png_raw_length(data)
  inflater = zlib.decompressobj()
  produced = 0
  try:
    for pending in _png_chunks(data, b'IDAT'):
      # Past the stream's end, bytes stay in unconsumed_tail and inflate to
      # nothing: without the eof check, a stream short of rows with bytes
      # after it looped forever.
      while pending and produced < expected and not inflater.eof:
        produced += len(inflater.decompress(pending, 1 << 20))
        pending = inflater.unconsumed_tail
  except zlib.error as e:
    raise problems.BadExample(
      problem, path, f'cannot decode {what}: its pixel data: {e}'
    ) from e
  if produced < expected:
    raise problems.BadExample(
      problem,
      path,
      f'cannot decode {what}: its pixel data ends after {produced} of the '
      f'{expected} bytes its size needs (a truncated PNG)',
    )


# Samples per pixel of each PNG colour type (gray, RGB, palette, gray with
# alpha, RGBA).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7's passes: (first column, first row, column step, row step).
_ADAM7 = (
  (0, 0, 8, 8),
  (4, 0, 8, 8),
  (0, 4, 4, 8),
  (2, 0, 4, 4),
  (0, 2, 2, 4),
  (1, 0, 2, 2),
  (0, 1, 1, 2),
)


def _png_chunks(data: bytes, kind: bytes) -> Iterator[bytes]:
  """The payloads of `data`'s chunks of `kind` (chunks already verified)."""
  at = 8  # After the signature.
  while at + 8 <= len(data):
    length, found = struct.unpack('>I4s', data[at : at + 8])
    if found == kind:
      yield data[at + 8 : at + 8 + length]
    at += 12 + length


def _png_header(data: bytes) -> Tuple[int, ...]:
  """(width, height, bit depth, colour type, compression, filter,
  interlace) of verified PNG bytes: their IHDR chunk."""
  return struct.unpack('>IIBBBBB', next(_png_chunks(data, b'IHDR'))[:13])


def png_bit_depth(data: bytes) -> int:
  """Bits per sample (1, 2, 4, 8 or 16) of verified PNG bytes."""
  return _png_header(data)[2]


def _png_raw_length(data: bytes) -> int:
  """Bytes of filtered scanlines the IHDR of verified PNG bytes promises."""
  width, height, depth, colour, _, _, interlace = _png_header(data)
  bits = depth * _PNG_CHANNELS[colour]
  passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
  total = 0
  for x0, y0, dx, dy in passes:
    columns = math.ceil(max(width - x0, 0) / dx)
    rows = math.ceil(max(height - y0, 0) / dy)
    if columns and rows:  # Each row: a filter byte, then its samples.
      total += rows * (1 + math.ceil(columns * bits / 8))
  return total


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
    return Image.open(io.BytesIO(data))
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
  if image.format == 'PNG':
    _verify_png(data, path, problems.CORRUPT_IMAGE, 'image')
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
    # 32-bit ('I') values outside 16 bits are black or white.
    gray = (np.clip(np.asarray(image), 0, 65535) >> 8).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)
  return np.asarray(image.convert('RGB'))
