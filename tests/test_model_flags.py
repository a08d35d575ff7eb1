"""model.flags: one flag per config field, help and choices beside it."""

import dataclasses

from absl import flags
import pytest

from model import config as model_config
from model import flags as model_flags


def _flags(argv, **kwargs):
  values = flags.FlagValues()
  config_class = kwargs.pop('config_class', model_config.ModelConfig)
  model_flags.define_config_flags(config_class, flag_values=values, **kwargs)
  values(['prog'] + argv)
  return values


def test_unset_flags_are_left_out_of_the_overrides():
  values = _flags(
    [
      '--backbone=mobilenet_v3_small',
      '--nodecoder',
      '--output_stride=32',
      '--depth_multiplier=0.75',
    ],
    exclude=('num_classes',),
  )
  assert model_flags.config_overrides(model_config.ModelConfig, values) == {
    'backbone': 'mobilenet_v3_small',
    'decoder': False,
    'output_stride': 32,
    'depth_multiplier': 0.75,
  }
  assert 'num_classes' not in values


def test_defaults_from_a_config_make_every_field_a_value():
  values = _flags(
    [],
    defaults=model_config.ModelConfig(input_size=64),
    exclude=('backbone_weights',),
  )
  overrides = model_flags.config_overrides(model_config.ModelConfig, values)
  # channel_divisor's default is None: it stays unset, as in ModelConfig.
  expected = {
    f.name: getattr(model_config.ModelConfig(input_size=64), f.name)
    for f in dataclasses.fields(model_config.ModelConfig)
    if f.name not in ('backbone_weights', 'channel_divisor')
  }
  assert overrides == expected
  assert model_config.ModelConfig(**overrides) == model_config.ModelConfig(
    input_size=64
  )


def test_choices_are_the_config_modules():
  values = _flags([])
  assert tuple(values['backbone'].parser.enum_values) == (
    model_config.BACKBONES
  )
  assert tuple(values['head'].parser.enum_values) == model_config.HEADS
  with pytest.raises(flags.IllegalFlagValueError, match='resnet'):
    _flags(['--backbone=resnet'])


def test_types_follow_the_fields():
  values = _flags(
    ['--channel_divisor=8', '--backbone_weights=/w.h5', '--quant_friendly']
  )
  assert values.channel_divisor == 8
  assert values.backbone_weights == '/w.h5'
  assert values.quant_friendly is True
  with pytest.raises(flags.IllegalFlagValueError):
    _flags(['--input_size=big'])


def test_train_flags_come_from_train_config_fields():
  values = _flags(
    [
      '--optimizer=adam',
      '--freeze_backbone_steps=20',
      '--backbone_lr_multiplier=0.1',
      '--noaugment',
    ],
    config_class=model_config.TrainConfig,
  )
  overrides = model_flags.config_overrides(model_config.TrainConfig, values)
  assert overrides == {
    'optimizer': 'adam',
    'freeze_backbone_steps': 20,
    'backbone_lr_multiplier': 0.1,
    'augment': False,
  }
  assert tuple(values['optimizer'].parser.enum_values) == (
    model_config.OPTIMIZERS
  )
  # Every field is a flag, its help the text beside the field.
  for field in dataclasses.fields(model_config.TrainConfig):
    assert values[field.name].help.endswith(field.metadata['help'])
  with pytest.raises(flags.IllegalFlagValueError, match='rmsprop'):
    _flags(['--optimizer=rmsprop'], config_class=model_config.TrainConfig)


def test_a_field_without_help_is_no_flag():
  @dataclasses.dataclass(frozen=True)
  class Settings:
    steps: int = model_config.flag_field(1, 'Steps.')
    computed_path: str = ''

  values = _flags(['--steps=3'], config_class=Settings)
  assert 'computed_path' not in values
  assert model_flags.config_overrides(Settings, values) == {'steps': 3}


def test_every_model_and_train_field_is_a_flag():
  for config_class in (model_config.ModelConfig, model_config.TrainConfig):
    assert model_flags.flag_fields(config_class) == list(
      dataclasses.fields(config_class)
    )


@pytest.mark.parametrize(
  'config_class, text',
  [
    (model_config.ModelConfig, {'backbone_weights': 'imagenet'}),
    (model_config.TrainConfig, {'init_from': '/runs/parent'}),
  ],
)
def test_each_field_not_excluded_gets_its_default_and_help_suffix(
  config_class, text
):
  fields = list(model_flags.flag_fields(config_class))
  # The free-text fields default to None: give them a value to carry.
  defaults = config_class(**text)
  values = _flags(
    [],
    config_class=config_class,
    defaults=defaults,
    exclude=(fields[0].name,),  # Those after an excluded field still come.
    help_suffix=lambda name: f' (preset: {name})',
  )
  assert fields[0].name not in values
  for field in fields[1:]:
    flag = values[field.name]
    assert flag.default == getattr(defaults, field.name), field.name
    # An enum flag's help starts with its choices: <sgd|adam>: ...
    assert flag.help.endswith(
      f'{field.metadata["help"]} (preset: {field.name})'
    )
