r"""Size of a model variant: parameters and multiply-adds, as papers count them.

  python -m model.profile --backbone=mobilenet_v2 --depth_multiplier=1.0 \
      --output_stride=16 --aspp=false --decoder=false --input_size=513 \
      --num_classes=21
  python -m model.profile --classifier --backbone=mobilenet_v3_large \
      --output_stride=32 --input_size=224 --num_classes=1000

prints one JSON object. `params` counts trainable weights (BatchNorm moving
statistics are not parameters: the MobileNetV2 paper's 2.11M for DeepLabV3
is the trainable count); `total_params` adds them, as Keras'
`count_params()` does. `madds` counts the multiply-adds of convolutions and
dense layers in one forward pass of one image; like the papers, it leaves
out BatchNorm (folded at inference), activations, pooling and resizes.
"""

import json
from typing import Any, Dict, Iterator

from absl import app
from absl import flags
import numpy as np
import tf_keras

from model import builder
from model.config import ModelConfig

_DEFAULTS = ModelConfig()

_BACKBONE = flags.DEFINE_string('backbone', _DEFAULTS.backbone, 'Backbone.')
_DEPTH_MULTIPLIER = flags.DEFINE_float(
    'depth_multiplier', _DEFAULTS.depth_multiplier, 'Width multiplier.')
_OUTPUT_STRIDE = flags.DEFINE_integer(
    'output_stride', _DEFAULTS.output_stride, 'Output stride: 8, 16 or 32.')
_HEAD = flags.DEFINE_string('head', _DEFAULTS.head, 'deeplabv3plus or lraspp.')
_ASPP = flags.DEFINE_boolean('aspp', _DEFAULTS.aspp, 'Atrous rates in ASPP.')
_DECODER = flags.DEFINE_boolean('decoder', _DEFAULTS.decoder,
                                'DeepLabV3+ decoder.')
_QUANT_FRIENDLY = flags.DEFINE_boolean(
    'quant_friendly', _DEFAULTS.quant_friendly, 'arXiv 1803.08607 convs.')
_NUM_CLASSES = flags.DEFINE_integer('num_classes', _DEFAULTS.num_classes,
                                    'Classes including background.')
_INPUT_SIZE = flags.DEFINE_integer('input_size', _DEFAULTS.input_size,
                                   'Side of the square input.')
_CHANNEL_DIVISOR = flags.DEFINE_integer(
    'channel_divisor', None, 'Width rounding; default: the reference rule.')
_CLASSIFIER = flags.DEFINE_boolean(
    'classifier', False,
    'Profile the backbone as its ImageNet classifier instead.')


def profile(config: ModelConfig, classifier: bool = False) -> Dict[str, Any]:
  """Builds the model of a config and measures it."""
  model = (builder.build_classifier(config) if classifier
           else builder.build_model(config))
  return {
      'model': model.name,
      'config': config.to_dict(),
      'params': int(sum(np.prod(w.shape) for w in model.trainable_weights)),
      'total_params': int(model.count_params()),
      'madds': count_madds(model),
  }


def count_madds(model: tf_keras.Model) -> int:
  """Multiply-adds of convolutions and dense layers, batch size 1."""
  total = 0
  for layer in _leaf_layers(model):
    if isinstance(layer, tf_keras.layers.DepthwiseConv2D):
      height, width, channels = layer.output.shape[1:]
      total += height * width * channels * np.prod(layer.kernel_size)
    elif isinstance(layer, tf_keras.layers.Conv2D):
      height, width, channels = layer.output.shape[1:]
      total += (height * width * channels * np.prod(layer.kernel_size) *
                layer.input.shape[-1] // layer.groups)
    elif isinstance(layer, tf_keras.layers.Dense):
      total += layer.input.shape[-1] * layer.units
  return int(total)


def _leaf_layers(model: tf_keras.Model) -> Iterator[tf_keras.layers.Layer]:
  for layer in model.layers:
    if isinstance(layer, tf_keras.Model):
      yield from _leaf_layers(layer)
    else:
      yield layer


def main(argv):
  del argv
  config = ModelConfig(
      backbone=_BACKBONE.value, depth_multiplier=_DEPTH_MULTIPLIER.value,
      output_stride=_OUTPUT_STRIDE.value, head=_HEAD.value, aspp=_ASPP.value,
      decoder=_DECODER.value, quant_friendly=_QUANT_FRIENDLY.value,
      num_classes=_NUM_CLASSES.value, input_size=_INPUT_SIZE.value,
      channel_divisor=_CHANNEL_DIVISOR.value)
  print(json.dumps(profile(config, _CLASSIFIER.value)))


if __name__ == '__main__':
  app.run(main)
