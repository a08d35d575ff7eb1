"""data.beam_options: Beam options checked without importing Beam."""

import logging
import subprocess
import sys

import pytest

from data import beam_options

_CHECK_IN_A_FRESH_PROCESS = """
import sys
from data import beam_options
beam_options.check_beam_args({args!r})
print('apache_beam' in sys.modules)
"""


def _imports_beam(args) -> bool:
  completed = subprocess.run(
    [sys.executable, '-c', _CHECK_IN_A_FRESH_PROCESS.format(args=args)],
    capture_output=True,
    text=True,
    check=True,
    timeout=120,
  )
  return completed.stdout.strip() == 'True'


def test_options_without_a_runner_are_checked_without_importing_beam():
  """A flag error of the runner must not wait seconds for Beam's import."""
  assert not _imports_beam(['--direct_num_workers=2', '--runner_x=1'])


@pytest.mark.parametrize(
  'args', [['--runner=DirectRunner'], ['--runner', 'DirectRunner']]
)
def test_a_known_runner_passes_in_both_spellings(args):
  beam_options.check_beam_args(args)


@pytest.mark.parametrize(
  'args', [['--runner=NoSuchRunner'], ['--runner', 'NoSuchRunner']]
)
def test_an_unknown_runner_is_named_in_both_spellings(args):
  with pytest.raises(ValueError, match='--runner=NoSuchRunner in the Beam'):
    beam_options.check_beam_args(args)


def _record(message: str) -> logging.LogRecord:
  return logging.LogRecord('beam', logging.WARNING, 'f', 1, message, (), None)


def test_beam_noise_is_filtered_and_other_records_kept():
  quiet = beam_options.QuietBeamFilter()
  assert not quiet.filter(_record('No semi_persistent_directory found: x'))
  assert not quiet.filter(_record('Discarding unparseable args: [--x]'))
  assert quiet.filter(_record('Discarding nothing: a real warning'))
