"""The model factory: `ModelConfig` -> tf_keras segmentation model.

Reads top to bottom like the DeepLabV3+ figure: normalize -> backbone
feature levels -> head -> upsample logits to the input size.
"""

import tf_keras

from model import backbones
from model import heads
from model import layers as model_layers
from model import pretrained
from model.config import ModelConfig


def build_model(config: ModelConfig) -> tf_keras.Model:
  """Builds the segmentation model a config describes.

  Args:
    config: the architecture; `config.backbone_weights` optionally loads
      ImageNet weights into the backbone (`model.pretrained`).

  Returns:
    A model from float32 [B, S, S, 3] RGB images with raw values in [0, 255]
    to float32 logits [B, S, S, num_classes], also when built under a
    mixed-precision policy (components.training does that).
  """
  backbone = backbones.build_backbone(
    config.backbone,
    config.input_size,
    depth_multiplier=config.depth_multiplier,
    output_stride=config.output_stride,
    quant_friendly=config.quant_friendly,
    # DeepLab reads MobileNetV2's 320-channel block ("MNetV2*", MobileNetV2
    # paper Table 7); MobileNetV3's last 1x1 conv is part of its last stage
    # (MobileNetV3 paper, section 5.1) and feeds the head.
    include_last_conv=config.backbone != 'mobilenet_v2',
    channel_divisor=config.width_divisor,
  )
  if config.backbone_weights:
    pretrained.load_backbone_weights(backbone, config)

  size = config.input_size
  image, normalized = _image_input(size)
  features = backbone(normalized)
  if config.head == 'deeplabv3plus':
    logits = heads.deeplabv3plus(
      features,
      num_classes=config.num_classes,
      output_stride=config.output_stride,
      aspp=config.aspp,
      decoder=config.decoder,
      quant_friendly=config.quant_friendly,
    )
  else:
    logits = heads.lraspp(features, num_classes=config.num_classes)
  logits = model_layers.resize_to(logits, (size, size), 'upsample_logits')
  if tf_keras.mixed_precision.global_policy().compute_dtype != 'float32':
    # Mixed precision: loss and softmax on float32 logits (Keras' guide:
    # the model's last layer runs in float32). No weights: the float32
    # build of the same config loads this one's weights as they are.
    logits = tf_keras.layers.Activation(
      'linear', dtype='float32', name='logits_float32'
    )(logits)
  return tf_keras.Model(image, logits, name=model_name(config))


def build_classifier(config: ModelConfig) -> tf_keras.Model:
  """The backbone as the ImageNet classifier of its paper.

  Only `backbone`, `depth_multiplier`, `quant_friendly`, `num_classes` and
  `input_size` matter; it exists to check the backbones against the
  published classifier sizes (`python -m model.profile --classifier`).
  """
  spec = backbones.SPECS[config.backbone]
  backbone = backbones.build_backbone(
    config.backbone,
    config.input_size,
    depth_multiplier=config.depth_multiplier,
    quant_friendly=config.quant_friendly,
    channel_divisor=config.width_divisor,
  )
  hidden = spec.classifier_filters
  if hidden and config.depth_multiplier > 1.0:
    hidden = backbones.make_divisible(hidden * config.depth_multiplier)
  image, normalized = _image_input(config.input_size)
  logits = heads.image_classifier(
    backbone(normalized), num_classes=config.num_classes, hidden_filters=hidden
  )
  return tf_keras.Model(image, logits, name=f'{config.backbone}_classifier')


def _image_input(size: int):
  """Raw RGB input and its normalization inside the model.

  Keras applications' MobileNet preprocessing, [0, 255] -> [-1, 1]; keeping
  it in the graph is what lets phones feed camera pixels as they are.
  """
  image = tf_keras.Input((size, size, 3), name='image')
  normalized = tf_keras.layers.Rescaling(
    1 / 127.5, offset=-1.0, name='normalize'
  )(image)
  return image, normalized


def model_name(config: ModelConfig) -> str:
  """A short readable name, e.g. 'mobilenet_v2_1.0_deeplabv3plus_os16'."""
  return (
    f'{config.backbone}_{config.depth_multiplier}_{config.head}'
    f'_os{config.output_stride}'
  )
