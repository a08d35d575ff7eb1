"""The ways an input example can be bad, and the error that carries one.

Every reader raises `BadExample` with one of the names below, so that the
ingest step can either stop with a message naming the file and the rule (the
default) or skip the example and count it under that name
(`--skip_bad_examples`). Names are stable: they are the keys of the JSON
report and of the Beam counters.
"""

MISSING_IMAGE = 'missing_image'
MISSING_MASK = 'missing_mask'  # VOC mask or Supervisely annotation absent.
CORRUPT_IMAGE = 'corrupt_image'
CORRUPT_MASK = 'corrupt_mask'
SIZE_MISMATCH = 'size_mismatch'
MASK_VALUES = 'mask_values_outside_labels'
RGB_MASK = 'rgb_mask'  # Colour mask where class indices are expected.
BAD_ANNOTATION = 'bad_annotation'  # Malformed or truncated Supervisely JSON.
BAD_BITMAP = 'bad_bitmap'  # Bitmap data that does not decode.
UNKNOWN_CLASS = 'unknown_class'

ALL = (
  MISSING_IMAGE,
  MISSING_MASK,
  CORRUPT_IMAGE,
  CORRUPT_MASK,
  SIZE_MISMATCH,
  MASK_VALUES,
  RGB_MASK,
  BAD_ANNOTATION,
  BAD_BITMAP,
  UNKNOWN_CLASS,
)

# Repaired, not skipped: polygons with points outside the image are clipped
# to it (as the Supervisely SDK draws them); counted so users see it.
CLIPPED_POLYGON = 'clipped_polygon'
CLIPPED_BITMAP = 'clipped_bitmap'


class BadExample(ValueError):
  """An input example that breaks a rule; names the file and the problem."""

  def __init__(self, problem: str, path: str, detail: str):
    if problem not in ALL:
      raise ValueError(
        f'unknown problem name {problem!r}; expected one of {ALL}'
      )
    self.problem = problem
    self.path = path
    self.detail = detail
    super().__init__(f'{path}: {problem}: {detail}')

  def __reduce__(self):
    # Keeps the fields when Beam pickles the error across worker processes.
    return (BadExample, (self.problem, self.path, self.detail))
