"""A fingerprint of this project's own source code, for the TFX cache.

Transform and Trainer code is referenced by dotted path (so Beam workers and
containers import the installed package), which TFX does not hash the way
it hashes a `module_file`. Without this, a run after a code change would
reuse results computed by the old code. The fingerprint goes into the
execution properties of every component that runs project code, so any
change to the project's Python files makes them run again.
"""

import hashlib
import os

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PACKAGES = ('clients', 'components', 'data', 'model', 'pipeline')


def source_fingerprint() -> str:
  """sha256 (16 hex digits) of every .py file of the project's packages."""
  digest = hashlib.sha256()
  for package in _PACKAGES:
    for folder, dirs, files in sorted(os.walk(os.path.join(_ROOT, package))):
      dirs.sort()
      for name in sorted(files):
        if name.endswith('.py'):
          path = os.path.join(folder, name)
          digest.update(os.path.relpath(path, _ROOT).encode())
          with open(path, 'rb') as f:
            digest.update(hashlib.sha256(f.read()).digest())
  return digest.hexdigest()[:16]
