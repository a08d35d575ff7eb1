"""File access through tf.io.gfile, so data_root may be local or gs://.

Beam workers on a cluster read the dataset where it lives; everything in
data/ goes through these few calls instead of `open`/`os`.
"""

import posixpath
from typing import List

import tensorflow as tf


def read_bytes(path: str) -> bytes:
  with tf.io.gfile.GFile(path, 'rb') as f:
    return f.read()


def exists(path: str) -> bool:
  return tf.io.gfile.exists(path)


def is_dir(path: str) -> bool:
  return tf.io.gfile.isdir(path)


def list_dir(path: str) -> List[str]:
  """Sorted entry names (no trailing slash), so listings are deterministic."""
  return sorted(name.rstrip('/') for name in tf.io.gfile.listdir(path))


def join(*parts: str) -> str:
  if '://' in parts[0]:
    return posixpath.join(*parts)
  return tf.io.gfile.join(*parts)


def write_text(path: str, text: str) -> None:
  tf.io.gfile.makedirs(posixpath.dirname(path) or '.')
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(text)
