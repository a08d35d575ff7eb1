"""The one door through which readers take a dataset's bytes.

A dataset folder is untrusted input: names that are not UTF-8, symlinks that
lead out of it or nowhere, a named pipe (FIFO) called `x.jpg` that would
block `open` forever, a directory called `x.jpg`. `DataRoot.read` resolves
the path, refuses anything outside the root and anything that is not a
regular file before reading it, and turns every failure into a
`problems.BadExample` that names the file. Readers (data/voc.py,
data/supervisely.py, and any new one) read only through it.

URLs (gs://...) have no symlinks or special files; they are read as they are.
"""

import errno
import os
import stat

from data import files
from data import problems


def check_name(path: str) -> None:
  """BadExample unless the file name is UTF-8 (it becomes image/filename)."""
  try:
    path.encode('utf-8')
  except UnicodeEncodeError as e:
    raise problems.BadExample(
      problems.BAD_FILE_NAME,
      problems.printable(path),
      'the file name is not UTF-8 text; image/filename must be, so rename '
      'the file',
    ) from e


class DataRoot:
  """Reads regular files under one folder, and nothing else.

  Cheap to pickle (a path), so readers that Beam sends to workers hold one.
  """

  def __init__(self, root: str):
    self.root = root
    self._real_root = None if files.is_url(root) else os.path.realpath(root)

  def read(self, path: str, missing: str) -> bytes:
    """The bytes of `path`; BadExample(`missing`) if there is no such file.

    Args:
      path: a file under the root (as listed, possibly through symlinks).
      missing: the problem kind when nothing is there (missing_image, ...).
    """
    if self._real_root is None:
      if not files.exists(path):
        raise problems.BadExample(missing, path, 'no such file')
      return files.read_bytes(path)
    return read_regular_file(self._inside(path), missing, listed=path)

  def check(self, path: str, missing: str) -> str:
    """Where `path` leads, once checked as `read` checks it, but unread.

    For files too large to hold in memory, which a library then streams.
    """
    if self._real_root is None:
      if not files.exists(path):
        raise problems.BadExample(missing, path, 'no such file')
      return path
    real = self._inside(path)
    os.close(_open_regular(real, missing, path))
    return real

  def _inside(self, path: str) -> str:
    """The resolved path; BadExample(outside_root) if it leaves the root."""
    real = os.path.realpath(path)
    if os.path.commonpath([real, self._real_root]) != self._real_root:
      raise problems.BadExample(
        problems.OUTSIDE_ROOT,
        path,
        f'leads to {problems.printable(real)}, outside the data root '
        f'{problems.printable(self.root)} (a symlink or a ".." out of the '
        'dataset)',
      )
    return real


def read_regular_file(path: str, missing: str, listed: str = '') -> bytes:
  """The bytes of a local regular file; BadExample for anything else.

  Args:
    path: the file to read.
    missing: the problem kind when nothing is there.
    listed: the name to report (default: path): the path as listed, when
      `path` is where its symlinks lead.
  """
  listed = listed or path
  with os.fdopen(_open_regular(path, missing, listed), 'rb') as f:
    try:
      return f.read()
    except OSError as e:
      raise problems.BadExample(
        problems.UNREADABLE_FILE, listed, f'cannot be read: {e.strerror}'
      ) from e


def _open_regular(path: str, missing: str, listed: str) -> int:
  """A file descriptor of `path`, checked to be a regular file."""
  try:
    # Non-blocking, so that opening a FIFO returns at once; what was opened
    # is then checked, so nothing can be swapped in after a check.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
  except OSError as e:
    if e.errno == errno.ENOENT:
      what = (
        'a broken symlink (its target does not exist)'
        if os.path.islink(listed)
        else 'no such file'
      )
      raise problems.BadExample(missing, listed, what) from e
    raise problems.BadExample(
      problems.UNREADABLE_FILE, listed, f'cannot be read: {e.strerror}'
    ) from e
  mode = os.fstat(fd).st_mode
  if not stat.S_ISREG(mode):
    os.close(fd)
    raise problems.BadExample(
      problems.NOT_A_FILE,
      listed,
      f'is a {_kind(mode)}, not a regular file; nothing was read',
    )
  return fd


def _kind(mode: int) -> str:
  for test, name in (
    (stat.S_ISDIR, 'directory'),
    (stat.S_ISFIFO, 'named pipe (FIFO)'),
    (stat.S_ISSOCK, 'socket'),
    (stat.S_ISCHR, 'character device'),
    (stat.S_ISBLK, 'block device'),
  ):
    if test(mode):
      return name
  return 'special file'
