"""pipeline.config: presets, overrides and validation."""

import pytest

from model.config import ModelConfig
from pipeline import config

PEOPLE = ('background', 'person')


def build(preset='demo', overrides=None, labels=PEOPLE, **fields):
  return config.build_run_config(preset, dataset='demo', data_root='/d',
                                 output_dir='/o', labels=labels,
                                 overrides=overrides, **fields)


def test_preset_values_reach_model_and_training():
  run = build('people')
  assert run.model == ModelConfig(
      backbone='mobilenet_v2', output_stride=16, head='deeplabv3plus',
      aspp=False, decoder=True, quant_friendly=True, input_size=256,
      num_classes=2)
  assert (run.train.train_steps, run.train.base_lr) == (150000, 0.05)


def test_voc_preset_is_the_papers_recipe():
  run = build('voc', labels=tuple(f'c{i}' for i in range(21)))
  assert (run.model.input_size, run.model.aspp, run.model.decoder) == (
      513, False, False)
  assert (run.train.base_lr, run.train.train_steps) == (0.007, 30000)
  assert run.model.num_classes == 21


def test_flags_override_presets_and_none_means_unset():
  run = build('people', overrides={
      'model': {'input_size': 128, 'aspp': None, 'decoder': False},
      'train': {'train_steps': 10, 'batch_size': None}})
  assert run.model.input_size == 128
  assert run.model.decoder is False
  assert run.model.aspp is False  # preset value kept
  assert run.train.train_steps == 10
  assert run.train.batch_size == 16  # preset value kept


def test_custom_config_round_trips_to_the_same_configs():
  run = build()
  custom = config.training_custom_config(run)
  assert ModelConfig.from_dict(custom['model']) == run.model
  assert config.TrainConfig(**custom['train']) == run.train
  assert custom['labels'] == list(PEOPLE)


@pytest.mark.parametrize('overrides,message', [
    ({'model': {'output_stride': 4}}, 'output_stride=4'),
    ({'model': {'input_size': 100}}, 'input_size=100'),
    ({'model': {'backbone': 'resnet'}}, "backbone='resnet'"),
    ({'train': {'train_steps': 0}}, 'train_steps=0'),
    ({'train': {'optimizer': 'rmsprop'}}, "optimizer='rmsprop'"),
])
def test_bad_values_fail_naming_the_value(overrides, message):
  with pytest.raises(ValueError, match=message):
    build(overrides=overrides)


def test_labels_must_match_num_classes_and_paths_derive_from_output_dir():
  run = build()
  assert run.metadata_path == '/o/metadata.sqlite'
  assert run.serving_dir == '/o/serving'
  with pytest.raises(ValueError, match='eval_fraction'):
    build(eval_fraction=1.5)


def test_default_beam_args_in_memory_for_demo_all_cores_otherwise():
  assert config.default_beam_pipeline_args('demo') == (
      '--direct_running_mode=in_memory',)
  assert '--direct_num_workers=0' in config.default_beam_pipeline_args('voc')
