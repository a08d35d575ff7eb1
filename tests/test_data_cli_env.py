"""The command-line programs' quiet start, in fresh interpreters (it sets
process-wide state)."""

import os
import subprocess
import sys

import pytest

from data import cli_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A program that quiets itself, warns, and starts a child that warns, as a
# Beam worker process would.
_PROGRAM = """
import subprocess, sys, warnings
from data import cli_env
verbose = cli_env.quiet_unless_verbose()
print('verbose' if verbose else 'quiet')
warnings.warn('parent notice', FutureWarning)
subprocess.run([sys.executable, '-c',
                'import warnings; warnings.warn("child notice", UserWarning)'])
"""


def _run(*args):
  env = {
    key: value
    for key, value in os.environ.items()
    if key not in ('PYTHONWARNINGS', 'TF_CPP_MIN_LOG_LEVEL')
  }
  return subprocess.run(
    [sys.executable, '-c', _PROGRAM, *args],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=60,
  )


def test_quiet_by_default_in_the_process_and_its_children():
  completed = _run()
  assert completed.stdout == 'quiet\n'
  assert completed.stderr == ''


@pytest.mark.parametrize('flag', ['--verbose', '--verbose=true'])
def test_verbose_keeps_every_warning(flag):
  completed = _run(flag)
  assert completed.stdout == 'verbose\n'
  assert 'parent notice' in completed.stderr
  assert 'child notice' in completed.stderr


@pytest.mark.parametrize(
  'level,quiet',
  [(None, False), ('0', False), ('1', True), ('3', True), ('x', False)],
)
def test_quiet_follows_tensorflows_log_level(monkeypatch, level, quiet):
  if level is None:
    monkeypatch.delenv('TF_CPP_MIN_LOG_LEVEL', raising=False)
  else:
    monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', level)
  assert cli_env.quiet() is quiet
