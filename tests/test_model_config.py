"""ModelConfig: bad values fail at construction, naming the value."""

import pytest

from model.config import ModelConfig


@pytest.mark.parametrize('kwargs,message', [
    ({'backbone': 'resnet50'}, "backbone='resnet50'"),
    ({'head': 'fcn'}, "head='fcn'"),
    ({'output_stride': 4}, 'output_stride=4'),
    ({'num_classes': -3}, 'num_classes=-3'),
    ({'num_classes': 1}, 'num_classes=1'),
    ({'input_size': 100, 'output_stride': 16}, 'input_size=100'),
    ({'input_size': 16}, 'input_size=16'),
    ({'depth_multiplier': 0}, 'depth_multiplier=0'),
    ({'channel_divisor': 0}, 'channel_divisor=0'),
    ({'depth_multiplier': 0.5, 'backbone_weights': 'imagenet'},
     'set channel_divisor=8'),
])
def test_bad_config_names_the_value(kwargs, message):
  with pytest.raises(ValueError, match='Invalid model config') as error:
    ModelConfig(**kwargs)
  assert message in str(error.value)


@pytest.mark.parametrize('input_size,output_stride', [(513, 16), (512, 32),
                                                      (257, 8), (64, 16)])
def test_deeplab_input_sizes_are_accepted(input_size, output_stride):
  assert ModelConfig(input_size=input_size,
                     output_stride=output_stride).input_size == input_size


def test_round_trips_through_a_dict():
  config = ModelConfig(backbone='mobilenet_v3_small', head='lraspp',
                       num_classes=7, channel_divisor=8)
  assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize('kwargs,divisor', [
    ({}, 8),
    ({'depth_multiplier': 0.5}, 1),
    ({'depth_multiplier': 0.5, 'channel_divisor': 8}, 8),
    ({'backbone': 'mobilenet_v3_large', 'depth_multiplier': 0.75}, 8),
])
def test_width_divisor_follows_the_reference_rule(kwargs, divisor):
  assert ModelConfig(**kwargs).width_divisor == divisor
