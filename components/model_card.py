"""model_card.md: what a pushed version is, how good it is, where it fails.

Written by MobilePusher into every version it publishes, from the run's own
artifacts only (no number kept by hand): the ModelConfig stored beside the
SavedModel, the model's parameters and multiply-adds (model.profile), the
files' sizes, StatisticsGen's example counts and sources, the Evaluator's
scores overall and per slice (components.evaluation) and TFLiteExport's
scores of each TFLite file.

A template of our own, not model-card-toolkit: the toolkit's last release
(2.0.0) pins tensorflow-model-analysis < 0.42 and cannot be installed beside
this project's TFX 1.16 stack (docs/dependencies.md). The sections follow
Mitchell et al. 2019, "Model Cards for Model Reporting", as MediaPipe's own
model cards do: model details, data, training, metrics (overall, per class,
per slice), intended use, limitations.
"""

import dataclasses
from typing import Dict, List, Optional

from components import artifacts
from components import evaluation
from data import features
from model import metrics
from model.config import ModelConfig

# How many of the worst slices and classes the limitations name.
WORST = 3


@dataclasses.dataclass(frozen=True)
class ModelCardFacts:
  """Everything the card says, read from the run's artifacts."""

  version: str
  dataset: str
  model: ModelConfig
  params: int
  madds: int
  file_bytes: Dict[str, int]  # Published file name -> size.
  labels: List[str]
  num_examples: Dict[str, int]  # Split -> examples.
  sources: Dict[str, Dict[str, int]]  # Split -> source -> examples.
  train: Dict  # dataclasses.asdict(TrainConfig).
  metrics: Optional[metrics.Scores]
  metrics_by_slice: Dict[str, Dict[str, evaluation.SliceScores]]
  metrics_tflite: Dict[str, Optional[metrics.Scores]]


def render(facts: ModelCardFacts) -> str:
  """The card as Markdown."""
  sections = [
    f'# Model card: mobile DeepLab, version {facts.version}',
    _model(facts),
    _data(facts),
    _recipe(facts.train),
    _metrics(facts),
    _usage(facts),
    _limitations(facts),
  ]
  return '\n\n'.join(sections) + '\n'


def _model(facts: ModelCardFacts) -> str:
  config = facts.model
  head = (
    'LR-ASPP (MobileNetV3 paper, section 6.4)'
    if config.head == 'lraspp'
    else 'DeepLabV3+ ('
    + ', '.join(
      ['ASPP' if config.aspp else '1x1 conv instead of ASPP']
      + ['decoder' if config.decoder else 'no decoder']
    )
    + ')'
  )
  rows = [
    ('backbone', f'{config.backbone} x{config.depth_multiplier}'),
    ('head', head),
    ('output stride', str(config.output_stride)),
    ('input', f'{config.input_size} x {config.input_size} RGB, uint8'),
    ('classes', str(config.num_classes)),
    ('parameters', f'{facts.params:,}'),
    ('multiply-adds per image', f'{facts.madds / 1e6:,.1f} M'),
  ]
  rows += [
    (f'`{name}`', f'{size / 1024:,.1f} KB')
    for name, size in facts.file_bytes.items()
  ]
  return '## Model\n\n' + _table(('', ''), rows)


def _data(facts: ModelCardFacts) -> str:
  lines = [
    '## Data',
    '',
    f'Dataset format: `{facts.dataset}`. Labels (class id: name): '
    + ', '.join(f'{i}: {name}' for i, name in enumerate(facts.labels))
    + f'; pixels labelled {features.IGNORE_LABEL} are void and count in no '
    'score.',
    '',
  ]
  rows = []
  for split, count in sorted(facts.num_examples.items()):
    sources = facts.sources.get(split, {})
    rows.append(
      (
        split,
        str(count),
        ', '.join(f'{name} ({n})' for name, n in sorted(sources.items()))
        or 'not recorded',
      )
    )
  lines.append(_table(('split', 'examples', 'sources (examples)'), rows))
  return '\n'.join(lines)


def _recipe(train: Dict) -> str:
  if train.get('augment'):
    augmentation = (
      f'random scale {train["min_scale"]} to {train["max_scale"]}, random '
      'crop, horizontal flip'
    )
  else:
    augmentation = 'none'
  rows = [
    ('steps', str(train['train_steps'])),
    ('batch', str(train['batch_size'])),
    (
      'learning rate',
      f'{train["base_lr"]} ({train["optimizer"]}, poly schedule, power '
      f'{train["lr_power"]})',
    ),
    ('weight decay', str(train['weight_decay'])),
    ('augmentation', augmentation),
  ]
  return '## Training recipe\n\n' + _table(('', ''), rows)


def _metrics(facts: ModelCardFacts) -> str:
  lines = [
    '## Metrics',
    '',
    'On the eval split, each image scored at its original resolution. IoU: '
    'one confusion matrix over the split (PASCAL VOC). Boundary IoU: Cheng '
    'et al., CVPR 2021, the band 2% of the image diagonal wide. "n/a": the '
    'score does not exist (see Limitations).',
    '',
  ]
  scores = facts.metrics
  if scores is None:
    lines.append('The Evaluator wrote no scores for this model.')
    return '\n'.join(lines)
  rows = [('SavedModel', _fmt(scores.mean_iou), _fmt(scores.mean_boundary_iou))]
  for kind, filename in artifacts.TFLITE_FILES.items():
    tflite = facts.metrics_tflite.get(kind)
    rows.append(
      (
        f'`{filename}`',
        _fmt(tflite.mean_iou if tflite else None),
        _fmt(tflite.mean_boundary_iou if tflite else None),
      )
    )
  lines += [_table(('model', 'mean IoU', 'mean boundary IoU'), rows), '']
  rows = [
    (
      name,
      _fmt(scores.per_class_iou[name]),
      _fmt(scores.per_class_boundary_iou[name]),
      str(scores.label_pixels[name]),
    )
    for name in facts.labels
  ]
  lines += [
    'Per class (SavedModel):',
    '',
    _table(('class', 'IoU', 'boundary IoU', 'labelled pixels'), rows),
    '',
  ]
  rows = [
    (
      f'{key} = {name}',
      str(value.num_examples),
      _fmt(value.mean_iou),
      _fmt(value.mean_boundary_iou),
    )
    for key, slices in facts.metrics_by_slice.items()
    for name, value in slices.items()
  ]
  lines += [
    'Per slice (SavedModel; `foreground_fraction` is the share of labelled '
    'pixels that are not class 0):',
    '',
    _table(('slice', 'examples', 'mean IoU', 'mean boundary IoU'), rows),
  ]
  return '\n'.join(lines)


def _usage(facts: ModelCardFacts) -> str:
  size = facts.model.input_size
  return f"""## How to use it

Each `.tflite` file carries TFLite Model Metadata, so MediaPipe Tasks'
`ImageSegmenter` loads it as it is: it resizes the photo to {size} x {size}
itself and returns a category mask at the photo's size, whose values index
`labels.txt`. `model_fp16.tflite` suits the GPU delegate, `model_int8.tflite`
CPUs and NNAPI.

```python
import mediapipe as mp
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core.base_options import BaseOptions

segmenter = vision.ImageSegmenter.create_from_options(
  vision.ImageSegmenterOptions(
    base_options=BaseOptions(model_asset_path='model_fp16.tflite'),
    output_category_mask=True,
  )
)
mask = segmenter.segment(
  mp.Image.create_from_file('photo.jpg')
).category_mask.numpy_view()  # uint8 [H, W]: an index into segmenter.labels
```

The SavedModel in this folder serves TF Serving: `serving_default` takes
serialized tf.Examples, `serving_images` uint8 RGB images."""


def _limitations(facts: ModelCardFacts) -> str:
  lines = ['## Limitations', '']
  scores = facts.metrics
  if scores is not None:
    classes = sorted(
      (value, name)
      for name, value in scores.per_class_iou.items()
      if value is not None
    )[:WORST]
    if classes:
      lines.append(
        'Worst classes by IoU: '
        + ', '.join(f'{name} ({_fmt(value)})' for value, name in classes)
        + '.'
      )
    edges = sorted(
      (value, name)
      for name, value in scores.per_class_boundary_iou.items()
      if value is not None
    )[:WORST]
    if edges:
      lines.append(
        'Worst classes by boundary IoU: '
        + ', '.join(f'{name} ({_fmt(value)})' for value, name in edges)
        + '.'
      )
  slices = sorted(
    (value.mean_iou, f'{key} = {name}')
    for key, by_name in facts.metrics_by_slice.items()
    for name, value in by_name.items()
    if value.mean_iou is not None
  )[:WORST]
  if slices:
    lines.append(
      'Worst slices by mean IoU: '
      + ', '.join(f'{name} ({_fmt(value)})' for value, name in slices)
      + '.'
    )
  absent = evaluation.absences(scores, facts.metrics_by_slice)
  if absent:
    lines += ['', 'What the scores above cannot say:', '']
    lines += [f'- {sentence}' for sentence in absent]
  if len(lines) == 2:
    lines.append('None found in the eval split.')
  return '\n'.join(lines)


def _table(header, rows) -> str:
  lines = [
    '| ' + ' | '.join(header) + ' |',
    '|' + '---|' * len(header),
  ]
  lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
  return '\n'.join(lines)


_fmt = metrics.format_score
