"""data.config: one DataConfig, validated once, the same after its JSON trip."""

import json

import pytest

from data import config as data_config
from data import demo
from data import labels
from data.readers import source
from data.readers import voc


def test_json_round_trip_keeps_every_field_and_the_options_type():
  config = data_config.DataConfig(
    'voc',
    '/d',
    labels.VOC_CLASSES,
    class_map=(('man', 'person'),),
    eval_fraction=0.2,
    skip_bad_examples=True,
    max_image_pixels=1000,
    options=voc.VocOptions(aug=True),
  )
  again = data_config.DataConfig.from_json(config.to_json())
  assert again == config
  assert isinstance(again.options, voc.VocOptions) and again.options.aug
  assert json.loads(config.to_json())['options'] == {'aug': True}


def test_options_default_to_the_formats_own_type():
  assert data_config.DataConfig('people', '/d', ('a', 'b')).options == (
    source.NoOptions()
  )
  assert data_config.DataConfig('demo', '/d', ('a', 'b')).options == (
    demo.DemoOptions()
  )


@pytest.mark.parametrize(
  'fields,message',
  [
    ({'format': 'ade20k'}, "format='ade20k'"),
    ({'labels': ('background',)}, '1 class names'),
    ({'class_map': (('dog', 'cat'),)}, r"maps to \['cat'\]"),
    ({'colors': ((0, 0, 0),)}, '1 colours for 2 labels'),
    ({'eval_fraction': 0.0}, 'eval_fraction=0.0'),
    ({'max_image_pixels': 0}, 'max_image_pixels=0'),
    ({'options': voc.VocOptions()}, 'must be NoOptions'),
  ],
  # Plain ids: an id holding a regex's backslashes is not found again when
  # mutmut's workers pass it back to pytest (exit 4, "not found").
  ids=[
    'format',
    'labels',
    'class_map',
    'colors',
    'eval_fraction',
    'max_image_pixels',
    'options',
  ],
)
def test_each_rule_is_checked_once_where_it_is_built(fields, message):
  values = dict(format='people', data_root='/d', labels=('bg', 'person'))
  values.update(fields)
  with pytest.raises(ValueError, match=message):
    data_config.DataConfig(**values)


def test_a_demo_split_that_would_be_empty_is_refused():
  with pytest.raises(ValueError, match='leaves a split without images'):
    data_config.DataConfig(
      'demo',
      '/d',
      labels.PEOPLE_CLASSES,
      eval_fraction=0.05,
      options=demo.DemoOptions(images=10),
    )


def test_build_resolves_labels_colours_and_class_map(tmp_path):
  labelmap = tmp_path / 'labelmap.txt'
  labelmap.write_text(
    '# label:color_rgb:parts:actions\nbackground:0,0,0::\nperson:250,50,83::\n'
  )
  class_map = tmp_path / 'map.json'
  class_map.write_text('{"man": "person", "woman": "person"}')
  config = data_config.build(
    'people', '/d', labels=str(labelmap), class_map=str(class_map)
  )
  assert config.labels == ('background', 'person')
  assert config.colors == ((0, 0, 0), (250, 50, 83))
  assert config.class_map == (('man', 'person'), ('woman', 'person'))
  assert config.class_ids(['man', 'woman', 'dog', 'person']) == {
    'man': 1,
    'woman': 1,
    'dog': 0,
    'person': 1,
  }
  assert data_config.build('voc', '/d').labels == labels.VOC_CLASSES
