"""The datasets the pipeline ingests, as one table.

Each entry says where a dataset's files are (its layout), how a file becomes
an example (its reader), its class names, the recipe it trains with by
default and the `data.convert --format` names that convert it. The runner's
`--dataset` choices, the ExampleGen executor and `python -m data.convert`
all read this table, so adding a dataset is one entry here plus one reader
module (docs/data.md, "Adding a dataset").
"""

import dataclasses
from typing import Callable, Dict, Optional, Tuple

from data import deeplab
from data import demo
from data import ingest
from data import labels
from data import supervisely
from data import voc


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One dataset the pipeline can ingest.

  Attributes:
    name: the value of --dataset.
    description: one line for --help.
    layout: (data_root, voc_aug) -> ingest.Layout; raises when the folder
      does not hold this dataset.
    source: (input_base, ingest.ReadOptions) -> the ingest.Source that reads
      it.
    labels: (data_root, choice) -> class names in class-id order; choice is
      --labels, which only datasets with `labels_choice` accept.
    preset: name of the recipe it trains with by default (pipeline.config
      PRESETS); None: chosen from its class names (see `default_preset`).
    convert_formats: {data.convert --format name: voc_aug}.
    generate: for a dataset that ships as code (the demo): (folder, number
      of images) -> the folder, written or reused.
    voc_aug: whether --voc_aug means something for it.
    labels_choice: whether --labels may give its label set (its files do
      not fix one).
  """

  name: str
  description: str
  layout: Callable[[str, bool], ingest.Layout]
  source: Callable[[str, ingest.ReadOptions], ingest.Source]
  labels: Callable[[str, str], Tuple[str, ...]]
  preset: Optional[str]
  convert_formats: Dict[str, bool] = dataclasses.field(default_factory=dict)
  generate: Optional[Callable[[str, int], str]] = None
  voc_aug: bool = False
  labels_choice: bool = False


def _fixed(names: Tuple[str, ...]) -> Callable[[str, str], Tuple[str, ...]]:
  return lambda data_root, choice: names


DATASETS: Dict[str, Dataset] = {
  d.name: d
  for d in (
    Dataset(
      name='demo',
      description='the embedded synthetic people dataset (Supervisely '
      'format, generated into <output_dir>/demo_data)',
      layout=supervisely.layout,
      source=supervisely.SuperviselySource,
      labels=_fixed(labels.PEOPLE_CLASSES),
      preset='demo',
      generate=demo.generate_demo_project,
    ),
    Dataset(
      name='people',
      description='a Supervisely Person project',
      layout=supervisely.layout,
      source=supervisely.SuperviselySource,
      labels=_fixed(labels.PEOPLE_CLASSES),
      preset='people',
      convert_formats={'people': False},
    ),
    Dataset(
      name='voc',
      description='PASCAL VOC 2012 (+ SBD with --voc_aug)',
      layout=voc.layout,
      source=voc.VocSource,
      labels=_fixed(labels.VOC_CLASSES),
      preset='voc',
      convert_formats={'voc': False, 'voc_aug': True},
      voc_aug=True,
    ),
    Dataset(
      name='tfrecord',
      description="DeepLab-format TFRecords (DeepLab's own or data.convert's), "
      'with a labels.txt or --labels',
      layout=deeplab.layout,
      source=deeplab.RecordSource,
      labels=deeplab.read_labels,
      preset=None,
      convert_formats={'tfrecord': False},
      labels_choice=True,
    ),
  )
}

# data.convert --format name -> (dataset, voc_aug).
CONVERT_FORMATS: Dict[str, Tuple[Dataset, bool]] = {
  fmt: (dataset, voc_aug)
  for dataset in DATASETS.values()
  for fmt, voc_aug in dataset.convert_formats.items()
}


def get(name: str) -> Dataset:
  """The registry entry of `name`; ValueError listing the known ones."""
  if name not in DATASETS:
    raise ValueError(f'dataset={name!r}: must be one of {tuple(DATASETS)}')
  return DATASETS[name]


def layout(name: str, data_root: str, voc_aug: bool = False) -> ingest.Layout:
  """The layout of dataset `name` under data_root (checks voc_aug applies)."""
  dataset = get(name)
  if voc_aug and not dataset.voc_aug:
    raise ValueError(f'voc_aug=True needs dataset=voc, got {name!r}')
  return dataset.layout(data_root, voc_aug)


def label_set(
  dataset: Dataset, data_root: str, choice: Optional[str] = None
) -> Tuple[str, ...]:
  """The class names a run of `dataset` uses; `choice` is --labels."""
  if choice and not dataset.labels_choice:
    raise ValueError(
      f'--labels={choice}: --dataset={dataset.name} has its own label set; '
      '--labels is for records'
    )
  return dataset.labels(data_root, choice or '')


def default_preset(dataset: Dataset, names: Tuple[str, ...]) -> str:
  """The dataset's own preset, or for records the one their labels call for.

  DeepLab records of the 21 VOC classes train with the VOC recipe (and its
  gate); any other label set with the people recipe.
  """
  if dataset.preset:
    return dataset.preset
  return 'voc' if tuple(names) == labels.VOC_CLASSES else 'people'
