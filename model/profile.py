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
from model import flags as model_flags
from model.config import ModelConfig


def profile(config: ModelConfig, classifier: bool = False) -> Dict[str, Any]:
  """Builds the model of a config and measures it."""
  model = (
    builder.build_classifier(config)
    if classifier
    else builder.build_model(config)
  )
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
      total += (
        height
        * width
        * channels
        * np.prod(layer.kernel_size)
        * layer.input.shape[-1]
        // layer.groups
      )
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
  config = ModelConfig(**model_flags.config_overrides(ModelConfig))
  print(json.dumps(profile(config, flags.FLAGS.classifier)))


if __name__ == '__main__':
  # Defined only when this module runs as a program, so that importing it
  # as a library (tests, bench/) leaves the importer's flags alone.
  model_flags.define_config_flags(
    ModelConfig, ModelConfig(), exclude=('backbone_weights',)
  )
  flags.adopt_module_key_flags(model_flags)  # Listed by --help.
  flags.DEFINE_boolean(
    'classifier', False, 'Profile the backbone as its ImageNet classifier.'
  )
  app.run(main)
