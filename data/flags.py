"""The data flags, declared once: pipeline_runner.py (absl) and
`python -m data.convert` (argparse) both take them from `SETTINGS`, and
`build_config` turns their values into one data.config.DataConfig.

Each format's own options become flags named `<format>_<field>` (e.g.
`--voc_aug`), their help beside the field (`metadata['help']`), so that a
new option is a new field and nothing else. A format's flag set while
another format is read is an error, not silently ignored.
"""

import argparse
import dataclasses
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from data import config as config_lib
from data import datasets
from data import images
from data import labels
from data.readers import source


class Setting(NamedTuple):
  name: str
  kind: type  # str, bool, int or float.
  default: Any
  help: str
  choices: Optional[Tuple[str, ...]] = None


def _settings() -> Tuple[Setting, ...]:
  return (
    Setting(
      'format',
      str,
      None,
      '; '.join(
        f'{d.name}: {d.description}' for d in datasets.DATASETS.values()
      )
      + ' (docs/data.md).',
      tuple(datasets.DATASETS),
    ),
    Setting('data_root', str, None, 'The dataset folder (docs/data.md).'),
    Setting(
      'labels',
      str,
      '',
      'The label set: ' + ', '.join(labels.NAMED) + ', or a file: '
      'labels.txt (one name per line, id = line number) or a CVAT '
      'labelmap.txt. Source classes outside it are background. Default: '
      "the format's own (coco needs one).",
    ),
    Setting(
      'class_map',
      str,
      '',
      'A JSON file of source class name -> label name, to rename or merge '
      'classes into the label set.',
    ),
    Setting(
      'eval_fraction',
      float,
      source.DEFAULT_EVAL_FRACTION,
      'Datasets without split lists: share of images hashed into eval '
      f'(by image/filename), {1 / source.HASH_BUCKETS} to '
      f'{1 - 1 / source.HASH_BUCKETS}.',
    ),
    Setting(
      'skip_bad_examples',
      bool,
      False,
      'Skip and count bad inputs instead of failing.',
    ),
    Setting(
      'max_image_pixels',
      int,
      images.DEFAULT_MAX_IMAGE_PIXELS,
      'Images, masks and annotations of more pixels (width x height) are '
      'bad examples, refused before they are decoded; 1 to 2^31.',
    ),
  ) + tuple(
    Setting(name, _kind(field), field.default, field.metadata['help'])
    for name, (_, field) in _option_fields().items()
  )


def _option_fields() -> Dict[str, Tuple[str, dataclasses.Field]]:
  """Flag name -> (format, options field), for every format's options."""
  return {
    f'{d.name}_{field.name}': (d.name, field)
    for d in datasets.DATASETS.values()
    for field in dataclasses.fields(d.options)
  }


def _kind(field: dataclasses.Field) -> type:
  for kind in (bool, int, float):
    if field.type in (kind, kind.__name__):
      return kind
  return str


SETTINGS = _settings()


def define_absl_flags(flag_values, format_default: str) -> None:
  """The settings as absl flags (pipeline_runner.py)."""
  from absl import flags  # pylint: disable=g-import-not-at-top

  for s in SETTINGS:
    default = format_default if s.name == 'format' else s.default
    if s.choices:
      flags.DEFINE_enum(
        s.name, default, s.choices, s.help, flag_values=flag_values
      )
      continue
    define = {
      bool: flags.DEFINE_bool,
      int: flags.DEFINE_integer,
      float: flags.DEFINE_float,
      str: flags.DEFINE_string,
    }[s.kind]
    define(s.name, default, s.help, flag_values=flag_values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """The settings as argparse options (data.convert); format, data_root
  required, and only the formats it converts."""
  for s in SETTINGS:
    name = '--' + s.name
    if s.kind is bool:
      parser.add_argument(name, action='store_true', help=s.help)
    elif s.name == 'format':
      parser.add_argument(
        name, required=True, choices=datasets.CONVERT_FORMATS, help=s.help
      )
    elif s.name == 'data_root':
      parser.add_argument(name, required=True, help=s.help)
    else:
      parser.add_argument(name, type=s.kind, default=s.default, help=s.help)


def build_config(values: Mapping[str, Any]) -> config_lib.DataConfig:
  """The DataConfig of the settings' values (data_root already resolved).

  ValueError when an option of another format was set.
  """
  fmt = values['format']
  options = {}
  for name, (owner, field) in _option_fields().items():
    value = values.get(name, field.default)
    if owner == fmt:
      options[field.name] = value
    elif value != field.default:
      raise ValueError(f'--{name} is for --format {owner}, not {fmt}')
  return config_lib.build(
    fmt,
    values['data_root'],
    labels=values.get('labels') or '',
    class_map=values.get('class_map') or '',
    eval_fraction=values['eval_fraction'],
    skip_bad_examples=values['skip_bad_examples'],
    max_image_pixels=values['max_image_pixels'],
    options=datasets.get(fmt).options(**options),
  )


def names() -> List[str]:
  """The flag names, e.g. for a runner that reads them back."""
  return [s.name for s in SETTINGS]
