"""The formats the pipeline ingests, as one table.

Each entry says where a dataset's files are (its layout), how a file becomes
an example (its reader), its own label set, its own options type, and the
recipe it trains with by default. The runner's and data.convert's --format,
data.config.DataConfig and the ExampleGen executor all read this table, so
adding a format is one reader module in data/readers/ plus one entry here
(docs/data.md, "Adding a dataset").
"""

import dataclasses
from typing import Any, Callable, Dict, Optional, Tuple

from data import demo
from data import labels as labels_lib
from data.readers import coco
from data.readers import cvat
from data.readers import deeplab
from data.readers import masks
from data.readers import source
from data.readers import supervisely
from data.readers import voc

LabelSet = Tuple[Tuple[str, ...], Tuple[labels_lib.Color, ...]]


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One format the pipeline can ingest.

  Attributes:
    name: the value of --format.
    description: one line for --help.
    layout: data.config.DataConfig -> source.Layout; raises when the folder
      does not hold this format.
    source: (input_base, DataConfig) -> the source.Source that reads it.
    labels: data_root -> (names, colours): the label set without --labels.
    preset: name of the recipe it trains with by default (pipeline.config
      PRESETS); None: chosen from its class names (see `default_preset`).
    options: the type of the format's own settings (DataConfig.options);
      each field is a flag named `<format>_<field>` (data/flags.py).
    generate: for a dataset that ships as code (the demo): (folder,
      options) -> the folder, written or reused.
  """

  name: str
  description: str
  layout: Callable[[Any], source.Layout]
  source: Callable[[str, Any], source.Source]
  labels: Callable[[str], LabelSet]
  preset: Optional[str]
  options: type = source.NoOptions
  generate: Optional[Callable[[str, Any], str]] = None


def _fixed(names: Tuple[str, ...]) -> Callable[[str], LabelSet]:
  return lambda data_root: (names, ())


DATASETS: Dict[str, Dataset] = {
  d.name: d
  for d in (
    Dataset(
      name='demo',
      description='the embedded synthetic people dataset (Supervisely '
      'format, generated into <output_dir>/demo_data)',
      layout=supervisely.layout,
      source=supervisely.SuperviselySource,
      labels=_fixed(labels_lib.PEOPLE_CLASSES),
      preset='demo',
      options=demo.DemoOptions,
      generate=demo.generate,
    ),
    Dataset(
      name='people',
      description='a Supervisely (Person) project',
      layout=supervisely.layout,
      source=supervisely.SuperviselySource,
      labels=_fixed(labels_lib.PEOPLE_CLASSES),
      preset='people',
    ),
    Dataset(
      name='voc',
      description='PASCAL VOC 2012 (+ SBD with --voc_aug)',
      layout=voc.layout,
      source=voc.VocSource,
      labels=_fixed(labels_lib.VOC_CLASSES),
      preset='voc',
      options=voc.VocOptions,
    ),
    Dataset(
      name='coco',
      description='COCO instances JSON (annotations/instances_<split>.json '
      '+ <split>/ images); needs --labels',
      layout=coco.layout,
      source=coco.CocoSource,
      labels=coco.default_labels,
      preset=None,
    ),
    Dataset(
      name='masks',
      description='image and mask folders: {train,val}/{images,masks}/ '
      'with labels.txt',
      layout=masks.layout,
      source=masks.MaskFolderSource,
      labels=masks.default_labels,
      preset=None,
    ),
    Dataset(
      name='cvat',
      description='a CVAT "Segmentation mask 1.1" export',
      layout=cvat.layout,
      source=cvat.CvatSource,
      labels=cvat.default_labels,
      preset=None,
    ),
    Dataset(
      name='tfrecord',
      description="DeepLab-format TFRecords (DeepLab's own or data.convert's), "
      'with a labels.txt or --labels',
      layout=deeplab.layout,
      source=deeplab.RecordSource,
      labels=deeplab.default_labels,
      preset=None,
    ),
  )
}

# What data.convert reads: every format that is not generated.
CONVERT_FORMATS = tuple(name for name, d in DATASETS.items() if not d.generate)


def get(name: str) -> Dataset:
  """The registry entry of `name`; ValueError listing the known ones."""
  if name not in DATASETS:
    raise ValueError(f'format={name!r}: must be one of {tuple(DATASETS)}')
  return DATASETS[name]


def default_preset(dataset: Dataset, names: Tuple[str, ...]) -> str:
  """The dataset's own preset, or the one its label set calls for.

  The 21 VOC classes train with the VOC recipe (and its gate); any other
  label set with the people recipe.
  """
  if dataset.preset:
    return dataset.preset
  return 'voc' if tuple(names) == labels_lib.VOC_CLASSES else 'people'
