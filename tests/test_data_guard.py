"""data.guard: the door readers take bytes through, against hostile folders."""

import os
import socket
import stat

import pytest

from data import guard
from data import problems


@pytest.fixture
def root(tmp_path):
  """A data root with one good file and a file outside it."""
  (tmp_path / 'root' / 'sub').mkdir(parents=True)
  (tmp_path / 'outside').mkdir()
  (tmp_path / 'outside' / 'secret.jpg').write_bytes(b'secret')
  (tmp_path / 'root' / 'a.jpg').write_bytes(b'good')
  return tmp_path / 'root'


def _bad(root, name, missing=problems.MISSING_IMAGE):
  with pytest.raises(problems.BadExample) as error:
    guard.DataRoot(str(root)).read(str(root / name), missing)
  assert error.value.path == str(root / name)  # The name as listed.
  return error.value


def test_regular_files_and_links_inside_are_read(root):
  os.symlink('a.jpg', root / 'link.jpg')
  reader = guard.DataRoot(str(root))
  assert reader.read(str(root / 'a.jpg'), problems.MISSING_IMAGE) == b'good'
  assert reader.read(str(root / 'link.jpg'), problems.MISSING_IMAGE) == b'good'


def test_a_symlink_out_of_the_root_is_refused_unread(root):
  os.symlink('../outside/secret.jpg', root / 'evil.jpg')
  error = _bad(root, 'evil.jpg')
  assert error.problem == problems.OUTSIDE_ROOT
  assert error.detail == (
    f'leads to {root.parent / "outside" / "secret.jpg"}, outside the data '
    f'root {root} (a symlink or a ".." out of the dataset)'
  )
  # A directory link out of the root is refused the same way.
  os.symlink('../../outside', root / 'sub' / 'escape')
  assert _bad(root, 'sub/escape/secret.jpg').problem == problems.OUTSIDE_ROOT


def test_a_fifo_is_refused_without_blocking(root, no_hang):
  del no_hang
  os.mkfifo(root / 'pipe.jpg')
  error = _bad(root, 'pipe.jpg')
  assert error.problem == problems.NOT_A_FILE
  assert 'named pipe (FIFO)' in error.detail


def test_directories_and_sockets_are_not_files(root):
  (root / 'dir.jpg').mkdir()
  assert 'a directory' in _bad(root, 'dir.jpg').detail
  server = socket.socket(socket.AF_UNIX)
  server.bind(str(root / 's.jpg'))
  try:
    error = _bad(root, 's.jpg')
  finally:
    server.close()
  # Opening a socket fails before it can be checked: unreadable, not a hang.
  assert error.problem in (problems.NOT_A_FILE, problems.UNREADABLE_FILE)


def test_missing_broken_and_looping_links(root):
  error = _bad(root, 'none.png', problems.MISSING_MASK)
  assert (error.problem, error.detail) == (
    problems.MISSING_MASK,
    'no such file',
  )
  os.symlink('nothing.jpg', root / 'broken.jpg')
  error = _bad(root, 'broken.jpg')
  assert error.problem == problems.MISSING_IMAGE
  assert error.detail == 'a broken symlink (its target does not exist)'
  os.symlink('loop2.jpg', root / 'loop1.jpg')
  os.symlink('loop1.jpg', root / 'loop2.jpg')
  error = _bad(root, 'loop1.jpg')
  assert error.problem == problems.UNREADABLE_FILE
  assert 'symbolic links' in error.detail


def test_a_non_utf8_name_is_named_printably(root):
  name = os.fsdecode(b'caf\xe9.jpg')
  (root / name).write_bytes(b'x')
  with pytest.raises(problems.BadExample) as error:
    guard.check_name(str(root / name))
  assert error.value.problem == problems.BAD_FILE_NAME
  assert error.value.path.endswith('caf\\xe9.jpg')
  assert error.value.detail == (
    'the file name is not UTF-8 text; image/filename must be, so rename '
    'the file'
  )
  str(error.value).encode('utf-8')  # Prints on any terminal.
  guard.check_name(str(root / 'a.jpg'))  # UTF-8 names pass.


def test_check_leads_to_the_real_file_unread_and_refuses_as_read_does(
  root, no_hang
):
  """For files a library streams (check, then the library opens them)."""
  del no_hang
  os.symlink('a.jpg', root / 'link.jpg')
  reader = guard.DataRoot(str(root))
  real_a = os.path.realpath(root / 'a.jpg')
  assert reader.check(str(root / 'a.jpg'), problems.MISSING_IMAGE) == real_a
  assert reader.check(str(root / 'link.jpg'), problems.MISSING_IMAGE) == real_a
  os.mkfifo(root / 'pipe.mp4')
  os.symlink('../outside/secret.jpg', root / 'evil.jpg')
  for name, missing, problem, detail in (
    ('none.png', problems.MISSING_MASK, problems.MISSING_MASK, 'no such file'),
    ('pipe.mp4', problems.MISSING_IMAGE, problems.NOT_A_FILE, 'FIFO'),
    ('evil.jpg', problems.MISSING_IMAGE, problems.OUTSIDE_ROOT, 'outside'),
  ):
    with pytest.raises(problems.BadExample) as error:
      reader.check(str(root / name), missing)
    assert error.value.problem == problem
    assert error.value.path == str(root / name)
    assert detail in error.value.detail


def test_check_under_a_url_root_asks_the_filesystem(monkeypatch):
  """gs:// roots have no symlinks or FIFOs: existence is the check."""
  present = {'gs://bucket/data/a.jpg'}
  monkeypatch.setattr(guard.files, 'exists', lambda path: path in present)
  reader = guard.DataRoot('gs://bucket/data')
  assert (
    reader.check('gs://bucket/data/a.jpg', problems.MISSING_IMAGE)
    == 'gs://bucket/data/a.jpg'
  )
  with pytest.raises(problems.BadExample) as error:
    reader.check('gs://bucket/data/b.png', problems.MISSING_MASK)
  assert (error.value.problem, error.value.path, error.value.detail) == (
    problems.MISSING_MASK,
    'gs://bucket/data/b.png',
    'no such file',
  )


@pytest.mark.parametrize(
  'mode,kind',
  [
    (stat.S_IFDIR, 'directory'),
    (stat.S_IFIFO, 'named pipe (FIFO)'),
    (stat.S_IFSOCK, 'socket'),
    (stat.S_IFCHR, 'character device'),
    (stat.S_IFBLK, 'block device'),
    (0, 'special file'),
  ],
)
def test_each_kind_of_file_is_named(mode, kind):
  assert guard._kind(mode | 0o644) == kind  # pylint: disable=protected-access


def test_read_under_a_url_root_reads_through_tensorflows_filesystems(tmp_path):
  """`ram://` stands for gs://: nothing to resolve, existence is the check."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  root = f'ram://{tmp_path}/data'
  tf.io.gfile.makedirs(root)
  with tf.io.gfile.GFile(f'{root}/a.jpg', 'wb') as f:
    f.write(b'jpeg bytes')
  reader = guard.DataRoot(root)
  assert reader.read(f'{root}/a.jpg', problems.MISSING_IMAGE) == b'jpeg bytes'
  with pytest.raises(problems.BadExample) as error:
    reader.read(f'{root}/b.png', problems.MISSING_MASK)
  assert (error.value.problem, error.value.path, error.value.detail) == (
    problems.MISSING_MASK,
    f'{root}/b.png',
    'no such file',
  )


def test_a_file_that_fails_while_read_is_unreadable_by_its_own_name():
  """/proc/self/mem is a regular file whose first page cannot be read
  (EIO): the error names the file, and the path as listed if given."""
  for listed, named in (({}, '/proc/self/mem'), ({'listed': 'a.png'}, 'a.png')):
    with pytest.raises(problems.BadExample) as error:
      guard.read_regular_file(
        '/proc/self/mem', problems.MISSING_IMAGE, **listed
      )
    assert (error.value.problem, error.value.path, error.value.detail) == (
      problems.UNREADABLE_FILE,
      named,
      'cannot be read: Input/output error',
    )
