"""data.images: every way image bytes can fail becomes a named BadExample."""

import io
import re
import zlib

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
    (
      _encode(PIXELS, 'JPEG')[:-100],
      problems.CORRUPT_IMAGE,
      'cannot decode image: image file is truncated',
    ),
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
    (
      _cmyk_jpeg(),
      problems.UNSUPPORTED_IMAGE,
      'a CMYK JPEG; the pipeline decodes grayscale or RGB JPEGs '
      '(convert it to RGB)',
    ),
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
  with pytest.raises(problems.BadExample) as error:
    images.open_mask(data, 'm.png', LIMIT)
  assert (error.value.problem, error.value.path) == (
    problems.CORRUPT_MASK,
    'm.png',
  )
  assert re.fullmatch(
    r'cannot decode mask: .+ \(a broken PNG chunk: its CRC or length\)',
    error.value.detail,
  )
  # The same file as an image, where the photos are checked.
  with pytest.raises(problems.BadExample) as error:
    images.check_image(data, 'p.png', LIMIT)
  assert re.fullmatch(
    r'cannot decode image: .+ \(a broken PNG chunk: its CRC or length\)',
    error.value.detail,
  )
  # TensorFlow, which decodes in Transform, refuses it too.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  with pytest.raises(tf.errors.InvalidArgumentError):
    tf.io.decode_png(data)


@pytest.mark.parametrize(
  'idat_size', [None, 8192], ids=['one_chunk', 'many_chunks']
)
def test_pixel_data_over_1_mb_in_one_or_many_chunks_is_read_whole(idat_size):
  """The check inflates 1 MB at a time, across every IDAT chunk."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  width, height = 1100, 320  # 320 rows of 1 + 3300 bytes: over 1 MB.
  rows = np.random.default_rng(3).integers(0, 4, (height, 3 * width))
  scanlines = np.hstack([np.zeros((height, 1)), rows]).astype(np.uint8)
  assert scanlines.size > 1 << 20
  data = hostile.png_from_scanlines(
    width, height, 8, 2, False, scanlines.tobytes(), idat_size=idat_size
  )
  chunks = data.count(b'IDAT')
  assert chunks == 1 if idat_size is None else chunks > 30
  assert images.check_image(data, 'p.png', LIMIT) == ('PNG', height, width)
  expected = rows.reshape(height, width, 3)
  np.testing.assert_array_equal(tf.io.decode_png(data).numpy(), expected)
  short = hostile.png_from_scanlines(
    width, height, 8, 2, False, scanlines[:-1].tobytes(), idat_size=idat_size
  )
  with pytest.raises(problems.BadExample, match='truncated PNG'):
    images.check_image(short, 'p.png', LIMIT)


def _refused_by_libpng_and_each_opener(data, openers):
  """TensorFlow's PNG decoder (libpng, which Transform decodes with) refuses
  `data`, and so does each (open, problem) of `openers`, naming the file.

  Returns each opener's detail, in order.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  with pytest.raises(tf.errors.InvalidArgumentError):
    tf.io.decode_png(data)
  details = []
  for call, problem in openers:
    with pytest.raises(problems.BadExample) as error:
      call(data, 'dir/x.png', LIMIT)
    assert (error.value.problem, error.value.path) == (problem, 'dir/x.png')
    details.append(error.value.detail)
  return details


@pytest.mark.parametrize('after', [b'\0', b'junk'], ids=['one_byte', 'four'])
def test_pixel_data_ending_early_with_bytes_after_it_is_truncated(
  after, no_hang
):
  """The stream ends a row short, at a 1 MB step, and bytes follow it."""
  del no_hang
  width, height = 4000, 300
  rows = np.random.default_rng(0).integers(0, 4, (height - 1, width + 1))
  rows[:, 0] = 0  # Each row's filter byte.
  stream = zlib.compress(rows.astype(np.uint8).tobytes(), 9)
  data = hostile.png_with_pixel_data(width, height, stream + after)
  assert _refused_by_libpng_and_each_opener(
    data, [(images.check_image, problems.CORRUPT_IMAGE)]
  ) == [
    'cannot decode image: its pixel data ends after 1196299 of the 1200300 '
    'bytes its size needs (a truncated PNG)'
  ]


def test_pixel_data_that_does_not_inflate_is_a_corrupt_image_naming_it():
  data = hostile.png_with_pixel_data(4, 2, b'\x78\x9c' + b'\xff' * 16)
  openers = [
    (images.check_image, problems.CORRUPT_IMAGE),
    (images.open_mask, problems.CORRUPT_MASK),
  ]
  assert _refused_by_libpng_and_each_opener(data, openers) == [
    f'cannot decode {what}: its pixel data: Error -3 while decompressing '
    'data: invalid block type'
    for what in ('image', 'mask')
  ]


# Every (bit depth, colour type) PNG allows.
_PNG_KINDS = [(d, 0) for d in (1, 2, 4, 8, 16)] + [
  (8, 2),
  (16, 2),
  (1, 3),
  (2, 3),
  (4, 3),
  (8, 3),
  (8, 4),
  (16, 4),
  (8, 6),
  (16, 6),
]


def _png_short_of_rows_is_refused_as_libpng_refuses_it(
  width, height, depth, colour, interlace
):
  """PIL fills missing rows with zeros (a mask's lost rows would become
  background); libpng, which decodes in Transform, refuses the file. The
  scanline length that libpng needs is found by trying, not computed."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def png(length):
    return hostile.png_from_scanlines(
      width, height, depth, colour, interlace, bytes(length)
    )

  def libpng_takes(data):
    try:
      tf.io.decode_png(data, dtype=tf.uint16 if depth == 16 else tf.uint8)
      return True
    except tf.errors.InvalidArgumentError:
      return False

  needed = next(n for n in range(1, 2000) if libpng_takes(png(n)))
  images.open_mask(png(needed), 'm.png', LIMIT)
  images.open_photo(png(needed), 'p.png', LIMIT)
  with pytest.raises(problems.BadExample, match='truncated PNG') as error:
    images.open_mask(png(needed - 1), 'm.png', LIMIT)
  assert error.value.problem == problems.CORRUPT_MASK
  assert f'ends after {needed - 1} of the {needed} bytes' in error.value.detail
  with pytest.raises(problems.BadExample, match='truncated PNG'):
    images.open_photo(png(needed - 1), 'p.png', LIMIT)


@pytest.mark.parametrize('depth,colour', _PNG_KINDS)
@pytest.mark.parametrize('interlace', [False, True])
def test_a_png_short_of_rows_is_refused_as_libpng_refuses_it(
  depth, colour, interlace
):
  _png_short_of_rows_is_refused_as_libpng_refuses_it(
    13, 7, depth, colour, interlace
  )


@pytest.mark.parametrize(
  'width,height', [(1, 1), (1, 5), (5, 1), (2, 3), (3, 2)]
)
def test_an_interlaced_png_smaller_than_its_passes_is_measured_as_libpng_does(
  width, height
):
  """Adam7 passes that start past the image's edge hold no row at all."""
  _png_short_of_rows_is_refused_as_libpng_refuses_it(width, height, 8, 6, True)


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
  for call, what in (
    (lambda: images.check_image(bomb, 'a.png', LIMIT), 'image'),
    (lambda: images.open_mask(bomb, 'a.png', LIMIT), 'mask'),
    (lambda: images.open_photo(bomb, 'a.png', LIMIT), 'image'),
  ):
    with pytest.raises(problems.BadExample) as error:
      call()
    assert error.value.problem == problems.IMAGE_TOO_LARGE
    assert error.value.detail == (
      f'the {what} is 20000x20000 = 400000000 pixels, over the limit of '
      f'{LIMIT} (--max_image_pixels); it was not decoded'
    )
  # The limit is the caller's: 30 x 40 is too many for 1,000.
  with pytest.raises(
    problems.BadExample, match='1200 pixels, over the limit of 1000'
  ):
    images.check_image(_encode(PIXELS, 'PNG'), 'a.png', 1000)


def test_a_limit_above_pils_own_is_the_one_applied():
  """PIL refuses 179+ megapixels as it opens them; --max_image_pixels
  goes up to 2^31, and it is the user's limit that decides."""
  header = hostile.header_bomb_png(13_500, 13_500)  # 182 Mpx, 64 rows present
  with pytest.raises(problems.BadExample) as error:
    images.open_mask(header, 'a.png', 2**31)
  # Past the size check, and found to lack its rows.
  assert error.value.problem == problems.CORRUPT_MASK
  assert 'truncated PNG' in error.value.detail
  with pytest.raises(problems.BadExample, match='over the limit of 2000000'):
    images.open_mask(header, 'a.png', 2_000_000)


@pytest.mark.parametrize('fmt', ['JPEG', 'TIFF', 'BMP'])
def test_masks_declared_png_must_be_png(fmt):
  mask = np.zeros((8, 8), np.uint8)
  with pytest.raises(problems.BadExample) as error:
    images.open_mask(_encode(mask, fmt), 'SegmentationClassAug/1.png', LIMIT)
  assert error.value.problem == problems.MASK_NOT_PNG
  assert error.value.detail == (
    f'the mask is {fmt} data; masks must be PNG (lossless: a JPEG would '
    'turn its edges into wrong class ids)'
  )


def test_a_scanline_of_an_unknown_filter_is_refused_as_libpng_refuses_it():
  """Its length is right, so only decoding finds it; TensorFlow's
  decoder, which decodes in Transform, refuses it too."""
  # 2 rows of 4 grey pixels; the first row's filter type 9 does not exist.
  data = hostile.png_from_scanlines(4, 2, 8, 0, 0, bytes([9, 1, 2, 3, 4] * 2))
  mask, photo = _refused_by_libpng_and_each_opener(
    data,
    [
      (images.open_mask, problems.CORRUPT_MASK),
      (images.open_photo, problems.CORRUPT_IMAGE),
    ],
  )
  assert mask.startswith('cannot decode mask: ')
  assert photo.startswith('cannot decode image: ')


def test_a_bitmap_larger_than_its_image_is_not_decoded():
  bitmap = hostile.header_bomb_png(13_000, 13_000)
  with pytest.raises(problems.BadExample) as error:
    images.open_bitmap(bitmap, 'ann.json', 100, 120)
  assert error.value.problem == problems.BITMAP_TOO_LARGE
  assert '13000x13000 (HxW) on an image of 100x120' in error.value.detail
  small = _encode(np.full((5, 6), 255, np.uint8), 'PNG')
  assert images.open_bitmap(small, 'ann.json', 100, 120).size == (6, 5)


# --- read_photo: what a person sees, as RGB -----------------------------------

GRAY = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20


def _photo(data):
  return images.read_photo(data, 'p.png', LIMIT)


def _png_of(image):
  buffer = io.BytesIO()
  image.save(buffer, 'PNG')
  return buffer.getvalue()


def test_a_gray_photo_becomes_three_equal_channels():
  photo = _photo(_encode(GRAY, 'PNG'))
  assert photo.shape == (3, 4, 3) and photo.dtype == np.uint8
  for channel in range(3):
    np.testing.assert_array_equal(photo[..., channel], GRAY)


def test_a_palette_photo_takes_its_colours_and_alpha_is_dropped():
  palette = Image.fromarray(GRAY % 3).convert('P')
  palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
  colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
  np.testing.assert_array_equal(_photo(_png_of(palette)), colours[GRAY % 3])
  rgba = np.dstack([PIXELS, np.full(PIXELS.shape[:2], 7, np.uint8)])
  np.testing.assert_array_equal(_photo(_encode(rgba, 'PNG')), PIXELS)


# The wide modes PIL opens photos in: 16-bit gray PNG (Pillow 11 on; 'I' in
# Pillow 10, which setup.py allows), TIFF in either byte order, an IM file,
# and 32-bit TIFF, whose values above 65535 are white and below 0 black.
_WIDE = np.arange(12, dtype=np.int64).reshape(3, 4) * 7000 - 6745


@pytest.mark.parametrize(
  'fmt,mode,raw',
  [
    ('PNG', 'I;16', '<u2'),
    ('TIFF', 'I;16B', '>u2'),
    ('IM', 'I;16L', '<u2'),
    ('TIFF', 'I', '<i4'),
  ],
  ids=['png', 'tiff_big_endian', 'im', 'tiff_32_bit'],
)
def test_a_16_bit_photo_keeps_its_top_byte(fmt, mode, raw):
  values = _WIDE if mode == 'I' else _WIDE % 65536
  image = Image.frombytes(mode, (4, 3), values.astype(raw).tobytes())
  buffer = io.BytesIO()
  image.save(buffer, fmt)
  assert Image.open(io.BytesIO(buffer.getvalue())).mode == mode
  photo = _photo(buffer.getvalue())
  assert photo.shape == (3, 4, 3) and photo.dtype == np.uint8
  expected = np.clip(values, 0, 65535) >> 8
  if mode == 'I':
    assert values.min() < 0 and values.max() > 65535
  for channel in range(3):
    np.testing.assert_array_equal(photo[..., channel], expected)


def test_the_exif_orientation_is_applied():
  exif = Image.Exif()
  exif[0x0112] = 6  # Shown rotated 90 degrees clockwise.
  stored = np.zeros((20, 30, 3), np.uint8)
  stored[:, :10] = 255  # The stored left third is white.
  photo = _photo(_encode(stored, 'PNG', exif=exif))
  assert photo.shape == (30, 20, 3)
  # Turned clockwise, the stored left side is the top.
  assert photo[:10].min() == 255 and photo[10:].max() == 0


def test_an_exif_block_pil_cannot_apply_is_a_corrupt_image(monkeypatch):
  """PIL raises many kinds of error on malformed EXIF; each is named."""

  def fail(image):
    raise SyntaxError('bad IFD')

  monkeypatch.setattr(images.ImageOps, 'exif_transpose', fail)
  with pytest.raises(problems.BadExample) as raised:
    _photo(_encode(PIXELS, 'PNG'))
  assert (raised.value.problem, raised.value.path, raised.value.detail) == (
    problems.CORRUPT_IMAGE,
    'p.png',
    'cannot apply its EXIF orientation: bad IFD',
  )


def test_read_photo_names_the_file_and_keeps_the_limit():
  for data, limit, problem in (
    (b'not an image', LIMIT, problems.CORRUPT_IMAGE),
    (_encode(PIXELS, 'PNG'), 40 * 30 - 1, problems.IMAGE_TOO_LARGE),
  ):
    with pytest.raises(problems.BadExample) as error:
      images.read_photo(data, 'dir/p.png', limit)
    assert (error.value.problem, error.value.path) == (problem, 'dir/p.png')
  assert images.read_photo(_encode(PIXELS, 'PNG'), 'p', 40 * 30).shape == (
    30,
    40,
    3,
  )


def test_a_photo_that_does_not_decode_is_a_corrupt_image_naming_it():
  """Each check open_photo makes, in the order it makes them."""
  png = _encode(PIXELS, 'PNG')
  broken_crc = bytearray(png)
  idat = png.index(b'IDAT')  # PIL opens the file; libpng would refuse it.
  broken_crc[idat + 4 + int.from_bytes(png[idat - 4 : idat], 'big')] ^= 0xFF
  jpeg = _encode(PIXELS, 'JPEG')
  cases = [
    (b'not an image', '^cannot decode image: cannot identify image file'),
    (png, '^the image is 40x30 = 1200 pixels, over the limit of 1000 '),
    (bytes(broken_crc), r'^cannot decode image: .* \(a broken PNG chunk'),
    (jpeg[: len(jpeg) // 2], '^cannot decode image: image file is truncated'),
  ]
  for data, detail in cases:
    limit = 1000 if detail.startswith('^the image') else LIMIT
    with pytest.raises(problems.BadExample) as error:
      images.open_photo(data, 'dir/p.x', limit)
    assert (error.value.problem, error.value.path) == (
      problems.CORRUPT_IMAGE
      if 'decode' in detail
      else problems.IMAGE_TOO_LARGE,
      'dir/p.x',
    )
    assert re.search(detail, error.value.detail), error.value.detail
