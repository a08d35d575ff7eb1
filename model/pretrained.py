"""ImageNet initialisation of backbones from Keras applications weights.

The backbones use the layer names of `tf_keras.applications`, so we build the
matching application with the requested weights (Keras downloads and caches
the 'imagenet' file, or loads a local file) and copy its weights layer by
layer. Every weighted backbone layer must find its twin with the same shapes:
a partial load would silently train from a half-random network.
"""

import tensorflow as tf
import tf_keras

from model.config import ModelConfig

_APPLICATIONS = {
  'mobilenet_v2': tf_keras.applications.MobileNetV2,
  'mobilenet_v3_large': tf_keras.applications.MobileNetV3Large,
  'mobilenet_v3_small': tf_keras.applications.MobileNetV3Small,
}

# Keras applications publish ImageNet weights at 224x224; without their top
# the weights fit any input size.
_APPLICATION_INPUT_SIZE = 224


def load_backbone_weights(
  backbone: tf_keras.Model, config: ModelConfig
) -> None:
  """Loads `config.backbone_weights` ('imagenet' or a path) into backbone."""
  copy_weights(keras_application(config), backbone)


def keras_application(config: ModelConfig) -> tf_keras.Model:
  """The Keras application twin of a backbone, with its weights loaded."""
  application = _APPLICATIONS[config.backbone]
  weights = config.backbone_weights
  described = (
    f'tf_keras.applications.{application.__name__}'
    f'(alpha={config.depth_multiplier}, include_top=False)'
  )
  if weights != 'imagenet' and not tf.io.gfile.exists(weights):
    raise FileNotFoundError(
      f"backbone_weights={weights!r}: no such file. Pass 'imagenet' or "
      f'the path of a weights file saved from {described}.'
    )
  size = _APPLICATION_INPUT_SIZE
  try:
    return application(
      input_shape=(size, size, 3),
      alpha=config.depth_multiplier,
      include_top=False,
      weights=weights,
    )
  except ValueError as error:  # Keras' checks: alpha, shapes, layer count.
    raise ValueError(
      f'backbone_weights={weights!r}: cannot load into {described}: {error}'
    ) from error
  except Exception as error:  # Keras raises bare Exception on fetch failure.
    if weights == 'imagenet':
      raise RuntimeError(
        f"backbone_weights='imagenet': could not load the ImageNet weights "
        f'of {described}: {error}. Offline, Keras cannot download them: '
        'copy the weights file onto this machine and pass its path as '
        'backbone_weights instead.'
      ) from error
    raise ValueError(
      f'backbone_weights={weights!r}: not a weights file of {described}: '
      f'{error}'
    ) from error


def copy_weights(source: tf_keras.Model, target: tf_keras.Model) -> None:
  """Copies weights by layer name; every weighted target layer must match.

  Source layers the target lacks are fine: the last 1x1 conv that DeepLab's
  MobileNetV2 drops, or the depthwise BatchNorms a quant-friendly backbone
  drops.
  """
  source_layers = {layer.name: layer for layer in source.layers}
  for layer in target.layers:
    if not layer.weights:
      continue
    twin = source_layers.get(layer.name)
    if twin is None:
      raise ValueError(
        f'layer {layer.name!r} of backbone {target.name!r} has no '
        f'counterpart in {source.name!r}: architectures differ'
      )
    target_shapes = [w.shape for w in layer.weights]
    source_shapes = [w.shape for w in twin.weights]
    if target_shapes != source_shapes:
      raise ValueError(
        f'layer {layer.name!r}: weight shapes {source_shapes} in '
        f'{source.name!r} but {target_shapes} in {target.name!r} '
        '(different depth_multiplier?)'
      )
    layer.set_weights(twin.get_weights())
