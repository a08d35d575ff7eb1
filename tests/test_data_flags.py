"""data.flags: the data flags, declared once for absl and argparse."""

import argparse

from absl import flags
import pytest

from data import flags as data_flags
from data import labels
from data.readers import voc


def test_both_parsers_get_every_setting_with_the_same_defaults(tmp_path):
  parser = argparse.ArgumentParser()
  data_flags.add_arguments(parser)
  args = parser.parse_args(['--format', 'voc', '--data_root', str(tmp_path)])
  absl_flags = flags.FlagValues()
  data_flags.define_absl_flags(absl_flags, format_default='demo')
  absl_flags(['prog'])
  assert data_flags.names() == [s.name for s in data_flags.SETTINGS]
  for name in data_flags.names():
    if name not in ('format', 'data_root'):
      assert getattr(args, name) == absl_flags[name].value, name
  # Options of each format, named <format>_<field>, help from the field.
  assert 'voc_aug' in data_flags.names()
  assert 'demo_images' in data_flags.names()
  assert absl_flags['voc_aug'].help.startswith('voc: train on the SBD')


def test_build_config_gives_each_format_its_own_options(tmp_path):
  values = {s.name: s.default for s in data_flags.SETTINGS}
  values.update(format='voc', data_root=str(tmp_path), voc_aug=True)
  config = data_flags.build_config(values)
  assert config.options == voc.VocOptions(aug=True)
  assert config.labels == labels.VOC_CLASSES
  values.update(format='people')
  with pytest.raises(ValueError, match='--voc_aug is for --format voc'):
    data_flags.build_config(values)
