"""data.datasets: the registry every entry point reads."""

import os

import pytest

from data import config as data_config
from data import datasets
from data import labels
from data.readers import coco
from data.readers import cvat
from data.readers import deeplab
from data.readers import masks
from data.readers import source
from data.readers import supervisely
from data.readers import voc


def test_each_entry_names_its_reader_labels_and_preset():
  people, demo = datasets.get('people'), datasets.get('demo')
  assert people.source is supervisely.SuperviselySource
  assert demo.source is supervisely.SuperviselySource  # Same format.
  assert demo.generate is not None and people.generate is None
  assert people.labels('x') == (labels.PEOPLE_CLASSES, ())
  assert demo.labels('x') == (labels.PEOPLE_CLASSES, ())
  assert (demo.preset, people.preset) == ('demo', 'people')
  assert datasets.get('voc').source is voc.VocSource
  assert datasets.get('voc').labels('x') == (labels.VOC_CLASSES, ())
  assert datasets.get('voc').options is voc.VocOptions
  assert datasets.get('tfrecord').source is deeplab.RecordSource
  assert datasets.get('coco').source is coco.CocoSource
  assert datasets.get('masks').source is masks.MaskFolderSource
  assert datasets.get('cvat').source is cvat.CvatSource
  with pytest.raises(ValueError, match="format='ade20k'"):
    datasets.get('ade20k')


def test_convert_formats_are_every_format_but_the_generated_one():
  assert datasets.CONVERT_FORMATS == (
    'people',
    'voc',
    'coco',
    'masks',
    'cvat',
    'tfrecord',
  )


def test_records_train_with_the_preset_their_labels_call_for(tmp_path):
  records = datasets.get('tfrecord')
  assert datasets.default_preset(records, labels.VOC_CLASSES) == 'voc'
  assert datasets.default_preset(records, ('bg', 'cat')) == 'people'
  # A dataset with its own preset keeps it whatever its labels.
  assert datasets.default_preset(datasets.get('voc'), ('a', 'b')) == 'voc'
  assert datasets.default_preset(datasets.get('coco'), ('a', 'b')) == 'people'


def test_tfrecord_labels_come_from_labels_txt(tmp_path):
  records = datasets.get('tfrecord')
  with pytest.raises(FileNotFoundError) as error:
    records.labels(str(tmp_path))
  assert 'labels.txt: missing' in str(error.value)
  assert '--labels people|voc|PATH' in str(error.value)
  labels.write_labels(
    str(tmp_path / labels.LABELS_FILE), ('background', 'cat', 'dog')
  )
  assert records.labels(str(tmp_path)) == (('background', 'cat', 'dog'), ())


def test_coco_needs_a_label_set():
  with pytest.raises(ValueError) as error:
    datasets.get('coco').labels('x')
  assert str(error.value) == (
    'x: --format coco needs --labels: people, voc (COCO-to-VOC names), or '
    'a label file naming the COCO categories to train on'
  )


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
  config = data_config.DataConfig('tfrecord', root, labels.PEOPLE_CLASSES)
  assert deeplab.layout(config) == source.Layout(
    root, (('train', train), ('eval', eval_)), (train, eval_)
  )


def test_tfrecord_layout_without_a_split_names_the_accepted_names(tmp_path):
  open(tmp_path / 'test-00000-of-00001.tfrecord', 'w').close()
  with pytest.raises(FileNotFoundError) as error:
    deeplab.layout(
      data_config.DataConfig('tfrecord', str(tmp_path), labels.PEOPLE_CLASSES)
    )
  assert str(error.value) == (
    f'{tmp_path}: no train records: expected files named train_aug-* or '
    'train-* or trainval-* (DeepLab writes '
    '<split>-00000-of-0000N.tfrecord)'
  )
