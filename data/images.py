"""The one way readers decode image bytes: PIL, with errors as BadExample.

Images, VOC masks and Supervisely bitmaps all arrive as bytes that may be
truncated, corrupt or of the wrong kind. Every reader opens them here, so
that each failure becomes a `problems.BadExample` naming the file, the
problem and PIL's reason, and a new reader inherits the same checks.
"""

import io
from typing import Optional, Sequence, Tuple

from PIL import Image

from data import problems


def open_image(
  data: bytes,
  path: str,
  problem: str,
  what: str,
  formats: Optional[Sequence[str]] = None,
) -> Image.Image:
  """The decoded image; raises BadExample(problem) when it cannot be.

  Args:
    data: the encoded bytes.
    path: the file they come from, for the message.
    problem: the problems.* name to report a failure under.
    what: what the bytes should be ('image', 'mask', 'bitmap').
    formats: PIL format names accepted (e.g. ('JPEG', 'PNG')); None: any.
  """
  image = _open(data, path, problem, what, formats)
  _load(image, path, problem, what)
  return image


def check_image(
  data: bytes,
  path: str,
  problem: str,
  what: str,
  formats: Optional[Sequence[str]] = None,
) -> Tuple[str, int, int]:
  """(PIL format, height, width) of bytes that decode; else BadExample.

  For checks that need no pixels: JPEGs are decoded with libjpeg's 1/8 DCT
  scaling, which still reads every entropy-coded byte (so truncation and
  corruption still fail) at a fraction of the cost of a full decode.
  """
  image = _open(data, path, problem, what, formats)
  width, height = image.size
  if image.format == 'JPEG':
    image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
  _load(image, path, problem, what)
  return image.format, height, width


def _open(
  data: bytes,
  path: str,
  problem: str,
  what: str,
  formats: Optional[Sequence[str]],
) -> Image.Image:
  try:
    image = Image.open(io.BytesIO(data))
  except Exception as e:  # PIL raises OSError, SyntaxError, ValueError...
    raise problems.BadExample(
      problem, path, f'cannot decode {what}: {e}'
    ) from e
  if formats and image.format not in formats:
    raise problems.BadExample(
      problem,
      path,
      f'{what} format {image.format} is not supported ({" or ".join(formats)})',
    )
  return image


def _load(image: Image.Image, path: str, problem: str, what: str) -> None:
  try:
    image.load()
  except Exception as e:
    raise problems.BadExample(
      problem, path, f'cannot decode {what}: {e}'
    ) from e
