"""Class names: the built-in label sets and the one `labels.txt` format.

A label set is a tuple of class names in class-id order. Wherever one is
stored next to data or a model (DeepLab TFRecords, the Trainer's model,
the pushed phone models), it is `labels.txt`: UTF-8, one name per line, in
class-id order. Everything reads and writes it through this module, so every
reader applies the same rules.
"""

from typing import Sequence, Tuple

from data import features
from data import files

# PASCAL VOC 2012 segmentation classes, in the order of the devkit's class ids.
VOC_CLASSES = (
  'background',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
)

# Supervisely Person (and the embedded demo, which uses its format).
PEOPLE_CLASSES = ('background', 'person')

LABELS_FILE = 'labels.txt'


def check_labels(names: Sequence[str], source: str) -> Tuple[str, ...]:
  """The names as a tuple; ValueError naming `source` unless they are usable.

  Usable: 2 to 255 of them (background + at least one class; 255 is the
  ignore label of 8-bit masks), all different, none empty or padded with
  white space (a name is a whole line of labels.txt).
  """
  names = tuple(names)
  if not 2 <= len(names) <= features.IGNORE_LABEL:
    raise ValueError(
      f'{source}: {len(names)} class names; need 2 (background and one '
      f'class) to {features.IGNORE_LABEL} (masks are 8-bit and '
      f'{features.IGNORE_LABEL} means ignore)'
    )
  for index, name in enumerate(names):
    if not isinstance(name, str) or not name or name != name.strip():
      raise ValueError(
        f'{source}: class {index} is {name!r}; names must be '
        'non-empty, without leading or trailing white space'
      )
  repeated = sorted({name for name in names if names.count(name) > 1})
  if repeated:
    raise ValueError(
      f'{source}: class names {repeated} appear more than '
      'once; each class id needs its own name'
    )
  return names


def read_labels(path: str) -> Tuple[str, ...]:
  """The label set in a labels.txt file (local path or URL)."""
  if not files.exists(path):
    raise FileNotFoundError(f'{path}: no such labels file')
  raw = files.read_bytes(path)
  try:
    text = raw.decode('utf-8')
  except UnicodeDecodeError as e:
    raise ValueError(f'{path}: not UTF-8 text ({e})') from e
  if text.startswith('\ufeff'):
    text = text[1:]  # A byte-order mark is an editor's, not a class name's.
  lines = text.splitlines()
  while lines and not lines[-1].strip():
    lines.pop()  # Trailing blank lines.
  return check_labels(lines, path)


def write_labels(path: str, names: Sequence[str]) -> str:
  """Writes labels.txt at `path` (checked first); returns the path."""
  names = check_labels(names, path)
  files.write_text(path, ''.join(name + '\n' for name in names))
  return path
