"""The run configuration: one object from the CLI to the model factory.

`RunConfig` holds every setting of a run. The CLI builds it from a preset (a
typed `Preset`: ModelConfig, TrainConfig and QualityGate) with the flags a
user gave applied by `dataclasses.replace`; the pipeline reads its paths and
gates, and the Trainer receives the ModelConfig and TrainConfig through
components.training.custom_config. Presets are the only other source of
values, and every flag overrides them.
"""

import dataclasses
import os
from typing import Any, Collection, Dict, List, Mapping, Optional, Tuple

from data import beam_options
from data import config as data_config
from data import datasets
from data import files
from model.config import ModelConfig
from model.config import TrainConfig
from model.config import check_number
from model.config import flag_field

RUNNERS = ('local', 'vertex')
# Inside output_dir: the pipeline root and the local ML Metadata store.
PIPELINE_DIR = 'pipeline'
METADATA_FILE = 'metadata.sqlite'


@dataclasses.dataclass(frozen=True)
class QualityGate:
  """When a trained model is good enough to push.

  Attributes:
    min_mean_iou: the Evaluator blesses only models at or above this mIoU.
    min_mean_boundary_iou: and at or above this mean boundary IoU (Cheng
      et al. 2021; model.boundary). 0 asks only that it exists.
    max_mean_iou_decrease: once a blessed model exists, a new one may be at
      most this much worse (absolute mIoU) to be blessed.
    max_int8_mean_iou_drop: the push is refused when the int8 TFLite model's
      mIoU is more than this below the float TFLite model's.
  """

  min_mean_iou: float = flag_field(
    0.5,
    'The Evaluator blesses only models with at least this mean IoU (0 to 1).',
  )
  min_mean_boundary_iou: float = flag_field(
    0.0,
    'The Evaluator blesses only models with at least this mean boundary IoU '
    '(Cheng et al. 2021; 0 to 1).',
  )
  max_mean_iou_decrease: float = flag_field(
    0.01,
    'Once a blessed model exists, a new one may lose at most this much mean '
    'IoU against it to be blessed (0 to 1).',
  )
  max_int8_mean_iou_drop: float = flag_field(
    0.05, 'Refuse the push if int8 TFLite loses more mean IoU (0 to 1).'
  )

  def __post_init__(self):
    for field in dataclasses.fields(self):
      check_number('gate', field.name, getattr(self, field.name), 0, 1)


@dataclasses.dataclass(frozen=True)
class Preset:
  """A recipe: the model, how to train it, and when to push it.

  The model's num_classes is set from the dataset's labels when a run is
  configured; the preset's own is a placeholder.
  """

  model: ModelConfig
  train: TrainConfig
  gate: QualityGate


# The original project's recipes (README of the TF1 mobile-deeplab project;
# DeepLab's train.py flags) and the demo's CPU-sized one. Each states only
# what differs from the configs' defaults.
_PEOPLE = Preset(
  model=ModelConfig(quant_friendly=True, input_size=256),
  train=TrainConfig(train_steps=150000, batch_size=16, base_lr=0.05),
  gate=QualityGate(min_mean_iou=0.7),
)
PRESETS: Dict[str, Preset] = {
  'demo': Preset(
    model=ModelConfig(
      depth_multiplier=0.5, quant_friendly=True, input_size=128
    ),
    train=TrainConfig(
      train_steps=2000,
      base_lr=0.002,
      optimizer='adam',
      weight_decay=0.0,
      min_scale=0.75,
      max_scale=1.5,
      steps_per_epoch=100,
    ),
    gate=QualityGate(min_mean_iou=0.5),
  ),
  'people': _PEOPLE,
  # The people recipe with a model that races MediaPipe's selfie model
  # through its ImageSegmenter (docs/models.md, "Racing MediaPipe's selfie
  # model"): MobileNetV3-Small at half width, LR-ASPP at output stride 32;
  # its float16-weight file is 0.7 MB.
  'people_lite': dataclasses.replace(
    _PEOPLE,
    model=dataclasses.replace(
      _PEOPLE.model,
      backbone='mobilenet_v3_small',
      depth_multiplier=0.5,
      output_stride=32,
      head='lraspp',
    ),
  ),
  'voc': Preset(
    model=ModelConfig(decoder=False, input_size=513),
    train=TrainConfig(train_steps=30000, batch_size=16, base_lr=0.007),
    gate=QualityGate(min_mean_iou=0.6),
  ),
}


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Everything one pipeline run needs.

  Attributes:
    data: what to read and how (format, folder, labels, ...); for the demo,
      data_root is where it is generated.
    output_dir: artifacts, ML Metadata, pushed models, run_summary.json.
    preset: the name of the preset the model, train and gate sections
      started from.
    model, train, gate: the preset with the user's flags applied.
    runner: one of RUNNERS.
    image: vertex: the container image that holds this project.
    vertex_pipeline_file: vertex: where the compiled pipeline JSON goes.
    beam_pipeline_args: Beam options of the data components.
    pipeline_name: the TFX pipeline name (ML Metadata context).
    trainer_machine_type: vertex: run the Trainer on Vertex AI Training on
      this machine type (e.g. 'n1-standard-16'), through TFX's Google
      Cloud Trainer extension, instead of inside the pipeline's container.
      None (the default) leaves the Trainer where it was.
    trainer_replicas: vertex training: machines, the chief included; more
      than one trains with MultiWorkerMirroredStrategy.
    trainer_accelerator_type, trainer_accelerator_count: vertex training:
      accelerators per machine (e.g. 'NVIDIA_TESLA_T4', 4).
    gcp_project, gcp_region: vertex training: where the training job runs.
    infer_input: a folder of photos (local or gs://) that the pushed model
      segments after each push (components.batch_inferrer); None: no
      such step.
  """

  data: data_config.DataConfig
  output_dir: str
  preset: str
  model: ModelConfig
  train: TrainConfig
  gate: QualityGate
  runner: str = flag_field(
    'local',
    'Orchestrator. local: LocalDagRunner with SQLite ML Metadata. vertex: '
    'compile the pipeline JSON for Vertex AI Pipelines (--image, '
    '--vertex_pipeline_file); --data_root and --output_dir may then be '
    'gs:// paths.',
    choices=RUNNERS,
  )
  image: Optional[str] = flag_field(
    None, 'vertex: the container image built from the Dockerfile.'
  )
  vertex_pipeline_file: str = flag_field(
    'mobile_deeplab_vertex.json',
    'vertex: where the compiled pipeline JSON is written.',
  )
  beam_pipeline_args: Tuple[str, ...] = ()
  pipeline_name: str = 'mobile-deeplab'
  trainer_machine_type: Optional[str] = flag_field(
    None,
    'vertex: run the Trainer as a Vertex AI Training job on this machine '
    'type (e.g. n1-standard-16); default: inside the pipeline container.',
  )
  trainer_replicas: int = flag_field(
    1, 'vertex training: machines, chief included (>1: multi-worker).'
  )
  trainer_accelerator_type: Optional[str] = flag_field(
    None, 'vertex training: accelerator per machine, e.g. NVIDIA_TESLA_T4.'
  )
  trainer_accelerator_count: int = flag_field(
    0, 'vertex training: accelerators per machine.'
  )
  gcp_project: Optional[str] = flag_field(None, 'vertex training: GCP project.')
  gcp_region: Optional[str] = flag_field(None, 'vertex training: GCP region.')
  infer_input: Optional[str] = None

  def __post_init__(self):
    _check(
      isinstance(self.data, data_config.DataConfig),
      f'data={self.data!r}: must be a data.config.DataConfig',
    )
    _check(
      self.preset in PRESETS,
      f'preset={self.preset!r}: must be one of {tuple(PRESETS)}',
    )
    _check(
      self.runner in RUNNERS,
      f'runner={self.runner!r}: must be one of {RUNNERS}',
    )
    _check(
      self.runner != 'local' or not files.is_url(self.output_dir),
      f'output_dir={self.output_dir}: runner=local needs a local folder '
      '(ML Metadata is a SQLite file in it)',
    )
    if self.runner == 'vertex':
      _check(
        bool(self.image),
        'runner=vertex needs the container image '
        '(--image) that holds this project; see the Dockerfile',
      )
      _check(
        not self.data.dataset.generate,
        'runner=vertex needs a real dataset: the demo data is '
        'generated on the local disk',
      )
    self._check_vertex_training()
    try:
      beam_options.check_beam_args(self.beam_pipeline_args)
    except ValueError as e:
      _check(False, str(e))
    labels = self.data.labels
    _check(
      len(labels) == self.model.num_classes,
      f'{len(labels)} labels {labels} but num_classes={self.model.num_classes}',
    )

  def _check_vertex_training(self) -> None:
    _check(
      self.trainer_replicas >= 1,
      f'trainer_replicas={self.trainer_replicas}: must be >= 1',
    )
    _check(
      self.trainer_accelerator_count >= 0,
      f'trainer_accelerator_count={self.trainer_accelerator_count}: must '
      'be >= 0',
    )
    _check(
      bool(self.trainer_accelerator_type)
      == (self.trainer_accelerator_count > 0),
      f'trainer_accelerator_type={self.trainer_accelerator_type!r} with '
      f'trainer_accelerator_count={self.trainer_accelerator_count}: give '
      'both or neither',
    )
    asked = (
      self.trainer_replicas > 1
      or self.trainer_accelerator_type
      or self.trainer_accelerator_count
      or self.gcp_project
      or self.gcp_region
    )
    _check(
      self.vertex_training or not asked,
      'the trainer_* and gcp_* settings need trainer_machine_type (the '
      'Vertex AI Training machine)',
    )
    if self.vertex_training:
      _check(
        self.runner == 'vertex',
        f'trainer_machine_type={self.trainer_machine_type!r}: Vertex AI '
        f'Training needs runner=vertex (runner={self.runner!r})',
      )
      _check(
        bool(self.gcp_project and self.gcp_region),
        'Vertex AI Training needs gcp_project and gcp_region '
        f'(got {self.gcp_project!r}, {self.gcp_region!r})',
      )

  @property
  def vertex_training(self) -> bool:
    """Whether the Trainer runs as a Vertex AI Training job."""
    return self.trainer_machine_type is not None

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, PIPELINE_DIR)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, METADATA_FILE)

  @property
  def serving_dir(self) -> str:
    """Where the Pusher publishes blessed models, one folder per version."""
    return os.path.join(self.output_dir, 'serving')

  @property
  def checkpoint_dir(self) -> str:
    """Outlives a killed Trainer so a rerun resumes (components.training)."""
    return os.path.join(self.output_dir, 'checkpoints')


def build_run_config(
  preset: str,
  data: data_config.DataConfig,
  output_dir: str,
  overrides: Optional[Mapping[str, Mapping[str, Any]]] = None,
  parent_model: Optional[ModelConfig] = None,
  **run_fields,
) -> RunConfig:
  """A RunConfig from a preset, with `overrides` per section on top.

  Args:
    preset: a key of PRESETS.
    data, output_dir: as in RunConfig; the model gets one class per label.
    overrides: {'model': {...}, 'train': {...}, 'gate': {...}}: field
      values that replace the preset's (unset flags are simply absent).
    parent_model: the stored ModelConfig of the model train.init_from
      names: it replaces the preset's architecture, and a model override
      that contradicts it is refused.
    **run_fields: the remaining RunConfig fields.
  """
  _check(
    preset in PRESETS, f'preset={preset!r}: must be one of {tuple(PRESETS)}'
  )
  overrides = overrides or {}
  recipe = PRESETS[preset]
  train = dataclasses.replace(recipe.train, **overrides.get('train', {}))
  model_overrides = overrides.get('model', {})
  if parent_model is not None:
    _check_agrees(parent_model, model_overrides, train.init_from)
    model = dataclasses.replace(
      parent_model, num_classes=len(data.labels), backbone_weights=None
    )
  else:
    model = dataclasses.replace(
      recipe.model, num_classes=len(data.labels), **model_overrides
    )
  return RunConfig(
    data=data,
    output_dir=output_dir,
    preset=preset,
    model=model,
    train=train,
    gate=dataclasses.replace(recipe.gate, **overrides.get('gate', {})),
    **run_fields,
  )


def _check_agrees(
  parent_model: ModelConfig, model_overrides: Mapping[str, Any], path: str
) -> None:
  """ValueError naming both values if a model flag contradicts the parent."""
  for name, value in model_overrides.items():
    stored = getattr(parent_model, name)
    _check(
      value == stored,
      f'--{name}={value} contradicts the model to start from '
      f'(--init_from={path}), which has {name}={stored}: a fine-tuned '
      'model keeps its architecture; drop the flag',
    )


def preset_values(section: str, name: str) -> str:
  """'demo 0.5, people 0.7, ...': a field's value in each preset, or '' when
  every preset has the same (for --help: what an unset flag means)."""
  values = {
    preset: getattr(getattr(recipe, section), name)
    for preset, recipe in PRESETS.items()
  }
  if len(set(values.values())) == 1:
    return ''
  return ', '.join(f'{preset} {value}' for preset, value in values.items())


# The preset's sections: where each RunConfig section's values come from.
PRESET_SECTIONS = ('model', 'train', 'gate')


def setting_sources(
  config: RunConfig, given: Collection[str]
) -> List[Tuple[str, Any, str]]:
  """(setting, value, where it came from) of every setting of a run.

  A setting comes from a flag (its name is in `given`), from the preset
  (its value differs from the field's default), from the parent model
  (`--init_from`, for the architecture), from the labels (num_classes), or
  is the default.

  Args:
    config: the run's configuration.
    given: the names of the flags the user set.
  """
  rows = []
  for section in PRESET_SECTIONS:
    settings = getattr(config, section)
    defaults = type(settings)()
    for field in dataclasses.fields(settings):
      name, value = field.name, getattr(settings, field.name)
      if name in given:
        source = 'flag'
      elif section == 'model' and name == 'num_classes':
        source = 'labels'
      elif section == 'model' and config.train.init_from:
        source = 'init_from'
      elif value != getattr(defaults, name):
        source = f'preset {config.preset}'
      else:
        source = 'default'
      rows.append((f'{section}.{name}', value, source))
  for name, value in _flat_fields('data', config.data):
    field = name.split('.')[-1]
    # A format's own options are flags named after it (--voc_aug).
    if name.startswith('data.options.'):
      field = f'{config.data.format}_{field}'
    rows.append((name, value, 'flag' if field in given else 'default'))
  for field in dataclasses.fields(config):
    if field.name in PRESET_SECTIONS + ('data',):
      continue
    value = getattr(config, field.name)
    source = 'flag' if field.name in given else 'default'
    if field.name == 'preset' and field.name not in given:
      source = 'the format'
    rows.append((field.name, value, source))
  return rows


def _flat_fields(prefix: str, settings: Any) -> List[Tuple[str, Any]]:
  """(prefix.field, value) of a dataclass, nested dataclasses flattened."""
  rows = []
  for field in dataclasses.fields(settings):
    value = getattr(settings, field.name)
    name = f'{prefix}.{field.name}'
    if dataclasses.is_dataclass(value):
      rows += _flat_fields(name, value)
    else:
      rows.append((name, value))
  return rows


def default_beam_pipeline_args(fmt: str) -> Tuple[str, ...]:
  """DirectRunner settings when the user gives no --beam_pipeline_args.

  A generated dataset (the demo) is small: in-memory mode avoids the ~6 s it
  takes to start worker processes. Real datasets use one worker process per
  core (data/ingest throughput is in docs/data.md).
  """
  if datasets.get(fmt).generate:
    return ('--direct_running_mode=in_memory',)
  return beam_options.LOCAL_BEAM_ARGS


def _check(condition: bool, message: str) -> None:
  if not condition:
    raise ValueError(f'Invalid run config: {message}')
