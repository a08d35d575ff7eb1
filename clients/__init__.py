"""MediaPipe and LiteRT, the runtimes apps use, in a venv of their own.

mediapipe 0.10.21 and ai-edge-litert need protobuf >= 4.25; the TFX 1.16
stack is pinned to protobuf 3.20.3. So they live in a second venv,
`.venv-clients` (`make clients`, requirements-clients.lock), and the scripts
in this folder run there: they import neither TensorFlow nor this project.
This module is the project's side: it finds that venv and runs a script in
it. The TFLiteExport component writes metadata through it, and the tests
drive the real clients through it.
"""

import os
import subprocess
from typing import Sequence

_HERE = os.path.dirname(os.path.abspath(__file__))
# Where `make clients` puts the venv; a container sets PYTHON_ENV instead.
_DEFAULT_PYTHON = os.path.join(
  os.path.dirname(_HERE), '.venv-clients', 'bin', 'python'
)
PYTHON_ENV = 'MOBILE_DEEPLAB_CLIENTS_PYTHON'


def python() -> str:
  """The clients venv's interpreter; raises if it is not installed."""
  path = os.environ.get(PYTHON_ENV) or _DEFAULT_PYTHON
  if not os.access(path, os.X_OK):
    raise FileNotFoundError(
      f'{path}: no Python of the clients venv (MediaPipe, LiteRT); create '
      f'it with `make clients`, or point ${PYTHON_ENV} at one with '
      'requirements-clients.lock installed'
    )
  return path


def run(script: str, args: Sequence[str], timeout: float = 600) -> str:
  """Runs clients/`script` in the clients venv; returns its stdout.

  A subprocess also contains native crashes: MediaPipe's ImageSegmenter
  dies with SIGSEGV on a model without segmentation metadata.
  """
  completed = subprocess.run(
    [python(), os.path.join(_HERE, script), *args],
    capture_output=True,
    text=True,
    timeout=timeout,
    check=False,
  )
  if completed.returncode:
    raise RuntimeError(
      f'clients/{script} {" ".join(args)} exited with '
      f'{completed.returncode}:\n{completed.stderr[-4000:]}'
    )
  return completed.stdout
