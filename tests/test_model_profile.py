"""Model sizes against the published tables (params within 2%/3%)."""

import json
import os
import subprocess
import sys

import pytest
import tf_keras

from model import profile
from model.config import ModelConfig

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _relative_error(value, published):
  return abs(value - published) / published


@pytest.mark.parametrize(
  'depth_multiplier,params,madds',
  [
    # MobileNetV2 paper (arXiv 1801.04381) Table 7, "MNet V2*, OS 16, no
    # ASPP, no MF": 2.11M params, 2.75B MAdds.
    (1.0, 2.11e6, 2.75e9),
    # DeepLab model zoo (tensorflow/models research/deeplab
    # g3doc/model_zoo.md), mobilenetv2_dm05_coco_voc_trainaug: 0.88B MAdds.
    (0.5, None, 0.88e9),
  ],
)
def test_mobilenet_v2_deeplabv3_matches_published(
  depth_multiplier, params, madds
):
  measured = profile.profile(
    ModelConfig(
      backbone='mobilenet_v2',
      depth_multiplier=depth_multiplier,
      output_stride=16,
      aspp=False,
      decoder=False,
      input_size=513,
      num_classes=21,
    )
  )
  assert _relative_error(measured['madds'], madds) < 0.02
  if params:
    assert _relative_error(measured['params'], params) < 0.02


@pytest.mark.parametrize(
  'backbone,params,madds',
  [
    # MobileNetV3 paper (arXiv 1905.02244) Table 3, 224x224, multiplier 1.0.
    ('mobilenet_v3_large', 5.4e6, 219e6),
    ('mobilenet_v3_small', 2.5e6, 56e6),
  ],
)
def test_imagenet_classifiers_match_published(backbone, params, madds):
  config = ModelConfig(
    backbone=backbone, output_stride=32, input_size=224, num_classes=1000
  )
  measured = profile.profile(config, classifier=True)
  assert _relative_error(measured['params'], params) < 0.03
  assert _relative_error(measured['madds'], madds) < 0.03
  assert measured['model'] == f'{backbone}_classifier'
  assert measured['config'] == config.to_dict()
  # BatchNorm's moving statistics count in the total, not in params.
  assert measured['params'] < measured['total_params']


def test_madds_are_counted_by_hand_on_a_tiny_model():
  image = tf_keras.Input((10, 10, 4))
  x = tf_keras.layers.Conv2D(8, 3, strides=2, padding='same')(image)
  x = tf_keras.layers.DepthwiseConv2D(3, padding='same')(x)
  x = tf_keras.layers.GlobalAveragePooling2D()(x)
  x = tf_keras.layers.Dense(6)(x)
  model = tf_keras.Model(image, x)
  madds = profile.count_madds(model)
  assert madds == 5 * 5 * 8 * 9 * 4 + 5 * 5 * 8 * 9 + 8 * 6
  assert isinstance(madds, int)  # Printed as a count, not as 14448.0.


def _profile_command(*flags):
  """`python -m model.profile` as a person runs it: its one JSON object."""
  env = dict(os.environ, TF_USE_LEGACY_KERAS='1', TF_CPP_MIN_LOG_LEVEL='3')
  result = subprocess.run(
    [sys.executable, '-m', 'model.profile', *flags],
    cwd=_ROOT,
    env=env,
    capture_output=True,
    text=True,
    check=True,
  )
  return json.loads(result.stdout)


def test_command_line_prints_one_json_object():
  report = _profile_command(
    '--backbone=mobilenet_v2',
    '--depth_multiplier=1.0',
    '--output_stride=16',
    '--aspp=false',
    '--decoder=false',
    '--input_size=513',
    '--num_classes=21',
  )
  assert report['params'] == 2113557
  assert report['madds'] == 2740709056
  assert report['config']['output_stride'] == 16
  assert report['model'] == 'mobilenet_v2_1.0_deeplabv3plus_os16'


def test_command_line_classifier_flag_profiles_the_imagenet_classifier():
  """--classifier reaches profile(): MobileNetV2 1.0 at 224 is the paper's
  3.4M-parameter, 300M-MAdd classifier (arXiv 1801.04381, Table 3), and its
  total is Keras's MobileNetV2 count_params(), 3,538,984."""
  report = _profile_command(
    '--classifier',
    '--backbone=mobilenet_v2',
    '--output_stride=32',
    '--input_size=224',
    '--num_classes=1000',
  )
  assert report['model'] == 'mobilenet_v2_classifier'
  assert report['params'] == 3504872
  assert report['total_params'] == 3538984
  assert report['madds'] == 300774272
