"""The run configuration: one object from the CLI to the model factory.

`RunConfig` holds every setting of a run. The CLI builds it from a preset plus
the flags a user gave, the pipeline reads its paths and gates, and the Trainer
receives `training_custom_config(...)` as its `custom_config`, from which
`components.training` rebuilds the same `ModelConfig` and `TrainConfig`.
Presets are the only other source of values, and every flag overrides them.
"""

import dataclasses
import os
from typing import Any, Dict, Optional, Sequence, Tuple

from data import files
from model.config import ModelConfig

DATASETS = ('demo', 'people', 'voc', 'tfrecord')
RUNNERS = ('local', 'vertex')
OPTIMIZERS = ('sgd', 'adam')


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How the Trainer fits the model (DeepLab's recipe by default).

  Attributes:
    train_steps: optimizer steps; also the length of the poly schedule.
    batch_size: examples per step.
    base_lr: initial learning rate of the poly schedule.
    lr_power: exponent of the poly schedule (DeepLab: 0.9).
    optimizer: 'sgd' (momentum, as DeepLab trains) or 'adam'.
    momentum: SGD momentum.
    weight_decay: decoupled weight decay (DeepLab: 4e-5 L2).
    augment: random scale, crop/pad and horizontal flip for training.
    min_scale, max_scale: range of the random scale (DeepLab: 0.5-2.0).
    steps_per_log: steps between progress lines and checkpoints.
  """
  train_steps: int = 1000
  batch_size: int = 8
  base_lr: float = 0.007
  lr_power: float = 0.9
  optimizer: str = 'sgd'
  momentum: float = 0.9
  weight_decay: float = 4e-5
  augment: bool = True
  min_scale: float = 0.5
  max_scale: float = 2.0
  steps_per_log: int = 50

  def __post_init__(self):
    _check(self.train_steps > 0, f'train_steps={self.train_steps}: must be > 0')
    _check(self.batch_size > 0, f'batch_size={self.batch_size}: must be > 0')
    _check(self.base_lr > 0, f'base_lr={self.base_lr}: must be > 0')
    _check(self.optimizer in OPTIMIZERS,
           f'optimizer={self.optimizer!r}: must be one of {OPTIMIZERS}')
    _check(0 < self.min_scale <= self.max_scale,
           f'min_scale={self.min_scale}, max_scale={self.max_scale}: need '
           '0 < min_scale <= max_scale')
    _check(self.steps_per_log > 0,
           f'steps_per_log={self.steps_per_log}: must be > 0')


@dataclasses.dataclass(frozen=True)
class QualityGate:
  """When a trained model is good enough to push.

  Attributes:
    min_mean_iou: the Evaluator blesses only models at or above this mIoU.
    max_mean_iou_decrease: once a blessed model exists, a new one may be at
      most this much worse (absolute mIoU) to be blessed.
    max_int8_mean_iou_drop: the push is refused when the int8 TFLite model's
      mIoU is more than this below the float TFLite model's.
  """
  min_mean_iou: float = 0.5
  max_mean_iou_decrease: float = 0.01
  max_int8_mean_iou_drop: float = 0.05


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Everything one pipeline run needs."""
  dataset: str
  data_root: str
  output_dir: str
  labels: Tuple[str, ...]
  model: ModelConfig
  train: TrainConfig
  gate: QualityGate
  runner: str = 'local'
  image: Optional[str] = None  # vertex: the container image with this code.
  beam_pipeline_args: Tuple[str, ...] = ()
  eval_fraction: float = 0.1
  voc_aug: bool = False
  skip_bad_examples: bool = False
  pipeline_name: str = 'mobile-deeplab'

  def __post_init__(self):
    _check(self.dataset in DATASETS,
           f'dataset={self.dataset!r}: must be one of {DATASETS}')
    _check(self.runner in RUNNERS,
           f'runner={self.runner!r}: must be one of {RUNNERS}')
    _check(self.runner != 'local' or not files.is_url(self.output_dir),
           f'output_dir={self.output_dir}: runner=local needs a local folder '
           '(ML Metadata is a SQLite file in it)')
    if self.runner == 'vertex':
      _check(bool(self.image), 'runner=vertex needs the container image '
             '(--image) that holds this project; see the Dockerfile')
      _check(self.dataset != 'demo', 'runner=vertex needs a real dataset: '
             'the demo data is generated on the local disk')
    _check(0 < self.eval_fraction < 1,
           f'eval_fraction={self.eval_fraction}: must be in (0, 1)')
    _check(len(self.labels) == self.model.num_classes,
           f'{len(self.labels)} labels {self.labels} but '
           f'num_classes={self.model.num_classes}')

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, 'pipeline')

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, 'metadata.sqlite')

  @property
  def serving_dir(self) -> str:
    """Where the Pusher publishes blessed models, one folder per version."""
    return os.path.join(self.output_dir, 'serving')

  @property
  def checkpoint_dir(self) -> str:
    """Survives a killed Trainer so a rerun resumes (see components.training)."""
    return os.path.join(self.output_dir, 'checkpoints')


# The original project's recipes (README of the TF1 mobile-deeplab project;
# DeepLab's train.py flags) and the demo's CPU-sized one.
PRESETS: Dict[str, Dict[str, Any]] = {
    'demo': {
        'model': dict(backbone='mobilenet_v2', depth_multiplier=0.5,
                      output_stride=16, head='deeplabv3plus', aspp=False,
                      decoder=True, quant_friendly=True, input_size=128),
        'train': dict(train_steps=2000, batch_size=8, base_lr=0.002,
                      optimizer='adam', weight_decay=0.0, min_scale=0.75,
                      max_scale=1.5, steps_per_log=100),
        'gate': dict(min_mean_iou=0.5),
    },
    'people': {
        'model': dict(backbone='mobilenet_v2', output_stride=16,
                      head='deeplabv3plus', aspp=False, decoder=True,
                      quant_friendly=True, input_size=256),
        'train': dict(train_steps=150000, batch_size=16, base_lr=0.05),
        'gate': dict(min_mean_iou=0.7),
    },
    'voc': {
        'model': dict(backbone='mobilenet_v2', output_stride=16,
                      head='deeplabv3plus', aspp=False, decoder=False,
                      quant_friendly=False, input_size=513),
        'train': dict(train_steps=30000, batch_size=16, base_lr=0.007),
        'gate': dict(min_mean_iou=0.6),
    },
}


def build_run_config(preset: str, dataset: str, data_root: str,
                     output_dir: str, labels: Sequence[str],
                     overrides: Optional[Dict[str, Dict[str, Any]]] = None,
                     **run_fields) -> RunConfig:
  """A RunConfig from a preset, with `overrides` per section on top.

  Args:
    preset: a key of PRESETS.
    dataset, data_root, output_dir, labels: as in RunConfig.
    overrides: {'model': {...}, 'train': {...}, 'gate': {...}}; values that
      are None are ignored, so unset flags keep the preset's value.
    **run_fields: the remaining RunConfig fields.
  """
  _check(preset in PRESETS, f'preset={preset!r}: must be one of '
         f'{tuple(PRESETS)}')
  sections = {}
  for section in ('model', 'train', 'gate'):
    values = dict(PRESETS[preset].get(section, {}))
    values.update({k: v for k, v in ((overrides or {}).get(section) or {}
                                     ).items() if v is not None})
    sections[section] = values
  sections['model']['num_classes'] = len(labels)
  return RunConfig(
      dataset=dataset, data_root=data_root, output_dir=output_dir,
      labels=tuple(labels), model=ModelConfig(**sections['model']),
      train=TrainConfig(**sections['train']),
      gate=QualityGate(**sections['gate']), **run_fields)


# DirectRunner options for real datasets on one machine: one worker process
# per core (num_workers 0). Beam's defaults, one in-process worker, use a
# single core: the GIL serializes in-process threads.
LOCAL_BEAM_ARGS = ('--direct_running_mode=multi_processing',
                   '--direct_num_workers=0')


def default_beam_pipeline_args(dataset: str) -> Tuple[str, ...]:
  """DirectRunner settings when the user gives no --beam_pipeline_args.

  The demo is small: in-memory mode avoids the ~6 s it takes to start worker
  processes. Real datasets use one worker process per core (data/ingest
  throughput is in docs/data.md).
  """
  if dataset == 'demo':
    return ('--direct_running_mode=in_memory',)
  return LOCAL_BEAM_ARGS


def training_custom_config(config: RunConfig) -> Dict[str, Any]:
  """The Trainer's custom_config: plain JSON-able values only."""
  return {
      'model': config.model.to_dict(),
      'train': dataclasses.asdict(config.train),
      'labels': list(config.labels),
      'checkpoint_dir': config.checkpoint_dir,
  }


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise ValueError(f'Invalid run config: {message}')
