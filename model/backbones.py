"""MobileNetV2 / V3 backbones as block-spec tables, with atrous late stages.

Each architecture is data: a table of inverted-bottleneck blocks copied from
its paper, plus the stem and the last 1x1 conv. One loop (`build_backbone`)
turns any table into a tf_keras model that returns named feature levels:
level L is the last feature map at nominal stride 2**L, so heads ask for
'2' (OS 4, decoder), '3' (OS 8, LR-ASPP) or '5' (the top) without knowing
the backbone.

Layer names are those of `tf_keras.applications` (MobileNetV2 and
MobileNetV3), so their ImageNet weights copy over layer by layer
(`model.pretrained`).
"""

import dataclasses
import math
from typing import Dict, Optional, Tuple

import tf_keras

from model import layers as model_layers


@dataclasses.dataclass(frozen=True)
class Block:
  """One inverted bottleneck (MobileNetV2 paper, arXiv 1801.04381, fig. 3b).

  Attributes:
    kernel: depthwise kernel size.
    expansion: expanded channels / input channels ("t" in V2 Table 2, "exp
      size" / input channels in V3 Tables 1-2).
    filters: output channels at depth multiplier 1.
    stride: depthwise stride.
    squeeze_excite: squeeze-and-excite after the depthwise conv (V3 "SE").
    activation: 'relu6', 'relu' or 'hard_swish' (V3 "NL").
  """

  kernel: int
  expansion: float
  filters: int
  stride: int
  squeeze_excite: bool
  activation: str


@dataclasses.dataclass(frozen=True)
class KerasNames:
  """How tf_keras.applications names one family's layers."""

  stem: str
  stem_bn: str
  block_prefix: str  # block i > 0 is f'{block_prefix}{i}'.
  separator: str  # between a block prefix and its layer names.
  bn: str  # suffix of a conv's BatchNorm.
  add: str
  last_conv_bn: str

  def block(self, index: int) -> str:
    return f'{self.block_prefix}{index}' if index else 'expanded_conv'


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
  """A MobileNet: stem conv, block table, last 1x1 conv.

  Attributes:
    stem_filters: 3x3 stride-2 stem conv width.
    stem_scales: whether the depth multiplier applies to the stem (V2) or
      not (V3, whose stem is always 16).
    stem_activation: activation after the stem.
    blocks: the inverted bottlenecks, in order.
    last_conv_filters: width of the final 1x1 conv; None means six times the
      last block's width (V3: 960 = 6 x 160, 576 = 6 x 96).
    last_activation: activation after the final 1x1 conv.
    names: layer naming of the matching Keras application.
    classifier_filters: width of the 1x1 conv between pooling and logits of
      the ImageNet classifier (V3 Tables 1-2: 1280, 1024); None for V2,
      which classifies the pooled features directly.
    se_ratio: squeeze-excite bottleneck ratio (V3 paper, section 5.3).
  """

  stem_filters: int
  stem_scales: bool
  stem_activation: str
  blocks: Tuple[Block, ...]
  last_conv_filters: Optional[int]
  last_activation: str
  names: KerasNames
  classifier_filters: Optional[int] = None
  se_ratio: float = 0.25


def _v2_blocks() -> Tuple[Block, ...]:
  """MobileNetV2 paper, Table 2: rows (t, c, n, s), each expanded to n blocks.

  Only the first block of a row strides.
  """
  rows = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
  )
  return tuple(
    Block(3, t, c, s if i == 0 else 1, False, 'relu6')
    for t, c, n, s in rows
    for i in range(n)
  )


# MobileNetV3 paper (arXiv 1905.02244) Table 1: (kernel, exp size / input
# channels, #out, SE, NL, s).
_V3_LARGE = (
  Block(3, 1, 16, 1, False, 'relu'),
  Block(3, 64 / 16, 24, 2, False, 'relu'),
  Block(3, 72 / 24, 24, 1, False, 'relu'),
  Block(5, 72 / 24, 40, 2, True, 'relu'),
  Block(5, 120 / 40, 40, 1, True, 'relu'),
  Block(5, 120 / 40, 40, 1, True, 'relu'),
  Block(3, 240 / 40, 80, 2, False, 'hard_swish'),
  Block(3, 200 / 80, 80, 1, False, 'hard_swish'),
  Block(3, 2.3, 80, 1, False, 'hard_swish'),  # 184 = _depth(80 * 2.3)
  Block(3, 2.3, 80, 1, False, 'hard_swish'),
  Block(3, 480 / 80, 112, 1, True, 'hard_swish'),
  Block(3, 672 / 112, 112, 1, True, 'hard_swish'),
  Block(5, 672 / 112, 160, 2, True, 'hard_swish'),
  Block(5, 960 / 160, 160, 1, True, 'hard_swish'),
  Block(5, 960 / 160, 160, 1, True, 'hard_swish'),
)

# MobileNetV3 paper Table 2.
_V3_SMALL = (
  Block(3, 1, 16, 2, True, 'relu'),
  Block(3, 72 / 16, 24, 2, False, 'relu'),
  Block(3, 88 / 24, 24, 1, False, 'relu'),
  Block(5, 96 / 24, 40, 2, True, 'hard_swish'),
  Block(5, 240 / 40, 40, 1, True, 'hard_swish'),
  Block(5, 240 / 40, 40, 1, True, 'hard_swish'),
  Block(5, 120 / 40, 48, 1, True, 'hard_swish'),
  Block(5, 144 / 48, 48, 1, True, 'hard_swish'),
  Block(5, 288 / 48, 96, 2, True, 'hard_swish'),
  Block(5, 576 / 96, 96, 1, True, 'hard_swish'),
  Block(5, 576 / 96, 96, 1, True, 'hard_swish'),
)

_V2_NAMES = KerasNames(
  stem='Conv1',
  stem_bn='bn_Conv1',
  block_prefix='block_',
  separator='_',
  bn='_BN',
  add='add',
  last_conv_bn='Conv_1_bn',
)
_V3_NAMES = KerasNames(
  stem='Conv',
  stem_bn='Conv/BatchNorm',
  block_prefix='expanded_conv_',
  separator='/',
  bn='/BatchNorm',
  add='Add',
  last_conv_bn='Conv_1/BatchNorm',
)

SPECS: Dict[str, BackboneSpec] = {
  'mobilenet_v2': BackboneSpec(
    stem_filters=32,
    stem_scales=True,
    stem_activation='relu6',
    blocks=_v2_blocks(),
    last_conv_filters=1280,
    last_activation='relu6',
    names=_V2_NAMES,
  ),
  'mobilenet_v3_large': BackboneSpec(
    stem_filters=16,
    stem_scales=False,
    stem_activation='hard_swish',
    blocks=_V3_LARGE,
    last_conv_filters=None,
    last_activation='hard_swish',
    names=_V3_NAMES,
    classifier_filters=1280,
  ),
  'mobilenet_v3_small': BackboneSpec(
    stem_filters=16,
    stem_scales=False,
    stem_activation='hard_swish',
    blocks=_V3_SMALL,
    last_conv_filters=None,
    last_activation='hard_swish',
    names=_V3_NAMES,
    classifier_filters=1024,
  ),
}


def make_divisible(value: float, divisor: int = 8) -> int:
  """Round a width to a multiple of `divisor`, never more than 10% down.

  The rounding of the reference implementations (slim mobilenet, Keras
  applications), needed to reproduce their exact channel counts. With
  divisor 1 it is plain rounding (DeepLab's MobileNetV2 at depth multipliers
  other than 1).
  """
  rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
  if rounded < 0.9 * value:
    rounded += divisor
  return rounded


def build_backbone(
  name: str,
  input_size: int,
  *,
  depth_multiplier: float = 1.0,
  output_stride: int = 32,
  quant_friendly: bool = False,
  include_last_conv: bool = True,
  channel_divisor: int = 8,
) -> tf_keras.Model:
  """Builds a backbone that maps normalized images to named feature levels.

  Args:
    name: a key of SPECS.
    input_size: side of the square input.
    depth_multiplier: width multiplier ("alpha" in Keras applications).
    output_stride: once the running stride reaches it, later blocks stop
      striding and dilate instead (DeepLabV3, arXiv 1706.05587, section 3.1;
      the rule of slim's mobilenet `output_stride`).
    quant_friendly: no BN/activation after depthwise convs and ReLU instead
      of ReLU6 (arXiv 1803.08607).
    include_last_conv: keep the final 1x1 conv. Keras applications keep it
      without their top; DeepLab's MobileNetV2 drops it ("MNetV2*" in
      MobileNetV2 paper Table 7) and reads the 320-channel block output.
    channel_divisor: stem and block widths are rounded to multiples of it
      after the depth multiplier (see `ModelConfig.channel_divisor`).
      Expanded widths always round to 8, as in slim and Keras.

  Returns:
    A model from float32 [B, S, S, 3] images in [-1, 1] to a dict
    {level: feature map}, levels '1'..'5' as strings.
  """
  spec = SPECS[name]
  names = spec.names
  inputs = tf_keras.Input((input_size, input_size, 3), name='normalized_image')

  stem_filters = spec.stem_filters
  if spec.stem_scales:
    stem_filters = make_divisible(
      stem_filters * depth_multiplier, channel_divisor
    )
  x = tf_keras.layers.Conv2D(
    stem_filters, 3, strides=2, padding='same', use_bias=False, name=names.stem
  )(inputs)
  x = model_layers.batch_norm(names.stem_bn)(x)
  x = model_layers.activation(
    _nonlinearity(spec.stem_activation, quant_friendly), f'{names.stem}/act'
  )(x)

  features = {}
  nominal_stride, stride, rate = 2, 2, 1
  for index, block in enumerate(spec.blocks):
    block_stride, block_rate = block.stride, rate
    if block.stride > 1:
      features[_level(nominal_stride)] = x
      nominal_stride *= block.stride
      if stride >= output_stride:
        block_stride, rate = 1, rate * block.stride
      else:
        stride *= block.stride
    x = _inverted_bottleneck(
      x,
      block,
      prefix=names.block(index),
      names=names,
      filters=make_divisible(block.filters * depth_multiplier, channel_divisor),
      stride=block_stride,
      rate=block_rate,
      se_ratio=spec.se_ratio,
      quant_friendly=quant_friendly,
    )

  if include_last_conv:
    x = tf_keras.layers.Conv2D(
      _last_conv_filters(spec, x.shape[-1], depth_multiplier),
      1,
      use_bias=False,
      name='Conv_1',
    )(x)
    x = model_layers.batch_norm(names.last_conv_bn)(x)
    x = model_layers.activation(
      _nonlinearity(spec.last_activation, quant_friendly), 'Conv_1/act'
    )(x)
  features[_level(nominal_stride)] = x
  return tf_keras.Model(inputs, features, name=name)


def _inverted_bottleneck(
  x,
  block: Block,
  *,
  prefix: str,
  names: KerasNames,
  filters: int,
  stride: int,
  rate: int,
  se_ratio: float,
  quant_friendly: bool,
):
  """Expand 1x1 -> depthwise -> (SE) -> linear project 1x1 (+ residual)."""
  act = model_layers.activation
  kind = _nonlinearity(block.activation, quant_friendly)
  sep = names.separator
  shortcut = x
  in_filters = x.shape[-1]
  expanded = make_divisible(in_filters * block.expansion)
  if block.expansion != 1:
    x = tf_keras.layers.Conv2D(
      expanded, 1, use_bias=False, name=f'{prefix}{sep}expand'
    )(x)
    x = model_layers.batch_norm(f'{prefix}{sep}expand{names.bn}')(x)
    x = act(kind, f'{prefix}{sep}expand{sep}act')(x)
  x = tf_keras.layers.DepthwiseConv2D(
    block.kernel,
    strides=stride,
    dilation_rate=rate,
    padding='same',
    use_bias=False,
    name=f'{prefix}{sep}depthwise',
  )(x)
  if not quant_friendly:
    x = model_layers.batch_norm(f'{prefix}{sep}depthwise{names.bn}')(x)
    x = act(kind, f'{prefix}{sep}depthwise{sep}act')(x)
  if block.squeeze_excite:
    x = _squeeze_excite(
      x,
      make_divisible(expanded * se_ratio),
      prefix=f'{prefix}{sep}squeeze_excite',
    )
  x = tf_keras.layers.Conv2D(
    filters, 1, use_bias=False, name=f'{prefix}{sep}project'
  )(x)
  x = model_layers.batch_norm(f'{prefix}{sep}project{names.bn}')(x)
  if block.stride == 1 and in_filters == filters:
    x = tf_keras.layers.Add(name=f'{prefix}{sep}{names.add}')([shortcut, x])
  return x


def _squeeze_excite(x, bottleneck: int, *, prefix: str):
  """Channel attention (arXiv 1709.01507) with V3's hard sigmoid gate."""
  gate = tf_keras.layers.GlobalAveragePooling2D(
    keepdims=True, name=f'{prefix}/AvgPool'
  )(x)
  gate = tf_keras.layers.Conv2D(bottleneck, 1, name=f'{prefix}/Conv')(gate)
  gate = tf_keras.layers.ReLU(name=f'{prefix}/Relu')(gate)
  gate = tf_keras.layers.Conv2D(x.shape[-1], 1, name=f'{prefix}/Conv_1')(gate)
  gate = model_layers.HardSigmoid(name=f'{prefix}/HardSigmoid')(gate)
  return tf_keras.layers.Multiply(name=f'{prefix}/Mul')([x, gate])


def _last_conv_filters(
  spec: BackboneSpec, in_filters: int, depth_multiplier: float
) -> int:
  if spec.last_conv_filters is None:
    return make_divisible(in_filters * 6)
  # MobileNetV2 paper section 5.1: the last conv is not thinned below 1280.
  return make_divisible(spec.last_conv_filters * max(1.0, depth_multiplier))


def _nonlinearity(kind: str, quant_friendly: bool) -> str:
  """quant_friendly swaps ReLU6 for ReLU (arXiv 1803.08607)."""
  return 'relu' if quant_friendly and kind == 'relu6' else kind


def _level(stride: int) -> str:
  return str(int(math.log2(stride)))
