"""Builds the one example format every reader produces (DeepLab's).

Keys come from data/features.py. The image is stored as the original file
bytes: re-encoding a JPEG would change pixels and cost time. The mask is a
single-channel 8-bit PNG of class ids (255 = ignore), which is what
`tf.io.decode_png(channels=1)` turns back into ids; a palette PNG would not
do, because TF decodes palette PNGs to colours.
"""

import dataclasses
import io

import numpy as np
from PIL import Image
import tensorflow as tf

from data import features
from data import problems

# Channels the model decodes every image to (DeepLab's build_data writes 3
# too); grayscale JPEGs are expanded by the decoder, not here.
DECODED_CHANNELS = 3

_FORMATS = {'JPEG': 'jpeg', 'PNG': 'png'}


@dataclasses.dataclass(frozen=True)
class ImageInfo:
  format: str  # 'jpeg' or 'png', the value of image/format.
  height: int
  width: int


def inspect_image(data: bytes, path: str) -> ImageInfo:
  """Reads the header and decodes the whole image, so truncation is caught.

  JPEGs are decoded in draft mode (libjpeg's 1/8 DCT scaling): every
  entropy-coded byte is still read, so a truncated or corrupt file still
  fails, at a fraction of the cost of a full decode.
  """
  try:
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    image_format = image.format
    if image_format not in _FORMATS:
      raise problems.BadExample(
          problems.CORRUPT_IMAGE, path,
          f'format {image_format} is not supported (JPEG or PNG)')
    if image_format == 'JPEG':
      image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
    image.load()
  except problems.BadExample:
    raise
  except Exception as e:  # PIL raises OSError, SyntaxError, ValueError...
    raise problems.BadExample(problems.CORRUPT_IMAGE, path,
                              f'cannot decode image: {e}') from e
  return ImageInfo(_FORMATS[image_format], height, width)


def encode_mask(mask: np.ndarray) -> bytes:
  """Single-channel 8-bit PNG of a (height, width) uint8 class-id array."""
  if mask.dtype != np.uint8 or mask.ndim != 2:
    raise ValueError(f'mask must be a 2-D uint8 array, got {mask.dtype} '
                     f'{mask.shape}')
  out = io.BytesIO()
  # zlib level 1: 40% faster than the default 6 on 500x375 masks, for PNGs
  # of a few KB either way (masks are large flat regions).
  Image.fromarray(mask, mode='L').save(out, 'PNG', compress_level=1)
  return out.getvalue()


def make_example(filename: str, image_bytes: bytes, info: ImageInfo,
                 mask_png: bytes) -> tf.train.Example:
  """The tf.Example of one image and its class-id mask PNG."""

  def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

  return tf.train.Example(features=tf.train.Features(feature={
      features.IMAGE_ENCODED: _bytes(image_bytes),
      features.IMAGE_FORMAT: _bytes(info.format.encode()),
      features.IMAGE_FILENAME: _bytes(filename.encode()),
      features.IMAGE_HEIGHT: _int(info.height),
      features.IMAGE_WIDTH: _int(info.width),
      features.IMAGE_CHANNELS: _int(DECODED_CHANNELS),
      features.MASK_ENCODED: _bytes(mask_png),
      features.MASK_FORMAT: _bytes(b'png'),
  }))
