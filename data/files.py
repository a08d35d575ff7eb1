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
from typing import Iterator, List


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


def walk(folder: str) -> Iterator[str]:
  """Every entry under `folder`, files and folders, recursively, sorted.

  Symlinks to folders are listed, not followed (so a walk cannot loop or
  leave the folder through them); a folder that cannot be listed raises.
  """

  def fail(error: OSError) -> None:
    raise error

  walker = (
    _gfile().walk(folder) if is_url(folder) else os.walk(folder, onerror=fail)
  )
  for parent, folders, names in walker:
    folders.sort()
    for name in sorted(folders + names):
      yield join(parent, name.rstrip('/'))


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


def write_bytes(path: str, data: bytes) -> None:
  """Writes `path` whole or not at all, creating the parent folders.

  Locally through a temporary name renamed into place, so that a file that
  exists is complete (a crash leaves a temporary name, never a short file);
  object stores publish an object only when it is closed.
  """
  if is_url(path):
    _gfile().makedirs(posixpath.dirname(path))
    with _gfile().GFile(path, 'wb') as f:
      f.write(data)
    return
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  partial = f'{path}.partial-{os.getpid()}'
  with open(partial, 'wb') as f:
    f.write(data)
  os.replace(partial, path)


def remove(path: str) -> None:
  """Deletes one file."""
  if is_url(path):
    _gfile().remove(path)
  else:
    os.remove(path)
