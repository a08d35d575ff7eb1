"""File access for data/: local paths or URLs such as gs://.

Beam workers on a cluster read the dataset where it lives; everything in
data/ goes through these few calls instead of `open`/`os`. URLs go through
tf.io.gfile (gs://, hdfs://, s3:// with tensorflow-io, ...). Local paths use
the standard library: importing TensorFlow costs a Beam worker seconds, more
than converting a few hundred images, and on one machine data is local.
"""

import glob as glob_lib
import os
import posixpath
from typing import List


def is_url(path: str) -> bool:
  """True for URLs such as gs://bucket/x; False for local paths."""
  return '://' in path


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  return tf.io.gfile


def read_bytes(path: str) -> bytes:
  if is_url(path):
    with _gfile().GFile(path, 'rb') as f:
      return f.read()
  with open(path, 'rb') as f:
    return f.read()


def exists(path: str) -> bool:
  return _gfile().exists(path) if is_url(path) else os.path.exists(path)


def is_dir(path: str) -> bool:
  return _gfile().isdir(path) if is_url(path) else os.path.isdir(path)


def list_dir(path: str) -> List[str]:
  """Sorted entry names (no trailing slash), so listings are deterministic."""
  names = _gfile().listdir(path) if is_url(path) else os.listdir(path)
  return sorted(name.rstrip('/') for name in names)


def glob(pattern: str) -> List[str]:
  """Sorted paths matching a glob pattern (`*`, `?`, `[...]`).

  As in the shell (and Python's glob), a wildcard does not match a file name
  starting with '.'; tf.io.gfile's would, so those are dropped for URLs.
  """
  if not is_url(pattern):
    return sorted(glob_lib.glob(pattern))
  if posixpath.basename(pattern).startswith('.'):
    return sorted(_gfile().glob(pattern))
  return sorted(
    path
    for path in _gfile().glob(pattern)
    if not posixpath.basename(path).startswith('.')
  )


def join(*parts: str) -> str:
  if is_url(parts[0]):
    return posixpath.join(*parts)
  return os.path.join(*parts)


def write_text(path: str, text: str) -> None:
  """Writes text to path as UTF-8, creating the parent folders."""
  if is_url(path):
    _gfile().makedirs(posixpath.dirname(path))
    with _gfile().GFile(path, 'w') as f:
      f.write(text)
    return
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(text)


def remove(path: str) -> None:
  """Deletes one file."""
  if is_url(path):
    _gfile().remove(path)
  else:
    os.remove(path)
