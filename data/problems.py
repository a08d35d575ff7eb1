"""The ways an input example can be bad, and the errors that carry them.

Every reader raises `BadExample` with one of the names below. The ingest
step counts each under its name; then, by default, the run stops with one
message naming the first file, its problem and the rule (`IngestError`), or,
with `--skip_bad_examples`, the bad examples are left out and counted. Names
are stable: they are the keys of the JSON report and of the Beam counters.
docs/data.md lists them all.
"""

import os
from typing import Any, Dict, Optional

# Files.
MISSING_IMAGE = 'missing_image'
MISSING_MASK = 'missing_mask'  # A mask or an annotation (file) absent.
OUTSIDE_ROOT = 'outside_root'  # A symlink that leads out of the data root.
NOT_A_FILE = 'not_a_regular_file'  # Directory, FIFO, socket, device.
UNREADABLE_FILE = 'unreadable_file'  # Permission, symlink loop, I/O error.
BAD_FILE_NAME = 'file_name_not_utf8'
# Images and masks.
CORRUPT_IMAGE = 'corrupt_image'
UNSUPPORTED_IMAGE = 'unsupported_image_format'  # Not JPEG or PNG.
IMAGE_TOO_LARGE = 'image_too_large'  # More pixels than the limit.
CORRUPT_MASK = 'corrupt_mask'
MASK_NOT_PNG = 'mask_not_png'  # A .png mask that is JPEG, TIFF, BMP...
SIZE_MISMATCH = 'size_mismatch'
MASK_VALUES = 'mask_values_outside_labels'
RGB_MASK = 'rgb_mask'  # Colour mask where class indices are expected.
UNKNOWN_COLOR = 'unknown_color'  # A colour mask's colour no label has.
AMBIGUOUS_NAME = 'ambiguous_name'  # Two images (or masks) of one stem.
# Supervisely annotations.
BAD_ANNOTATION = 'bad_annotation'  # Not JSON, or a missing field.
WRONG_TYPE = 'wrong_json_type'  # A field of the wrong JSON type.
NON_FINITE = 'non_finite_number'  # NaN, Infinity, -Infinity.
OUT_OF_RANGE = 'number_out_of_range'  # Coordinates, sizes, origins.
JSON_TOO_DEEP = 'json_too_deep'
TOO_MANY_VERTICES = 'too_many_vertices'
BAD_BITMAP = 'bad_bitmap'  # Bitmap data that does not decode.
BITMAP_TOO_LARGE = 'bitmap_too_large'  # Larger than the image it is on.
UNKNOWN_CLASS = 'unknown_class'
# DeepLab TFRecords.
CORRUPT_RECORD = 'corrupt_record'  # A shard's framing, CRC or gzip is broken.
BAD_RECORD = 'bad_record'  # Not a tf.Example, or a feature missing.

ALL = (
  MISSING_IMAGE,
  MISSING_MASK,
  OUTSIDE_ROOT,
  NOT_A_FILE,
  UNREADABLE_FILE,
  BAD_FILE_NAME,
  CORRUPT_IMAGE,
  UNSUPPORTED_IMAGE,
  IMAGE_TOO_LARGE,
  CORRUPT_MASK,
  MASK_NOT_PNG,
  SIZE_MISMATCH,
  MASK_VALUES,
  RGB_MASK,
  UNKNOWN_COLOR,
  AMBIGUOUS_NAME,
  BAD_ANNOTATION,
  WRONG_TYPE,
  NON_FINITE,
  OUT_OF_RANGE,
  JSON_TOO_DEEP,
  TOO_MANY_VERTICES,
  BAD_BITMAP,
  BITMAP_TOO_LARGE,
  UNKNOWN_CLASS,
  CORRUPT_RECORD,
  BAD_RECORD,
)

# Repaired, not skipped: polygons with points outside the image are clipped
# to it (as the Supervisely SDK draws them); counted so users see it.
CLIPPED_POLYGON = 'clipped_polygon'
CLIPPED_BITMAP = 'clipped_bitmap'
# Listed more than once in a split list: read once, the repeats counted.
DUPLICATE_ID = 'duplicate_id'


def printable(path: str) -> str:
  """A path as text that always prints (non-UTF-8 bytes as \\x escapes)."""
  return os.fsencode(path).decode('utf-8', 'backslashreplace')


class BadExample(ValueError):
  """An input example that breaks a rule; names the file and the problem."""

  def __init__(self, problem: str, path: str, detail: str):
    if problem not in ALL:
      raise ValueError(
        f'unknown problem name {problem!r}; expected one of {ALL}'
      )
    self.problem = problem
    self.path = printable(path)
    self.detail = detail
    super().__init__(f'{self.path}: {problem}: {detail}')

  def __reduce__(self):
    # Keeps the fields when Beam pickles the error across worker processes.
    return (BadExample, (self.problem, self.path, self.detail))


class IngestError(RuntimeError):
  """A dataset that cannot be ingested as it is: one line says why.

  `report` is the ingest report (data.ingest), for callers that keep it
  where the person will look (TFX removes a failed component's outputs).
  """

  def __init__(self, message: str, report: Optional[Dict[str, Any]] = None):
    super().__init__(message)
    self.report = report

  def __reduce__(self):
    return (IngestError, (str(self), self.report))
