"""data.labels: the one labels.txt reader and writer, and its rules."""

import pytest

from data import labels


def test_write_then_read_round_trips(tmp_path):
  path = str(tmp_path / 'sub' / 'labels.txt')
  names = ('background', 'traffic light', 'café')
  assert labels.write_labels(path, names) == path
  with open(path, 'rb') as f:
    assert f.read() == 'background\ntraffic light\ncafé\n'.encode()
  assert labels.read_labels(path) == names


@pytest.mark.parametrize(
  'content,names',
  [
    (b'\xef\xbb\xbfbackground\nperson\n', ('background', 'person')),  # BOM
    (b'background\r\nperson', ('background', 'person')),  # CRLF, no final
    (b'background\nperson\n\n\n', ('background', 'person')),
  ],
)
def test_read_tolerates_editor_artefacts(tmp_path, content, names):
  path = tmp_path / 'labels.txt'
  path.write_bytes(content)
  assert labels.read_labels(str(path)) == names


@pytest.mark.parametrize(
  'content,message',
  [
    (b'background\n', '1 class names; need 2'),
    (b'background\n\nperson\n', "class 1 is ''"),
    (b'background\n person\n', "class 1 is ' person'"),
    (b'background\nperson\nperson\n', "['person'] appear more than once"),
    (b'background\ncaf\xe9\n', 'not UTF-8'),
  ],
)
def test_read_refuses_unusable_files_naming_them(tmp_path, content, message):
  path = tmp_path / 'labels.txt'
  path.write_bytes(content)
  with pytest.raises(ValueError) as error:
    labels.read_labels(str(path))
  assert message in str(error.value)
  assert str(path) in str(error.value)


def test_missing_file_and_bad_writes(tmp_path):
  with pytest.raises(FileNotFoundError, match='no such labels file'):
    labels.read_labels(str(tmp_path / 'labels.txt'))
  with pytest.raises(ValueError, match='appear more than once'):
    labels.write_labels(str(tmp_path / 'labels.txt'), ('a', 'b', 'a'))
  assert not (tmp_path / 'labels.txt').exists()


def test_built_in_sets_pass_the_rules():
  assert labels.check_labels(labels.VOC_CLASSES, 'voc') == labels.VOC_CLASSES
  assert len(labels.VOC_CLASSES) == 21
  assert labels.check_labels(labels.PEOPLE_CLASSES, 'people')
