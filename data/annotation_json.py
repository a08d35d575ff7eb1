"""Reading untrusted annotation JSON as data: types, finiteness, ranges.

Python's json module accepts NaN and Infinity, numbers of any length and
(until the interpreter's recursion limit) any nesting; annotation code that
then indexes, iterates or converts the values crashes with an error that
names neither the file nor the field. These helpers check each value where
it is read and raise `problems.BadExample` naming the file, the field (as a
JSON path such as `objects[3].points.exterior[7]`) and what is wrong, in
plain words.
"""

import json
import math
from typing import Any, List, Tuple

from data import problems


class _NonFiniteError(ValueError):
  """json.loads met NaN, Infinity or -Infinity (its args[0])."""


def _reject_constant(name: str):
  raise _NonFiniteError(name)


def parse(data: bytes, path: str, non_finite_allowed: bool = False) -> Any:
  """The parsed JSON; BadExample if invalid, non-finite or too deep.

  Args:
    data: the file's bytes.
    path: the file, for errors.
    non_finite_allowed: parse NaN and Infinity as floats, for files of many
      examples (COCO), where one bad number must refuse one example, not
      all: `number` then refuses it where it is read.
  """
  try:
    return json.loads(
      data, parse_constant=None if non_finite_allowed else _reject_constant
    )
  except _NonFiniteError as e:
    raise problems.BadExample(
      problems.NON_FINITE,
      path,
      f'the file holds {e.args[0]}, which is not a number: JSON numbers '
      'must be finite',
    ) from e
  except RecursionError as e:
    # Python's JSON parser recurses once per level and gives up near the
    # interpreter's recursion limit (about 1,000 levels).
    raise problems.BadExample(
      problems.JSON_TOO_DEEP,
      path,
      'JSON nested too deeply to parse (hundreds of levels; an annotation '
      'has fewer than 10)',
    ) from e
  except (ValueError, UnicodeDecodeError) as e:
    raise problems.BadExample(
      problems.BAD_ANNOTATION, path, f'not valid JSON (truncated?): {e}'
    ) from e


def _type_name(value: Any) -> str:
  return {
    dict: 'an object',
    list: 'a list',
    str: 'a string',
    bool: 'a boolean',
    int: 'a number',
    float: 'a number',
    type(None): 'null',
  }.get(type(value), type(value).__name__)


def _wrong_type(
  value: Any, path: str, where: str, wanted: str
) -> problems.BadExample:
  return problems.BadExample(
    problems.WRONG_TYPE,
    path,
    f'{where} is {_type_name(value)}, expected {wanted}',
  )


def expect(value: Any, kind: type, path: str, where: str) -> Any:
  """`value` if it is a JSON `kind` (dict, list, str); else BadExample."""
  if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
    wanted = {dict: 'an object', list: 'a list', str: 'a string'}.get(
      kind, kind.__name__
    )
    raise _wrong_type(value, path, where, wanted)
  return value


def number(value: Any, path: str, where: str, low: float, high: float) -> float:
  """A finite JSON number within [low, high]; else BadExample."""
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise _wrong_type(value, path, where, 'a number')
  if isinstance(value, float) and not math.isfinite(value):
    # 1e400 parses to infinity: the file has a number too large for a float.
    raise problems.BadExample(
      problems.NON_FINITE, path, f'{where} overflows to {value}'
    )
  if not low <= value <= high:
    digits = len(str(abs(int(value))))
    shown = f'a {digits}-digit number' if digits > 15 else str(value)
    raise problems.BadExample(
      problems.OUT_OF_RANGE,
      path,
      f'{where} is {shown}, outside [{low}, {high}]',
    )
  return value


def integer(value: Any, path: str, where: str, low: int, high: int) -> int:
  """A JSON integer (or integral float) within [low, high]; else BadExample."""
  value = number(value, path, where, low, high)
  if value != int(value):
    raise problems.BadExample(
      problems.WRONG_TYPE, path, f'{where} is {value}, expected a whole number'
    )
  return int(value)


def points(
  value: Any,
  path: str,
  where: str,
  limit: float,
  max_points: int,
) -> List[Tuple[float, float]]:
  """[[x, y], ...] of finite numbers within +-limit, at most max_points."""
  expect(value, list, path, where)
  if len(value) > max_points:
    raise problems.BadExample(
      problems.TOO_MANY_VERTICES,
      path,
      f'{where} has {len(value)} points; at most {max_points} are read (a '
      'polygon that detailed costs more memory and time than its pixels)',
    )
  out = []
  for index, point in enumerate(value):
    at = f'{where}[{index}]'
    if not isinstance(point, list) or len(point) != 2:
      raise problems.BadExample(
        problems.WRONG_TYPE,
        path,
        f'{at} is {_type_name(point)}'
        + (f' of {len(point)}' if isinstance(point, list) else '')
        + ', expected [x, y]',
      )
    out.append(
      tuple(
        number(v, path, f'{at}[{axis}]', -limit, limit)
        for axis, v in enumerate(point)
      )
    )
  return out


def flat_coordinates(
  value: Any, path: str, where: str, limit: float, max_numbers: int
) -> List[float]:
  """[x1, y1, x2, y2, ...]: at most max_numbers finite numbers within
  +-limit, an even count of them (COCO polygons)."""
  expect(value, list, path, where)
  if len(value) > max_numbers:
    raise problems.BadExample(
      problems.TOO_MANY_VERTICES,
      path,
      f'{where} has {len(value) // 2} points; at most {max_numbers // 2} '
      'are read',
    )
  for index, v in enumerate(value):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
      raise _wrong_type(v, path, f'{where}[{index}]', 'a number')
    if not (math.isfinite(v) and -limit <= v <= limit):
      raise problems.BadExample(
        problems.NON_FINITE if not math.isfinite(v) else problems.OUT_OF_RANGE,
        path,
        f'{where}[{index}] is {v}, outside [{-limit}, {limit}]',
      )
  if len(value) % 2:
    raise problems.BadExample(
      problems.WRONG_TYPE,
      path,
      f'{where} holds {len(value)} numbers; a polygon is x, y pairs',
    )
  return value
