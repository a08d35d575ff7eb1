"""clients.quiet_logs: C++ logs and warnings dropped, errors kept, --verbose."""

import json
import os
import subprocess
import sys

import pytest

import clients
from clients import quiet_logs

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Written with os.write, as C++ code writes: Python's sys.stderr never sees
# them.
_NOISE = [
  'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.',
  'WARNING: All log messages before absl::InitializeLog() is called are '
  'written to STDERR',
  'W0000 00:00:1733430000.123456   51234 inference_feedback_manager.cc:114] '
  'Feedback manager requires a model with a single signature inference.',
  'I0000 00:00:1733430000.123456   51234 gl_context.cc:357] GL version: 3.2',
]
_KEPT = [
  'E0000 00:00:1733430000.123456   51234 calculator_graph.cc:887] broken',
  'F0000 00:00:1733430000.123456   51234 image.cc:12] Check failed: data',
  'Traceback (most recent call last):',
  'INFO is a word; this line is not a log line',
]

_WRITER = """
import os, sys, warnings
sys.path.insert(0, {repo!r})
from clients import quiet_logs
lines = {lines!r}
with quiet_logs.unless_verbose(verbose={verbose}):
  warnings.warn('a Python warning')
  for line in lines:
    os.write(2, (line + '\\n').encode())
  os.write(2, b'no newline at the end')
print('after', file=sys.stderr)
"""


def _stderr_of_writer(lines, verbose: bool) -> str:
  code = _WRITER.format(repo=_REPO, lines=lines, verbose=verbose)
  completed = subprocess.run(
    # -W: a test before may have set PYTHONWARNINGS=ignore (data.cli_env).
    [sys.executable, '-W', 'always', '-c', code],
    capture_output=True,
    check=True,
    timeout=60,
  )
  return completed.stderr.decode()


def test_noise_lines_are_dropped_and_everything_else_kept_in_order():
  lines = [_NOISE[0], _KEPT[0], _NOISE[1], _KEPT[1], _NOISE[2], _KEPT[2]]
  lines += [_NOISE[3], _KEPT[3]]
  assert _stderr_of_writer(lines, verbose=False) == (
    '\n'.join(_KEPT) + '\nno newline at the endafter\n'
  )


def test_verbose_keeps_every_line_and_the_warning():
  stderr = _stderr_of_writer(_NOISE, verbose=True)
  assert 'UserWarning: a Python warning\n' in stderr
  assert stderr.endswith('\n'.join(_NOISE) + '\nno newline at the endafter\n')


@pytest.mark.parametrize('line', _NOISE)
def test_is_noise(line):
  assert quiet_logs.is_noise(line.encode())


@pytest.mark.parametrize('line', _KEPT)
def test_is_not_noise(line):
  assert not quiet_logs.is_noise(line.encode())


def test_stderr_is_restored_when_the_block_raises():
  code = f"""
import os, sys
sys.path.insert(0, {_REPO!r})
from clients import quiet_logs
try:
  with quiet_logs.unless_verbose():
    raise ValueError('inside')
except ValueError:
  pass
os.write(2, b'INFO: after the block\\n')
"""
  completed = subprocess.run(
    [sys.executable, '-c', code], capture_output=True, check=True, timeout=60
  )
  assert completed.stderr == b'INFO: after the block\n'


def _selfie_bench(*flags):
  completed = subprocess.run(
    [
      clients.python(),
      os.path.join(_REPO, 'bench', 'mediapipe_selfie.py'),
      '--runs=1',
      '--warmup=0',
      *flags,
    ],
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert completed.returncode == 0, completed.stderr
  return completed


def test_mediapipe_bench_prints_its_row_and_no_cxx_logs():
  """The real MediaPipe, in the clients venv: only the JSON row is printed."""
  completed = _selfie_bench()
  assert completed.stderr == ''
  row = json.loads(completed.stdout)
  assert row['ms_1t'] > 0 and row['ms_2t'] > 0


def test_mediapipe_bench_verbose_shows_the_cxx_logs():
  assert 'XNNPACK' in _selfie_bench('--verbose').stderr
