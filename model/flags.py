"""Command-line flags for ModelConfig, declared once.

pipeline_runner.py (where an unset flag keeps the preset's value) and
`python -m model.profile` (where it takes ModelConfig's default) define the
same flags through `define_model_flags`; the choices come from model.config.
"""

import dataclasses
from typing import Any, Collection, Dict, Optional

from absl import flags

from model import config as model_config

_HELP = {
  'backbone': 'Backbone network.',
  'depth_multiplier': 'Backbone width multiplier, 0.05 to 2.',
  'output_stride': f'Output stride: one of {model_config.OUTPUT_STRIDES}.',
  'head': 'Segmentation head.',
  'aspp': 'deeplabv3plus: use ASPP.',
  'decoder': 'deeplabv3plus: use the decoder.',
  'quant_friendly': 'Quantization-friendly separable convs (arXiv 1803.08607).',
  'num_classes': 'Classes including background.',
  'input_size': 'Model input size S (S x S), 32 to 2048.',
  'backbone_weights': "'imagenet' (downloads when online) or a local "
  'Keras weights file for the backbone.',
  'channel_divisor': 'Round backbone widths to multiples of this (8 to '
  'load ImageNet weights at depth multipliers other '
  "than 1; default: DeepLab's rule, see "
  'docs/models.md).',
}
_CHOICES = {
  'backbone': model_config.BACKBONES,
  'head': model_config.HEADS,
}


def define_model_flags(
  defaults: Optional[model_config.ModelConfig] = None,
  exclude: Collection[str] = (),
  flag_values: flags.FlagValues = flags.FLAGS,
) -> None:
  """One flag per ModelConfig field but `exclude`.

  Args:
    defaults: the flags' defaults; None leaves every flag unset (None), so
      that `model_overrides` returns only what the user gave.
    exclude: fields that are not flags (e.g. num_classes, which a pipeline
      takes from the dataset's labels).
    flag_values: where to define them.
  """
  for field in dataclasses.fields(model_config.ModelConfig):
    name = field.name
    if name in exclude:
      continue
    default = getattr(defaults, name) if defaults else None
    kind = _kind(field)
    if name in _CHOICES:
      flags.DEFINE_enum(
        name, default, _CHOICES[name], _HELP[name], flag_values=flag_values
      )
    elif kind is bool:
      flags.DEFINE_bool(name, default, _HELP[name], flag_values=flag_values)
    elif kind is int:
      flags.DEFINE_integer(name, default, _HELP[name], flag_values=flag_values)
    elif kind is float:
      flags.DEFINE_float(name, default, _HELP[name], flag_values=flag_values)
    else:
      flags.DEFINE_string(name, default, _HELP[name], flag_values=flag_values)


def model_overrides(
  flag_values: flags.FlagValues = flags.FLAGS,
) -> Dict[str, Any]:
  """{field: value} of the ModelConfig flags that are set (not None)."""
  names = [f.name for f in dataclasses.fields(model_config.ModelConfig)]
  return {
    name: flag_values[name].value
    for name in names
    if name in flag_values and flag_values[name].value is not None
  }


def _kind(field: dataclasses.Field) -> Any:
  """bool, int, float or str: the field's type, Optional[...] unwrapped."""
  kind = field.type
  for candidate in (bool, int, float):
    if kind in (candidate, candidate.__name__) or kind == Optional[candidate]:
      return candidate
  return str
