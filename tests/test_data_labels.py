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


def test_a_cvat_labelmap_gives_names_and_colours(tmp_path):
  path = tmp_path / 'labelmap.txt'
  path.write_text(
    '# label:color_rgb:parts:actions\n'
    'background:0,0,0::\nperson:250,50,83::\ntraffic light:1,2,3::\n'
  )
  assert labels.read_label_file(str(path)) == (
    ('background', 'person', 'traffic light'),
    ((0, 0, 0), (250, 50, 83), (1, 2, 3)),
  )
  plain = tmp_path / 'labels.txt'
  plain.write_text('background\nperson\n')
  assert labels.read_label_file(str(plain)) == (labels.PEOPLE_CLASSES, ())
  assert labels.resolve('voc') == (labels.VOC_CLASSES, ())


@pytest.mark.parametrize(
  'content,message',
  [
    ('a:0,0,0::\nb:0,0,0::\n', r'colours \[\(0, 0, 0\)\] belong to more'),
    ('a:0,0,0::\nb:1,2::\n', "labelmap.txt:2: colour '1,2': expected r,g,b"),
    ('a:0,0,0::\nb:1,2,300::\n', 'values must be 0 to 255'),
  ],
)
def test_a_broken_labelmap_is_refused_naming_the_line(
  tmp_path, content, message
):
  path = tmp_path / 'labelmap.txt'
  path.write_text(content)
  with pytest.raises(ValueError, match=message):
    labels.read_label_file(str(path))


def test_class_maps_are_json_objects_of_names(tmp_path):
  path = tmp_path / 'map.json'
  path.write_text('["man", "person"]')
  with pytest.raises(ValueError, match='a class map is a JSON object'):
    labels.read_class_map(str(path))
  assert labels.class_ids(
    ['man', 'cat'], ('bg', 'person'), {'man': 'person'}
  ) == {
    'man': 1,
    'cat': 0,
  }
