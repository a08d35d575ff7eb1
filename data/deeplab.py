"""DeepLab-format TFRecords as a dataset: which files are which split.

tensorflow/models research/deeplab writes `<split>-<shard>-of-<n>.tfrecord`
files of tf.Examples with the keys of data/features.py; data.convert writes
`train-*` and `eval-*`. Records say nothing about the class names, so the
folder also needs `labels.txt` (data/labels.py).
"""

from typing import Tuple

from data import features
from data import files
from data import ingest
from data import labels


def layout(data_root: str, voc_aug: bool = False) -> ingest.Layout:
  """train-* and eval-* (or DeepLab's val-*), imported as they are."""
  del voc_aug  # VOC only; the registry refuses it for other datasets.
  eval_pattern = 'eval-*'
  if not files.exists(data_root) or not files.glob(
    files.join(data_root, eval_pattern)
  ):
    eval_pattern = 'val-*'
  return ingest.Layout(
    data_root,
    ((features.TRAIN_SPLIT, 'train-*'), (features.EVAL_SPLIT, eval_pattern)),
    ('train-*', eval_pattern),
  )


def read_labels(data_root: str) -> Tuple[str, ...]:
  """The class names in `<data_root>/labels.txt`, required beside records."""
  path = files.join(data_root, labels.LABELS_FILE)
  if not files.exists(path):
    raise FileNotFoundError(
      f'{path}: missing; DeepLab TFRecords need the class names beside '
      'them, one per line in class-id order (data.convert writes this '
      'file for the records it makes)'
    )
  return labels.read_labels(path)
