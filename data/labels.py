"""Class names: the built-in label sets, label files and class maps.

A label set is a tuple of class names in class-id order. Wherever one is
stored next to data or a model (DeepLab TFRecords, the Trainer's model,
the pushed phone models), it is `labels.txt`: UTF-8, one name per line, in
class-id order. Everything reads and writes it through this module, so every
reader applies the same rules.

`--labels` takes a built-in set's name (NAMED) or a file: `labels.txt`, or
CVAT's `labelmap.txt` (`name:r,g,b:parts:actions` lines), whose colours
decode RGB masks. A class map (`--class_map`, JSON {source name: label
name}) renames or merges a dataset's own class names into the label set;
any source class the label set does not hold is background (`class_ids`).
"""

import json
import re
from typing import Dict, Iterable, Mapping, Sequence, Tuple

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
# Label sets --labels may name instead of a file.
NAMED = {'people': PEOPLE_CLASSES, 'voc': VOC_CLASSES}

Color = Tuple[int, int, int]
# A CVAT labelmap.txt line: `name:r,g,b:parts:actions` (the colour may be
# empty for a label without one).
_LABELMAP_LINE = re.compile(r'^(?P<name>[^:]+):(?P<rgb>[^:]*):[^:]*:[^:]*$')


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


def _lines(path: str) -> list:
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
  return lines


def read_labels(path: str) -> Tuple[str, ...]:
  """The label set in a labels.txt file (local path or URL)."""
  return check_labels(_lines(path), path)


def read_label_file(path: str) -> Tuple[Tuple[str, ...], Tuple[Color, ...]]:
  """(names, colours) of labels.txt (no colours) or a CVAT labelmap.txt.

  A labelmap's `#` comment line (CVAT writes `# label:color_rgb:parts:
  actions`) is skipped; every other line must then be a labelmap line,
  each with its colour, all colours different.
  """
  lines = _lines(path)
  body = [line for line in lines if not line.startswith('#')]
  if not body or not all(_LABELMAP_LINE.match(line) for line in body):
    return check_labels(lines, path), ()
  names, colors = [], []
  for number, line in enumerate(lines, 1):
    if line.startswith('#'):
      continue
    match = _LABELMAP_LINE.match(line)
    names.append(match['name'])
    colors.append(_color(match['rgb'], f'{path}:{number}'))
  repeated = sorted({c for c in colors if colors.count(c) > 1})
  if repeated:
    raise ValueError(
      f'{path}: colours {repeated} belong to more than one label; a colour '
      'must say which class a pixel is'
    )
  return check_labels(names, path), tuple(colors)


def _color(text: str, where: str) -> Color:
  parts = text.split(',')
  if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
    raise ValueError(f'{where}: colour {text!r}: expected r,g,b')
  color = tuple(int(p) for p in parts)
  if max(color) > 255:
    raise ValueError(f'{where}: colour {text!r}: values must be 0 to 255')
  return color


def resolve(choice: str) -> Tuple[Tuple[str, ...], Tuple[Color, ...]]:
  """(names, colours) of --labels: a NAMED set or a label file's path."""
  if choice in NAMED:
    return NAMED[choice], ()
  return read_label_file(choice)


def read_class_map(path: str) -> Tuple[Tuple[str, str], ...]:
  """The (source name, label name) pairs of a --class_map JSON file."""
  try:
    mapping = json.loads(files.read_bytes(path).decode('utf-8-sig'))
  except FileNotFoundError as e:
    raise FileNotFoundError(f'{path}: no such class map file') from e
  except (ValueError, UnicodeDecodeError) as e:
    raise ValueError(f'{path}: not a JSON file ({e})') from e
  if not isinstance(mapping, dict) or not all(
    isinstance(v, str) and v for v in mapping.values()
  ):
    raise ValueError(
      f'{path}: a class map is a JSON object of source class name -> label '
      'name, e.g. {"man": "person", "woman": "person"}'
    )
  return tuple(sorted(mapping.items()))


def check_class_map(
  class_map: Iterable[Tuple[str, str]], names: Sequence[str], source: str
) -> Tuple[Tuple[str, str], ...]:
  """The pairs, if every label name they map to is in `names`."""
  class_map = tuple(tuple(pair) for pair in class_map)
  unknown = sorted({label for _, label in class_map if label not in names})
  if unknown:
    raise ValueError(
      f'{source}: maps to {unknown}, which the label set {tuple(names)} does '
      'not hold; a class map renames source classes into the label set'
    )
  return class_map


def class_ids(
  source_names: Iterable[str],
  names: Sequence[str],
  class_map: Mapping[str, str],
) -> Dict[str, int]:
  """Source class name -> class id: renamed by class_map, else as it is;
  a name the label set does not hold is background (0)."""
  ids = {}
  for source in source_names:
    label = class_map.get(source, source)
    ids[source] = names.index(label) if label in names else 0
  return ids


def write_labels(path: str, names: Sequence[str]) -> str:
  """Writes labels.txt at `path` (checked first); returns the path."""
  names = check_labels(names, path)
  files.write_text(path, ''.join(name + '\n' for name in names))
  return path
