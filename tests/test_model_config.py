"""ModelConfig and TrainConfig: bad values fail at construction, naming them."""

import pytest

from model.config import ModelConfig
from model.config import TrainConfig


@pytest.mark.parametrize(
  'kwargs,message',
  [
    ({'backbone': 'resnet50'}, "backbone='resnet50'"),
    ({'head': 'fcn'}, "head='fcn'"),
    ({'output_stride': 4}, 'output_stride=4'),
    ({'num_classes': -3}, 'num_classes=-3'),
    (
      {'num_classes': 1},
      'num_classes=1: must be an integer >= 2 (background + at least one '
      'class)',
    ),
    (
      {'input_size': 100, 'output_stride': 16},
      'input_size=100: must be k * output_stride or k * output_stride + 1 '
      '(output_stride=16; DeepLab uses 513 = 32 * 16 + 1) so feature maps '
      'align',
    ),
    ({'input_size': 16}, 'input_size=16'),
    ({'depth_multiplier': 0}, 'depth_multiplier=0'),
    (
      {'channel_divisor': 0},
      'channel_divisor=0: must be None or a positive integer',
    ),
    (
      {'depth_multiplier': 0.5, 'backbone_weights': 'imagenet'},
      "channel_divisor=None with backbone_weights='imagenet': Keras "
      'applications checkpoints round widths to multiples of 8; set '
      'channel_divisor=8',
    ),
  ],
)
def test_bad_config_names_the_value(kwargs, message):
  with pytest.raises(ValueError, match='Invalid model config') as error:
    ModelConfig(**kwargs)
  assert message in str(error.value)
  if ':' in message:  # Given whole: the message is exactly it.
    assert str(error.value) == f'Invalid model config: {message}'


def _assert_checked_at_bounds(
  config_class, kind, name, low, high, integer, others
):
  """Each bound is inclusive; a hair past it, or a fraction where a whole
  number is needed, is refused with the range in the message."""
  for value in (low, high):
    assert getattr(config_class(**others, **{name: value}), name) == value
  if integer:
    refused = [low - 1, high + 1, low + 0.5]
  else:
    refused = [low - low * 1e-6 - 1e-12, high + max(abs(high), 1e-8) * 1e-6]
  number = 'whole number' if integer else 'number'
  for value in refused:
    with pytest.raises(ValueError) as error:
      config_class(**others, **{name: value})
    assert str(error.value) == (
      f'Invalid {kind} config: {name}={value}: must be a finite {number} in '
      f'[{low:g}, {high:g}]'
    )


# 32 and 2048 are multiples of the default output stride 16.
@pytest.mark.parametrize(
  'name,low,high,integer',
  [('depth_multiplier', 0.05, 2, False), ('input_size', 32, 2048, True)],
)
def test_model_numbers_are_checked_at_both_bounds(name, low, high, integer):
  _assert_checked_at_bounds(ModelConfig, 'model', name, low, high, integer, {})


def test_channel_divisor_1_is_the_smallest_accepted():
  assert ModelConfig(channel_divisor=1).width_divisor == 1


@pytest.mark.parametrize(
  'input_size,output_stride', [(513, 16), (512, 32), (257, 8), (64, 16)]
)
def test_deeplab_input_sizes_are_accepted(input_size, output_stride):
  assert (
    ModelConfig(input_size=input_size, output_stride=output_stride).input_size
    == input_size
  )


def test_round_trips_through_a_dict():
  config = ModelConfig(
    backbone='mobilenet_v3_small',
    head='lraspp',
    num_classes=7,
    channel_divisor=8,
  )
  assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
  'kwargs,divisor',
  [
    ({}, 8),
    ({'depth_multiplier': 0.5}, 1),
    ({'depth_multiplier': 0.5, 'channel_divisor': 8}, 8),
    ({'backbone': 'mobilenet_v3_large', 'depth_multiplier': 0.75}, 8),
  ],
)
def test_width_divisor_follows_the_reference_rule(kwargs, divisor):
  assert ModelConfig(**kwargs).width_divisor == divisor


@pytest.mark.parametrize(
  'kwargs,message',
  [
    ({'train_steps': 0}, 'train_steps=0'),
    ({'batch_size': -1}, 'batch_size=-1'),
    ({'base_lr': 0}, 'base_lr=0'),
    ({'optimizer': 'rmsprop'}, "optimizer='rmsprop'"),
    (
      {'min_scale': 2.0, 'max_scale': 1.0},
      'min_scale=2.0, max_scale=1.0: need min_scale <= max_scale',
    ),
    ({'lr_reference_batch': True}, 'lr_reference_batch=True'),
    ({'steps_per_epoch': 0}, 'steps_per_epoch=0'),
    (
      {'train_steps': 100, 'freeze_backbone_steps': 101},
      'freeze_backbone_steps=101: must be a finite whole number in [0, 100]',
    ),
    ({'freeze_backbone_steps': -1}, 'freeze_backbone_steps=-1'),
    ({'backbone_lr_multiplier': -0.1}, 'backbone_lr_multiplier=-0.1'),
    ({'backbone_lr_multiplier': float('nan')}, 'backbone_lr_multiplier=nan'),
  ],
)
def test_bad_train_config_names_the_value(kwargs, message):
  with pytest.raises(ValueError, match='Invalid train config') as error:
    TrainConfig(**kwargs)
  assert message in str(error.value)


# Each number's range and kind, with what the other fields need to allow
# its bounds (min_scale <= max_scale; freeze_backbone_steps <= train_steps).
_TRAIN_NUMBERS = [
  ('train_steps', 1, 10**8, True, {'freeze_backbone_steps': 0}),
  ('batch_size', 1, 4096, True, {}),
  ('base_lr', 1e-8, 10, False, {}),
  ('lr_power', 0, 10, False, {}),
  ('momentum', 0, 0.999, False, {}),
  ('weight_decay', 0, 1, False, {}),
  ('min_scale', 0.05, 10, False, {'max_scale': 10}),
  ('max_scale', 0.05, 10, False, {'min_scale': 0.05}),
  ('steps_per_epoch', 1, 10**8, True, {}),
  ('freeze_backbone_steps', 0, 1000, True, {'train_steps': 1000}),
  ('backbone_lr_multiplier', 0, 10, False, {}),
  ('lr_reference_batch', 1, 4096, True, {}),  # Or None: not scaled.
]


@pytest.mark.parametrize('name,low,high,integer,others', _TRAIN_NUMBERS)
def test_train_numbers_are_checked_at_both_bounds(
  name, low, high, integer, others
):
  _assert_checked_at_bounds(
    TrainConfig, 'train', name, low, high, integer, others
  )


@pytest.mark.parametrize(
  'steps,per_epoch,expected',
  [(700, 50, 50), (1000, 300, 250), (7, 50, 7), (13, 5, 1)],
)
def test_exact_steps_per_epoch_divides_train_steps(steps, per_epoch, expected):
  config = TrainConfig(train_steps=steps, steps_per_epoch=per_epoch)
  assert config.exact_steps_per_epoch == expected
  assert steps % expected == 0


@pytest.mark.parametrize(
  'steps,frozen,per_epoch,expected',
  [(1000, 300, 250, 100), (1000, 1000, 250, 250), (100, 30, 50, 10)],
)
def test_epochs_end_where_the_backbone_thaws(
  steps, frozen, per_epoch, expected
):
  config = TrainConfig(
    train_steps=steps, freeze_backbone_steps=frozen, steps_per_epoch=per_epoch
  )
  assert config.exact_steps_per_epoch == expected
  assert steps % expected == 0 and frozen % expected == 0
