"""The process settings of this project's command-line programs.

TensorFlow's C++ runtime logs a dozen start-up lines per process, and the
Google client libraries Beam and TFX import warn about the Python version at
every import, in the main process and again in every Beam worker process it
starts. None of it is something a user can act on. `quiet_unless_verbose`
silences both for the process and, through the environment, for the worker
processes it starts; `--verbose` on the command line leaves them on.

It must run before TensorFlow or Beam is imported: TensorFlow reads
TF_CPP_MIN_LOG_LEVEL when its C++ library loads. It lives in the lowest
layer because `data.convert` is a command-line program too.
"""

import os
import sys
from typing import Sequence
import warnings

VERBOSE_FLAG = '--verbose'
VERBOSE_HELP = (
  'Show TensorFlow, Beam and Python warnings and logs (quiet by default).'
)


def quiet_unless_verbose(argv: Sequence[str] = ()) -> bool:
  """Quiets this process and its children unless argv asks for --verbose.

  Also selects tf_keras for every model (TF_USE_LEGACY_KERAS): with Keras 3
  on TensorFlow 2.16 the TFLite conversion aborts the process.

  Args:
    argv: the command line (default: sys.argv).

  Returns:
    whether the run is verbose.
  """
  os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
  argv = list(argv) or sys.argv
  if any(
    arg in (VERBOSE_FLAG, f'{VERBOSE_FLAG}=true', f'{VERBOSE_FLAG}=1')
    for arg in argv[1:]
  ):
    return True
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  os.environ.setdefault('PYTHONWARNINGS', 'ignore')
  warnings.simplefilter('ignore')
  return False


def quiet() -> bool:
  """Whether this process runs quiet: TF_CPP_MIN_LOG_LEVEL hides INFO lines
  (1 and up), as `quiet_unless_verbose` sets it here and, through the
  environment, in the Beam workers. For logs that ignore it (tflite_runtime's
  XNNPACK line, components.inference)."""
  level = os.environ.get('TF_CPP_MIN_LOG_LEVEL', '0')
  return level.isdigit() and int(level) >= 1
