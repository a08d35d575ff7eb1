"""Keeps MediaPipe's and TFLite's logs and warnings off a clean run's stderr.

MediaPipe's tasks and TFLite write to file descriptor 2 from C++: TFLite's
"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", absl's warning
that logging is not initialized, and absl-format I and W lines (for example
inference_feedback_manager's). They ignore GLOG_minloglevel and
TF_CPP_MIN_LOG_LEVEL, and Python's sys.stderr never sees them, so the only
place to drop them is the descriptor itself.

`unless_verbose` points descriptor 2 at a pipe for the duration of a `with`
block (one block at a time in a process); a thread copies every line to the
real stderr except those informational ones. Errors (absl E and F lines),
Python tracebacks and anything unrecognised pass through, so a failure
still says what happened.
It also ignores Python warnings in the block (MediaPipe's tasks warn that
protobuf's MessageFactory is deprecated). The batch job's TFLite workers
use it too: tflite_runtime logs the same XNNPACK line
(components.inference).
"""

import contextlib
import os
import re
import sys
import threading
from typing import Iterator
import warnings

# One redirection at a time: two interleaved ones would restore each
# other's pipe as stderr.
_REDIRECTING = threading.Lock()

# Lines a clean run prints that a user cannot act on.
_NOISE = re.compile(
  rb'^(INFO: '
  rb'|WARNING: All log messages before absl::InitializeLog\(\) is called'
  rb'|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\] )'
)


def is_noise(line: bytes) -> bool:
  """Whether `line` is an informational C++ log line of the kind above."""
  return bool(_NOISE.match(line))


def _copy_lines(source: int, target: int) -> None:
  """Copies lines from descriptor `source` to `target`, dropping noise."""
  with os.fdopen(source, 'rb', buffering=0) as pipe:
    pending = b''
    while chunk := pipe.read(65536):
      pending += chunk
      *lines, pending = pending.split(b'\n')
      for line in lines:
        if not is_noise(line):
          os.write(target, line + b'\n')
    if pending and not is_noise(pending):
      os.write(target, pending)


@contextlib.contextmanager
def unless_verbose(verbose: bool = False) -> Iterator[None]:
  """Drops Python warnings and informational C++ log lines in the block.

  Args:
    verbose: leave stderr alone (the programs' --verbose).

  Yields:
    nothing; stderr is restored and flushed when the block exits.
  """
  if verbose:
    yield
    return
  with _REDIRECTING, _filtered_fd2():
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      yield


@contextlib.contextmanager
def _filtered_fd2() -> Iterator[None]:
  real_stderr = os.dup(2)
  read_end, write_end = os.pipe()
  copier = threading.Thread(
    target=_copy_lines, args=(read_end, real_stderr), daemon=True
  )
  copier.start()
  sys.stderr.flush()
  os.dup2(write_end, 2)
  os.close(write_end)
  try:
    yield
  finally:
    # Closing the last write end lets the copier see EOF and finish.
    sys.stderr.flush()
    os.dup2(real_stderr, 2)
    copier.join()
    os.close(real_stderr)
