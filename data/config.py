"""DataConfig: every dataset setting of a run, typed and validated once.

The runner's and data.convert's flags (data/flags.py) build one DataConfig;
it travels whole from there to the ExampleGen executor (as JSON, `to_json`
and `from_json`), to data.convert and to the readers, which take it in their
constructor. Settings that only one format has live in that format's own
options type (e.g. voc.VocOptions.aug), declared beside its reader and
named in its registry entry (data.datasets).
"""

import dataclasses
import json
from typing import Any, Dict, Tuple

from data import datasets
from data import images
from data import labels as labels_lib
from data.readers import source as source_lib


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What to read and how.

  Attributes:
    format: a name of data.datasets.DATASETS.
    data_root: the dataset's folder (docs/data.md gives each layout).
    labels: the class names in class-id order (the model's classes).
    colors: the labels' RGB colours, when a label file gave them: colour
      masks (masks, cvat) decode through them. Empty or one per label.
    class_map: (source class name, label name) pairs: renames or merges a
      dataset's classes into `labels`; others keep their name, and a name
      the label set does not hold is background.
    eval_fraction: share of a dataset without split lists hashed into eval.
    skip_bad_examples: skip and count bad inputs instead of failing.
    max_image_pixels: images, masks and annotations of more pixels are bad
      examples (image_too_large), refused before anything is decoded or
      allocated.
    options: the format's own settings, of its registry entry's `options`
      type (None: its defaults).
  """

  format: str
  data_root: str
  labels: Tuple[str, ...]
  colors: Tuple[labels_lib.Color, ...] = ()
  class_map: Tuple[Tuple[str, str], ...] = ()
  eval_fraction: float = source_lib.DEFAULT_EVAL_FRACTION
  skip_bad_examples: bool = False
  max_image_pixels: int = images.DEFAULT_MAX_IMAGE_PIXELS
  options: Any = None

  def __post_init__(self):
    dataset = datasets.get(self.format)
    if self.options is None:
      object.__setattr__(self, 'options', dataset.options())
    if type(self.options) is not dataset.options:
      raise ValueError(
        f'format={self.format}: options {self.options!r} must be '
        f'{dataset.options.__name__}'
      )
    where = f'format={self.format}'
    object.__setattr__(
      self, 'labels', labels_lib.check_labels(self.labels, f'{where} labels')
    )
    object.__setattr__(
      self, 'colors', tuple(tuple(int(v) for v in c) for c in self.colors)
    )
    if self.colors and len(self.colors) != len(self.labels):
      raise ValueError(
        f'{where}: {len(self.colors)} colours for {len(self.labels)} labels'
      )
    object.__setattr__(
      self,
      'class_map',
      labels_lib.check_class_map(self.class_map, self.labels, 'class_map'),
    )
    source_lib.check_eval_fraction(self.eval_fraction)
    if not (
      isinstance(self.max_image_pixels, int)
      and 1 <= self.max_image_pixels <= 1 << 31
    ):
      raise ValueError(
        f'max_image_pixels={self.max_image_pixels}: must be in [1, 2**31]'
      )
    if dataset.generate:
      # A generated dataset's size is known: refuse a split that would be
      # empty now rather than after generating and ingesting it.
      count = self.options.images
      if not (
        count * self.eval_fraction >= 1
        and count * (1 - self.eval_fraction) >= 1
      ):
        raise ValueError(
          f'eval_fraction={self.eval_fraction} of {self.format}_images='
          f'{count} leaves a split without images'
        )

  @property
  def dataset(self) -> datasets.Dataset:
    """The registry entry of the format."""
    return datasets.get(self.format)

  def class_ids(self, source_names) -> Dict[str, int]:
    """Source class name -> class id, through class_map (labels.class_ids)."""
    return labels_lib.class_ids(source_names, self.labels, dict(self.class_map))

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'DataConfig':
    """The config `to_json` wrote, validated again."""
    fields = json.loads(text)
    options_type = datasets.get(fields['format']).options
    return cls(
      **dict(
        fields,
        labels=tuple(fields['labels']),
        colors=tuple(tuple(c) for c in fields['colors']),
        class_map=tuple(tuple(p) for p in fields['class_map']),
        options=options_type(**fields['options']),
      )
    )


def build(
  fmt: str,
  data_root: str,
  labels: str = '',
  class_map: str = '',
  **fields: Any,
) -> DataConfig:
  """The DataConfig of the flags' values: --labels and --class_map resolved.

  Args:
    fmt: --format.
    data_root: --data_root.
    labels: --labels: a name of labels.NAMED or a label file; empty: the
      format's own label set (registry `labels`).
    class_map: --class_map: a JSON file, or empty.
    **fields: the other DataConfig fields.
  """
  dataset = datasets.get(fmt)
  names, colors = (
    labels_lib.resolve(labels) if labels else dataset.labels(data_root)
  )
  return DataConfig(
    format=fmt,
    data_root=data_root,
    labels=names,
    colors=colors,
    class_map=labels_lib.read_class_map(class_map) if class_map else (),
    **fields,
  )
