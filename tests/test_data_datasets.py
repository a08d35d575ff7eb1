"""data.datasets: the registry every entry point reads."""

import os

import pytest

from data import datasets
from data import deeplab
from data import ingest
from data import labels
from data import supervisely
from data import voc


def test_each_entry_names_its_reader_labels_and_preset():
  people, demo = datasets.get('people'), datasets.get('demo')
  assert people.source is supervisely.SuperviselySource
  assert demo.source is supervisely.SuperviselySource  # Same format.
  assert demo.generate is not None and people.generate is None
  assert datasets.label_set(people, 'x') == labels.PEOPLE_CLASSES
  assert datasets.label_set(demo, 'x') == labels.PEOPLE_CLASSES
  assert (demo.preset, people.preset) == ('demo', 'people')
  assert datasets.get('voc').source is voc.VocSource
  assert datasets.label_set(datasets.get('voc'), 'x') == labels.VOC_CLASSES
  assert datasets.get('tfrecord').source is deeplab.RecordSource
  with pytest.raises(ValueError, match="dataset='coco'"):
    datasets.get('coco')


def test_convert_formats_come_from_the_entries():
  assert {
    fmt: (d.name, aug) for fmt, (d, aug) in datasets.CONVERT_FORMATS.items()
  } == {
    'people': ('people', False),
    'voc': ('voc', False),
    'voc_aug': ('voc', True),
    'tfrecord': ('tfrecord', False),
  }


def test_voc_aug_applies_to_voc_only(tmp_path):
  with pytest.raises(ValueError, match='voc_aug=True needs dataset=voc'):
    datasets.layout('people', str(tmp_path), voc_aug=True)


def test_records_train_with_the_preset_their_labels_call_for(tmp_path):
  records = datasets.get('tfrecord')
  assert datasets.default_preset(records, labels.VOC_CLASSES) == 'voc'
  assert datasets.default_preset(records, ('bg', 'cat')) == 'people'
  # A dataset with its own preset keeps it whatever its labels.
  assert datasets.default_preset(datasets.get('voc'), ('a', 'b')) == 'voc'


def test_tfrecord_labels_come_from_labels_txt_or_the_labels_flag(tmp_path):
  records = datasets.get('tfrecord')
  with pytest.raises(FileNotFoundError) as error:
    datasets.label_set(records, str(tmp_path))
  assert 'labels.txt: missing' in str(error.value)
  assert '--labels voc|people|PATH' in str(error.value)
  assert datasets.label_set(records, str(tmp_path), 'voc') == labels.VOC_CLASSES
  labels.write_labels(
    str(tmp_path / labels.LABELS_FILE), ('background', 'cat', 'dog')
  )
  assert datasets.label_set(records, str(tmp_path)) == (
    'background',
    'cat',
    'dog',
  )
  assert datasets.label_set(
    records, 'x', str(tmp_path / labels.LABELS_FILE)
  ) == ('background', 'cat', 'dog')
  with pytest.raises(ValueError, match='--dataset=voc has its own label set'):
    datasets.label_set(datasets.get('voc'), 'x', 'people')


@pytest.mark.parametrize(
  'names,train,eval_',
  [
    (['train', 'val'], 'train-*', 'val-*'),
    (['train', 'train_aug', 'trainval', 'val'], 'train_aug-*', 'val-*'),
    (['trainval', 'val'], 'trainval-*', 'val-*'),
    (['train', 'eval', 'val'], 'train-*', 'eval-*'),
  ],
)
def test_tfrecord_layout_takes_deeplabs_split_names(
  tmp_path, names, train, eval_
):
  root = str(tmp_path)
  for name in names:
    open(os.path.join(root, f'{name}-00000-of-00001.tfrecord'), 'w').close()
  assert deeplab.layout(root) == ingest.Layout(
    root, (('train', train), ('eval', eval_)), (train, eval_)
  )


def test_tfrecord_layout_without_a_split_names_the_accepted_names(tmp_path):
  open(tmp_path / 'test-00000-of-00001.tfrecord', 'w').close()
  with pytest.raises(FileNotFoundError) as error:
    deeplab.layout(str(tmp_path))
  assert (
    'no train records: expected files named train_aug-* or train-* or '
    'trainval-*' in str(error.value)
  )
