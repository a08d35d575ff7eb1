"""What a model is and how it is trained: the two configs every layer reads.

A `ModelConfig` (the architecture) and a `TrainConfig` (the recipe) travel
from the CLI (pipeline.config presets plus flags), through the Trainer's
`custom_config` (as plain dicts), into `model.builder.build_model` and
`components.training`. They are validated where they are built, so a bad
value fails before any expensive work starts. Choices (BACKBONES, HEADS,
...) are declared here once; flags (model.flags) take them from here.
"""

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence

BACKBONES = ('mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small')
HEADS = ('deeplabv3plus', 'lraspp')
OUTPUT_STRIDES = (8, 16, 32)
OPTIMIZERS = ('sgd', 'adam')


def flag_field(
  default: Any, help_text: str, choices: Sequence[str] = ()
) -> Any:
  """A config field with its flag's help (and choices) beside it.

  model.flags reads `help` and `choices` from the field's metadata, so a new
  field and its flag are written once, here.
  """
  metadata = {'help': help_text}
  if choices:
    metadata['choices'] = tuple(choices)
  return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture of one DeepLab-family model.

  Attributes:
    backbone: one of BACKBONES.
    depth_multiplier: width multiplier of the backbone (MobileNetV2 paper,
      section 5.1); 1.0 and 0.5 are the DeepLab model-zoo settings.
    output_stride: input size / feature size of the last backbone stage; the
      stages past it use atrous convolution instead of striding (DeepLabV3).
    head: 'deeplabv3plus' (DeepLabV3+, arXiv 1802.02611) or 'lraspp'
      (MobileNetV3 paper, arXiv 1905.02244, section 6.4).
    aspp: deeplabv3plus only: atrous spatial pyramid pooling (image pooling +
      rates 6/12/18 at output stride 16, doubled at 8) instead of a 1x1 conv.
    decoder: deeplabv3plus only: fuse OS-4 features (48 channels) and refine
      with two 3x3 separable convs of 256.
    quant_friendly: separable convs without BN/activation after the
      depthwise conv, and ReLU instead of ReLU6 (arXiv 1803.08607).
    num_classes: classes including background.
    input_size: side S of the square S x S input the model is built for.
    backbone_weights: None (random init), 'imagenet', or a local path to a
      Keras applications weights file.
    channel_divisor: block widths are rounded to multiples of it after the
      depth multiplier. None picks the reference rule: DeepLab's MobileNetV2
      uses 1 when depth_multiplier != 1 (research/deeplab
      feature_extractor.py; the model zoo's 0.88B-MAdd dm 0.5 model), and
      8 otherwise, as the ImageNet checkpoints of Keras applications do, so
      backbone_weights needs 8.
  """

  backbone: str = flag_field(
    'mobilenet_v2', 'Backbone network.', choices=BACKBONES
  )
  depth_multiplier: float = flag_field(
    1.0, 'Backbone width multiplier, 0.05 to 2.'
  )
  output_stride: int = flag_field(
    16, f'Output stride: one of {OUTPUT_STRIDES}.'
  )
  head: str = flag_field('deeplabv3plus', 'Segmentation head.', choices=HEADS)
  aspp: bool = flag_field(False, 'deeplabv3plus: use ASPP.')
  decoder: bool = flag_field(True, 'deeplabv3plus: use the decoder.')
  quant_friendly: bool = flag_field(
    False, 'Quantization-friendly separable convs (arXiv 1803.08607).'
  )
  num_classes: int = flag_field(2, 'Classes including background.')
  input_size: int = flag_field(256, 'Model input size S (S x S), 32 to 2048.')
  backbone_weights: Optional[str] = flag_field(
    None,
    "'imagenet' (downloads when online) or a local Keras weights file for "
    'the backbone.',
  )
  channel_divisor: Optional[int] = flag_field(
    None,
    'Round backbone widths to multiples of this (8 to load ImageNet '
    "weights at depth multipliers other than 1; default: DeepLab's rule, "
    'see docs/models.md).',
  )

  def __post_init__(self):
    _check(
      self.backbone in BACKBONES,
      f'backbone={self.backbone!r}: must be one of {BACKBONES}',
    )
    _check(self.head in HEADS, f'head={self.head!r}: must be one of {HEADS}')
    _check(
      self.output_stride in OUTPUT_STRIDES,
      f'output_stride={self.output_stride}: must be one of '
      f'{OUTPUT_STRIDES} (DeepLab uses atrous convolution past it)',
    )
    # Widths past 2x have no reference model; under 0.05 a layer rounds
    # to nothing.
    check_number('model', 'depth_multiplier', self.depth_multiplier, 0.05, 2)
    _check(
      isinstance(self.num_classes, int) and self.num_classes >= 2,
      f'num_classes={self.num_classes}: must be an integer >= 2 '
      '(background + at least one class)',
    )
    # 2048: 16 times DeepLab's 513 in pixels; a 2048 x 2048 batch of 16
    # already needs 80 GB of activations for MobileNetV2.
    check_number('model', 'input_size', self.input_size, 32, 2048, integer=True)
    _check(
      self.input_size % self.output_stride in (0, 1),
      f'input_size={self.input_size}: must be k * output_stride or '
      f'k * output_stride + 1 (output_stride={self.output_stride}; '
      'DeepLab uses 513 = 32 * 16 + 1) so feature maps align',
    )
    _check(
      self.channel_divisor is None
      or (isinstance(self.channel_divisor, int) and self.channel_divisor >= 1),
      f'channel_divisor={self.channel_divisor}: must be None or a '
      'positive integer',
    )
    _check(
      not self.backbone_weights or self.width_divisor == 8,
      f'channel_divisor={self.channel_divisor} with backbone_weights='
      f'{self.backbone_weights!r}: Keras applications checkpoints round '
      'widths to multiples of 8; set channel_divisor=8',
    )

  @property
  def width_divisor(self) -> int:
    """channel_divisor, or the reference rule when it is None."""
    if self.channel_divisor is not None:
      return self.channel_divisor
    if self.backbone == 'mobilenet_v2' and self.depth_multiplier != 1.0:
      return 1
    return 8

  def to_dict(self) -> Dict[str, Any]:
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, values: Dict[str, Any]) -> 'ModelConfig':
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How the Trainer fits the model (DeepLab's recipe by default).

  Attributes:
    train_steps: optimizer steps; also the length of the poly schedule. In
      a pipeline it reaches the Trainer as TFX's TrainArgs.num_steps.
    batch_size: examples per step: the global batch, split evenly across
      the replicas of a distributed run (components.distribution).
    base_lr: initial learning rate of the poly schedule.
    lr_power: exponent of the poly schedule (DeepLab: 0.9).
    optimizer: one of OPTIMIZERS: 'sgd' (momentum, as DeepLab trains) or
      'adam'.
    momentum: SGD momentum.
    weight_decay: decoupled weight decay (DeepLab: 4e-5 L2).
    augment: random scale, crop/pad and horizontal flip for training.
    min_scale, max_scale: range of the random scale (DeepLab: 0.5-2.0).
    steps_per_epoch: at most this many steps between progress lines and
      resume checkpoints (a Keras epoch); lowered to a divisor of
      train_steps so that training runs exactly train_steps steps.
    lr_reference_batch: None uses base_lr as it is. Otherwise the global
      batch base_lr was tuned for: the learning rate becomes base_lr *
      batch_size / lr_reference_batch, the linear scaling rule (Goyal et
      al., arXiv 1706.02677, section 2.1), so a recipe keeps its dynamics
      when more replicas train with a larger global batch.
    mixed_precision: float16 compute with float32 variables and dynamic
      loss scaling (Keras' 'mixed_float16'); logits, loss and softmax stay
      float32, and the exported model is float32 whatever this is.
    jit_compile: compile the training step with XLA.
    sync_batchnorm: BatchNorm statistics over the global batch (all
      replicas) rather than each replica's share, as DeepLab's large-batch
      training does (DeepLabV3 paper, arXiv 1706.05587, section 4.1).
    freeze_backbone_steps: for the first N steps only the head trains: the
      backbone is not trainable, so its weights and its BatchNorm moving
      statistics stay as loaded (the Keras fine-tuning recipe: a new head's
      large early gradients would otherwise wreck pretrained features).
    backbone_lr_multiplier: the backbone's learning rate is the schedule's
      times this (discriminative fine-tuning, ULMFiT, arXiv 1801.06146,
      section 3.2); 0 keeps the backbone's weights fixed. Decoupled weight
      decay stays at the schedule's rate.
    init_from: None trains from backbone_weights (or random weights).
      Otherwise the model this project trained to start from
      (components.parent_model): its stored ModelConfig is the
      architecture, and its weights are loaded, all of them with the same
      labels, all but the classifier with others.
  """

  train_steps: int = flag_field(1000, 'Training steps, 1 to 10^8.')
  batch_size: int = flag_field(
    8, 'Global training batch, split across replicas; 1 to 4096.'
  )
  base_lr: float = flag_field(
    0.007, 'Base learning rate (poly schedule), 1e-8 to 10.'
  )
  lr_power: float = flag_field(0.9, 'Exponent of the poly schedule, 0 to 10.')
  optimizer: str = flag_field('sgd', 'Optimizer.', choices=OPTIMIZERS)
  momentum: float = flag_field(0.9, 'SGD momentum, 0 to 0.999.')
  weight_decay: float = flag_field(4e-5, 'Decoupled weight decay, 0 to 1.')
  augment: bool = flag_field(
    True, 'Random scale/crop/flip augmentation for training.'
  )
  min_scale: float = flag_field(0.5, 'Smallest random scale of augmentation.')
  max_scale: float = flag_field(2.0, 'Largest random scale of augmentation.')
  steps_per_epoch: int = flag_field(
    50, 'At most this many steps between progress lines and checkpoints.'
  )
  lr_reference_batch: Optional[int] = flag_field(
    None,
    'The global batch --base_lr was tuned for: the learning rate becomes '
    'base_lr * batch_size / lr_reference_batch (linear scaling rule; '
    'docs/training.md).',
  )
  mixed_precision: bool = flag_field(
    False,
    'mixed_float16 compute with loss scaling (GPUs); the exported models '
    'stay float32.',
  )
  jit_compile: bool = flag_field(False, 'Compile the training step with XLA.')
  sync_batchnorm: bool = flag_field(
    False, 'BatchNorm statistics over the global batch across replicas.'
  )
  freeze_backbone_steps: int = flag_field(
    0,
    'Train only the head (backbone weights and BatchNorm statistics '
    'frozen) for this many first steps, then everything; 0 to train_steps.',
  )
  backbone_lr_multiplier: float = flag_field(
    1.0,
    "The backbone's learning rate is the head's times this, 0 to 10 "
    '(e.g. 0.1 to fine-tune gently).',
  )
  init_from: Optional[str] = flag_field(
    None,
    'Start from a model this project trained: a pushed version folder, a '
    'Trainer model output or its SavedModel. Its architecture is kept '
    '(model flags may only repeat it); with other labels its classifier '
    'starts afresh.',
  )

  def __post_init__(self):
    check_number('train', 'train_steps', self.train_steps, 1, 10**8, True)
    check_number('train', 'batch_size', self.batch_size, 1, 4096, True)
    check_number('train', 'base_lr', self.base_lr, 1e-8, 10)
    check_number('train', 'lr_power', self.lr_power, 0, 10)
    check_number('train', 'momentum', self.momentum, 0, 0.999)
    check_number('train', 'weight_decay', self.weight_decay, 0, 1)
    check_number('train', 'min_scale', self.min_scale, 0.05, 10)
    check_number('train', 'max_scale', self.max_scale, 0.05, 10)
    _check(
      self.optimizer in OPTIMIZERS,
      f'optimizer={self.optimizer!r}: must be one of {OPTIMIZERS}',
      'train',
    )
    _check(
      self.min_scale <= self.max_scale,
      f'min_scale={self.min_scale}, max_scale={self.max_scale}: need '
      'min_scale <= max_scale',
      'train',
    )
    check_number(
      'train', 'steps_per_epoch', self.steps_per_epoch, 1, 10**8, True
    )
    if self.lr_reference_batch is not None:
      check_number(
        'train', 'lr_reference_batch', self.lr_reference_batch, 1, 4096, True
      )
    check_number(
      'train',
      'freeze_backbone_steps',
      self.freeze_backbone_steps,
      0,
      self.train_steps,
      True,
    )
    check_number(
      'train', 'backbone_lr_multiplier', self.backbone_lr_multiplier, 0, 10
    )

  @property
  def learning_rate(self) -> float:
    """The initial learning rate: base_lr, linearly scaled if asked."""
    if self.lr_reference_batch is None:
      return self.base_lr
    return self.base_lr * self.batch_size / self.lr_reference_batch

  @property
  def exact_steps_per_epoch(self) -> int:
    """The largest divisor of train_steps not above steps_per_epoch.

    Keras counts progress and checkpoints per epoch; with equal epochs that
    divide train_steps, training runs exactly train_steps steps. It also
    divides freeze_backbone_steps, so the backbone thaws between epochs.
    """
    steps_to_divide = math.gcd(self.train_steps, self.freeze_backbone_steps)
    for steps in range(min(self.steps_per_epoch, self.train_steps), 0, -1):
      if steps_to_divide % steps == 0:
        return steps
    return 1


def check_number(
  kind: str,
  name: str,
  value: Any,
  low: float,
  high: float,
  integer: bool = False,
) -> None:
  """ValueError naming the field unless value is a finite number in range.

  Args:
    kind: which config, for the message ('model', 'train', ...).
    name: the field (and flag) name.
    value: what was given.
    low, high: the inclusive range.
    integer: whether it must be a whole number.
  """
  numeric = (int,) if integer else (int, float)
  ok = (
    isinstance(value, numeric)
    and not isinstance(value, bool)
    and math.isfinite(value)
    and low <= value <= high
  )
  _check(
    ok,
    f'{name}={value}: must be a finite {"whole " if integer else ""}number '
    f'in [{low:g}, {high:g}]',
    kind,
  )


def _check(condition: bool, message: str, kind: str = 'model') -> None:
  if not condition:
    raise ValueError(f'Invalid {kind} config: {message}')
