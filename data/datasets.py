"""The datasets the pipeline ingests: where their files are, their labels, readers.

One table per dataset, so that the ExampleGen component and
`python -m data.convert` derive everything (input splits, cache fingerprint,
reader, class names) from the same place.

* `people`: a Supervisely project; one input split, cut into train/eval by a
  stable hash of image/filename (see `hash_buckets`).
* `voc`: PASCAL VOC 2012, splits from ImageSets/Segmentation (+ SBD aug).
* `tfrecord`: ready-made TFRecords in the DeepLab format, files
  `train-*` and `eval-*` (or DeepLab's `val-*`); class names from
  `labels.txt` beside them, one per line in id order (data.convert writes it).
"""

import dataclasses
from typing import Dict, List, Optional, Tuple

from data import features
from data import files
from data import ingest
from data import labels
from data import supervisely

PEOPLE = 'people'
VOC = 'voc'
TFRECORD = 'tfrecord'
DATASETS = (PEOPLE, VOC, TFRECORD)

# Fraction of a Supervisely project that goes to eval by default: 10%, the
# share of Supervisely Person's 5,711 images that gives ~570 eval images,
# enough for a stable mIoU, while keeping 90% for training.
DEFAULT_EVAL_FRACTION = 0.1
# Hash buckets of TFX's output split config; the eval fraction is rounded to
# a multiple of 1/HASH_BUCKETS.
HASH_BUCKETS = 1000
LABELS_FILE = 'labels.txt'


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where ExampleGen finds a dataset.

  input_base: the folder every pattern is relative to.
  input_splits: (split name, pattern) pairs; one split named 'all' means the
    output is partitioned by hash, several are output splits as they are.
  fingerprint_patterns: globs whose files' names, sizes and mtimes make the
    cache fingerprint: change an image or a mask and ExampleGen runs again.
  """
  input_base: str
  input_splits: Tuple[Tuple[str, str], ...]
  fingerprint_patterns: Tuple[str, ...]


def _check_dataset(dataset: str) -> None:
  if dataset not in DATASETS:
    raise ValueError(f'dataset={dataset!r}: must be one of {DATASETS}')


def hash_buckets(eval_fraction: float) -> Dict[str, int]:
  """Buckets of {train, eval} for the hash partition of image/filename."""
  eval_buckets = round(eval_fraction * HASH_BUCKETS)
  if not 0 < eval_buckets < HASH_BUCKETS:
    raise ValueError(
        f'eval_fraction={eval_fraction}: must be in [{1 / HASH_BUCKETS}, '
        f'{1 - 1 / HASH_BUCKETS}] so that both train and eval get images')
  return {features.TRAIN_SPLIT: HASH_BUCKETS - eval_buckets,
          features.EVAL_SPLIT: eval_buckets}


def output_hash_buckets(dataset: str, layout_: 'Layout', eval_fraction: float
                        ) -> Optional[List[Tuple[str, int]]]:
  """[(train, n), (eval, m)] when the layout has one input split, else None.

  Several input splits must already be exactly train and eval.
  """
  names = [name for name, _ in layout_.input_splits]
  if len(names) == 1:
    buckets = hash_buckets(eval_fraction)
    return [(features.TRAIN_SPLIT, buckets[features.TRAIN_SPLIT]),
            (features.EVAL_SPLIT, buckets[features.EVAL_SPLIT])]
  if names != [features.TRAIN_SPLIT, features.EVAL_SPLIT]:
    raise ValueError(f'{dataset}: input splits {names}; expected '
                     f'{[features.TRAIN_SPLIT, features.EVAL_SPLIT]}')
  return None


def layout(dataset: str, data_root: str, voc_aug: bool = False) -> Layout:
  """Input base, input splits and fingerprint globs of a dataset on disk."""
  _check_dataset(dataset)
  if dataset == PEOPLE:
    project = supervisely.find_project(data_root)
    return Layout(project, (('all', 'meta.json'),),
                  ('meta.json', '*/img/*', '*/ann/*'))
  if dataset == VOC:
    from data import voc  # pylint: disable=g-import-not-at-top
    return voc.layout(data_root, voc_aug)
  eval_pattern = 'eval-*'
  if not files.exists(data_root) or not files.glob(
      files.join(data_root, eval_pattern)):
    eval_pattern = 'val-*'
  return Layout(data_root, (('train', 'train-*'), ('eval', eval_pattern)),
                ('train-*', eval_pattern))


class SuperviselySource(ingest.Source):
  """Reads a Supervisely project (current or legacy format)."""

  def __init__(self, project_dir: str):
    self._project = project_dir
    self._shapes = supervisely.read_shapes(project_dir)

  def list_keys(self, split_pattern: str):
    del split_pattern  # One input split: the whole project.
    return supervisely.list_items(self._project), {}

  def read(self, key: supervisely.Item):
    return supervisely.read_example(key, self._shapes)


def make_source(dataset: str, input_base: str, voc_aug: bool = False
                ) -> ingest.Source:
  """The reader of a dataset whose files are under `input_base` (see layout)."""
  _check_dataset(dataset)
  if dataset == PEOPLE:
    return SuperviselySource(input_base)
  if dataset == VOC:
    from data import voc  # pylint: disable=g-import-not-at-top
    return voc.VocSource(input_base, voc_aug)
  raise ValueError(f'dataset={dataset!r} is imported as TFRecords as it is; '
                   'it has no reader')


def dataset_labels(dataset: str, data_root: str) -> Tuple[str, ...]:
  """Class names in class-id order.

  people -> labels.PEOPLE_CLASSES, voc -> labels.VOC_CLASSES; tfrecord ->
  the lines of `<data_root>/labels.txt` (required: a TFRecord does not say
  how many classes its masks use).
  """
  _check_dataset(dataset)
  if dataset == PEOPLE:
    return labels.PEOPLE_CLASSES
  if dataset == VOC:
    return labels.VOC_CLASSES
  path = files.join(data_root, LABELS_FILE)
  if not files.exists(path):
    raise FileNotFoundError(
        f'{path}: missing; --dataset tfrecord needs the class names, one per '
        'line in class-id order (data.convert writes this file)')
  names = tuple(line.strip() for line in
                files.read_bytes(path).decode('utf-8').splitlines()
                if line.strip())
  if len(names) < 2 or len(set(names)) != len(names):
    raise ValueError(f'{path}: {len(names)} class names {names}; need at '
                     'least 2, all different')
  return names


def write_labels(output_dir: str, names: Tuple[str, ...]) -> str:
  path = files.join(output_dir, LABELS_FILE)
  files.write_text(path, ''.join(name + '\n' for name in names))
  return path
