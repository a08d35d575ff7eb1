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
  assert people.labels('x') == demo.labels('x') == labels.PEOPLE_CLASSES
  assert (demo.preset, people.preset) == ('demo', 'people')
  assert datasets.get('voc').source is voc.VocSource
  assert datasets.get('voc').labels('x') == labels.VOC_CLASSES
  assert datasets.get('tfrecord').source is None  # Imported as it is.
  with pytest.raises(ValueError, match="dataset='coco'"):
    datasets.get('coco')


def test_convert_formats_come_from_the_entries():
  assert {
    fmt: (d.name, aug) for fmt, (d, aug) in datasets.CONVERT_FORMATS.items()
  } == {
    'people': ('people', False),
    'voc': ('voc', False),
    'voc_aug': ('voc', True),
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


def test_tfrecord_labels_come_from_labels_txt(tmp_path):
  with pytest.raises(FileNotFoundError, match='labels.txt: missing'):
    datasets.get('tfrecord').labels(str(tmp_path))
  labels.write_labels(
    str(tmp_path / labels.LABELS_FILE), ('background', 'cat', 'dog')
  )
  assert datasets.get('tfrecord').labels(str(tmp_path)) == (
    'background',
    'cat',
    'dog',
  )


def test_tfrecord_layout_takes_eval_or_deeplabs_val(tmp_path):
  root = str(tmp_path)
  for name in ('train-00000-of-00001', 'val-00000-of-00001'):
    open(os.path.join(root, name), 'w').close()
  assert deeplab.layout(root) == ingest.Layout(
    root, (('train', 'train-*'), ('eval', 'val-*')), ('train-*', 'val-*')
  )
  open(os.path.join(root, 'eval-00000-of-00001'), 'w').close()
  assert deeplab.layout(root).input_splits[1] == ('eval', 'eval-*')
