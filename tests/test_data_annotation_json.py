"""data.annotation_json: hostile JSON values become named problems."""

import pytest

from data import annotation_json
from data import problems


def _problem(call):
  with pytest.raises(problems.BadExample) as error:
    call()
  assert error.value.path == 'ann.json'
  return error.value.problem, error.value.detail


@pytest.mark.parametrize(
  'data,problem,words',
  [
    (b'{"size": {"height": NaN}}', problems.NON_FINITE, 'NaN'),
    (b'{"size": {"height": Infinity}}', problems.NON_FINITE, 'Infinity'),
    (b'{"origin": [-Infinity, 0]}', problems.NON_FINITE, '-Infinity'),
    (b'[' * 100_000 + b']' * 100_000, problems.JSON_TOO_DEEP, 'nested'),
    (b'{"size": {"height": 1', problems.BAD_ANNOTATION, 'truncated'),
    (b'\xff\xfe{}', problems.BAD_ANNOTATION, 'not valid JSON'),
  ],
)
def test_parse_refuses_what_python_json_accepts_or_crashes_on(
  data, problem, words
):
  got, detail = _problem(lambda: annotation_json.parse(data, 'ann.json'))
  assert got == problem
  assert words in detail


def test_parse_reads_ordinary_annotations():
  assert annotation_json.parse(b'{"a": [1, 2.5, "x"]}', 'ann.json') == {
    'a': [1, 2.5, 'x']
  }


@pytest.mark.parametrize(
  'value,problem,words',
  [
    (True, problems.WRONG_TYPE, 'is a boolean, expected a number'),
    ('5', problems.WRONG_TYPE, 'is a string'),
    (None, problems.WRONG_TYPE, 'is null'),
    (10**400, problems.OUT_OF_RANGE, 'a 401-digit number'),
    (float('inf'), problems.NON_FINITE, 'overflows to inf'),  # 1e400
    (-11, problems.OUT_OF_RANGE, 'is -11, outside [-10, 10]'),
  ],
)
def test_numbers_are_checked_with_the_field_named(value, problem, words):
  got, detail = _problem(
    lambda: annotation_json.number(value, 'ann.json', 'size.height', -10, 10)
  )
  assert got == problem
  assert detail.startswith('size.height ')
  assert words in detail


def test_integers_must_be_whole():
  assert annotation_json.integer(7.0, 'ann.json', 'w', 1, 10) == 7
  got, detail = _problem(
    lambda: annotation_json.integer(7.5, 'ann.json', 'w', 1, 10)
  )
  assert (got, detail) == (
    problems.WRONG_TYPE,
    'w is 7.5, expected a whole number',
  )


@pytest.mark.parametrize(
  'value,kind,words',
  [
    (5, list, 'points.interior is a number, expected a list'),
    (['person'], str, 'points.interior is a list, expected a string'),
    ([], dict, 'points.interior is a list, expected an object'),
  ],
)
def test_expect_names_both_types(value, kind, words):
  got, detail = _problem(
    lambda: annotation_json.expect(value, kind, 'ann.json', 'points.interior')
  )
  assert (got, detail) == (problems.WRONG_TYPE, words)


def test_points_bound_count_and_coordinates():
  assert annotation_json.points([[1, 2], [3.5, 4]], 'ann.json', 'p', 10, 5) == [
    (1, 2),
    (3.5, 4),
  ]
  got, detail = _problem(
    lambda: annotation_json.points([[0, 0]] * 6, 'ann.json', 'p', 10, 5)
  )
  assert got == problems.TOO_MANY_VERTICES
  assert 'p has 6 points; at most 5' in detail
  got, detail = _problem(
    lambda: annotation_json.points([[0, 0], [1]], 'ann.json', 'p', 10, 5)
  )
  assert (got, detail) == (
    problems.WRONG_TYPE,
    'p[1] is a list of 1, expected [x, y]',
  )
  got, detail = _problem(
    lambda: annotation_json.points([[0, 99]], 'ann.json', 'p', 10, 5)
  )
  assert (got, detail) == (
    problems.OUT_OF_RANGE,
    'p[0][1] is 99, outside [-10, 10]',
  )
