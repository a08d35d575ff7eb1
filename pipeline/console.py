"""What a person running the pipeline sees in the terminal.

TFX, Beam, TensorFlow and the Google client libraries log thousands of lines
at INFO and warn about things a user cannot act on. The runner shows instead:
which component starts and finishes (with its time), this project's own
progress lines (training steps, TFLite scores, push decisions), and every
warning or error. The full log still goes to <output_dir>/pipeline.log.
"""

import logging
import os
import re
import sys
import time
from typing import Optional
import warnings

from absl import flags

from data import beam_options
from data import problems

_PROJECT_DIRS = tuple(
  os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), package
  )
  + os.sep
  for package in ('pipeline', 'components', 'model', 'data')
)
_FAILED_EXECUTION = re.compile(r'Execution \d+ failed\.')
_COMPONENT_LINE = re.compile(r'^Component (\S+) is (running|finished)\.')
_started = {}


def say(message: str) -> None:
  print(message, flush=True)


def fail(message: str, status: int = 2) -> int:
  """One error line on stderr; returns the exit status for main().

  2 (the default) is for bad flags and inputs found before any work, as
  absl uses for bad flags; a run that failed part-way returns 1.
  """
  print(f'error: {message}', file=sys.stderr, flush=True)
  return status


def ingest_error(error: BaseException) -> Optional[problems.IngestError]:
  """The problems.IngestError in the chain TFX and Beam wrap it in, if any."""
  while error is not None:
    if isinstance(error, problems.IngestError):
      return error
    error = error.__cause__ or error.__context__
  return None


def failure_line(error: BaseException, log_path: str) -> str:
  """What a failed run that is not a bad dataset says: its first line."""
  first_line = (str(error).strip().splitlines() or [''])[0]
  return (
    f'the pipeline failed: {type(error).__name__}: {first_line} (traceback '
    f'in {log_path})'
  )


def parse_flags_or_exit(argv):
  """absl's parser, but a bad flag is one error line and exit status 2."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    sys.exit(fail(str(e)))


class _UserFacingFilter(logging.Filter):
  """Passes warnings, this project's INFO lines and component start/end."""

  def filter(self, record: logging.LogRecord) -> bool:
    if record.exc_info or 'Traceback (most recent call last)' in str(
      record.msg
    ):
      return False  # Tracebacks go to pipeline.log only.
    if record.levelno >= logging.WARNING:
      return not _is_noise(record)
    if record.pathname.startswith(_PROJECT_DIRS):
      return True
    match = _COMPONENT_LINE.match(record.getMessage())
    if not match:
      return False
    name, state = match.groups()
    if state == 'running':
      _started[name] = time.monotonic()
      record.msg, record.args = f'> {name} running', ()
    else:
      seconds = time.monotonic() - _started.get(name, time.monotonic())
      record.msg, record.args = f'> {name} done in {seconds:.1f} s', ()
    return True


def _is_noise(record: logging.LogRecord) -> bool:
  """Warnings a user cannot act on (deprecations inside the libraries), and
  TFX's own note of a failed execution (the runner says why, in one line)."""
  message = record.getMessage()
  if _FAILED_EXECUTION.fullmatch(message):
    return True
  if beam_options.is_beam_noise(message):
    return True
  return any(
    text in message
    for text in (
      'is deprecated',
      'deprecation',
      'will be removed',
      'Compiled the loaded model, but the compiled metrics',
      'Skipping full serialization of Keras layer',
      'python-snappy',
      'property_predicate is not supported',
      'does not have payload_format',
      'Using Any for unsupported type',
    )
  )


def quiet_libraries() -> None:
  """Routes library logs as described in the module docstring."""
  warnings.filterwarnings('ignore', category=FutureWarning)
  warnings.filterwarnings('ignore', category=DeprecationWarning)
  warnings.filterwarnings(
    'ignore',
    category=UserWarning,
    module=r'(apache_beam|tensorflow|tfx|google)',
  )
  root = logging.getLogger()
  root.setLevel(logging.INFO)
  for handler in root.handlers:
    handler.addFilter(_UserFacingFilter())
    handler.setFormatter(
      logging.Formatter('%(asctime)s %(message)s', datefmt='%H:%M:%S')
    )


def log_to_file(log_path: str) -> None:
  """Keeps the complete, unfiltered log of the run in `log_path`."""
  full_log = logging.FileHandler(log_path)
  full_log.setFormatter(
    logging.Formatter('%(asctime)s %(levelname)s %(name)s %(message)s')
  )
  logging.getLogger().addHandler(full_log)
