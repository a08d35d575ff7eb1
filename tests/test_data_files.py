"""data.files: the same answers for local paths and for URLs (via gfile)."""

import os

import pytest

from data import files


@pytest.fixture(params=['local', 'url'])
def root(request, tmp_path):
  """A folder given as a local path, or as a TensorFlow ram:// URL.

  ram:// is served by tf.io.gfile like gs:// is, with no network.
  """
  if request.param == 'local':
    return str(tmp_path)
  return f'ram://files-test-{os.getpid()}-{tmp_path.name}'


def test_write_read_list_glob(root):
  files.write_text(files.join(root, 'ds2', 'ann', 'b.json'), '{"b": 2}')
  files.write_text(files.join(root, 'ds1', 'ann', 'a.json'), '{"a": 1}')
  files.write_text(files.join(root, 'ds1', 'img.txt'), 'é')
  files.write_text(files.join(root, 'ds1', 'ann', '.hidden.json'), '{}')

  assert files.read_bytes(files.join(root, 'ds1', 'ann', 'a.json')) == (
    b'{"a": 1}'
  )
  assert files.read_bytes(files.join(root, 'ds1', 'img.txt')) == ('é'.encode())
  assert files.list_dir(root) == ['ds1', 'ds2']
  assert files.list_dir(files.join(root, 'ds1')) == ['ann', 'img.txt']
  assert files.glob(files.join(root, '*', 'ann', '*.json')) == [
    files.join(root, 'ds1', 'ann', 'a.json'),
    files.join(root, 'ds2', 'ann', 'b.json'),
  ]
  assert files.glob(files.join(root, 'ds1', 'ann', '.h*')) == [
    files.join(root, 'ds1', 'ann', '.hidden.json')
  ]
  assert files.glob(files.join(root, 'ds3*')) == []


def test_exists_and_is_dir(root):
  path = files.join(root, 'sub', 'x.txt')
  assert not files.exists(path)
  files.write_text(path, 'x')
  assert files.exists(path) and not files.is_dir(path)
  assert files.is_dir(files.join(root, 'sub'))
  assert not files.is_dir(files.join(root, 'missing'))


def test_join_keeps_url_separators():
  assert files.join('gs://bucket/voc', 'VOC2012', 'x.jpg') == (
    'gs://bucket/voc/VOC2012/x.jpg'
  )
  assert files.join('/data', 'VOC2012') == '/data/VOC2012'


def test_write_bytes_and_walk_every_entry_sorted(root):
  for name in ('b.png', 'a/x.jpg', 'a/deep/y.png'):
    files.write_bytes(files.join(root, *name.split('/')), name.encode())
  assert files.read_bytes(files.join(root, 'a', 'deep', 'y.png')) == (
    b'a/deep/y.png'
  )
  assert list(files.walk(root)) == [
    files.join(root, 'a'),
    files.join(root, 'b.png'),
    files.join(root, 'a', 'deep'),
    files.join(root, 'a', 'x.jpg'),
    files.join(root, 'a', 'deep', 'y.png'),
  ]
  if not files.is_url(root):  # Written whole: no temporary name is left.
    assert sorted(os.listdir(root)) == ['a', 'b.png']
