"""pipeline.config: presets, overrides and validation."""

import dataclasses

import pytest

from data import config as data_config
from data import datasets
from data import demo
from model.config import ModelConfig
from model.config import TrainConfig
from pipeline import config

PEOPLE = ('background', 'person')


def build(preset='demo', overrides=None, labels=PEOPLE, **fields):
  return config.build_run_config(
    preset,
    data=data_config.DataConfig('demo', '/d', labels),
    output_dir='/o',
    overrides=overrides,
    **fields,
  )


def test_preset_values_reach_model_and_training():
  run = build('people')
  assert run.model == ModelConfig(
    backbone='mobilenet_v2',
    output_stride=16,
    head='deeplabv3plus',
    aspp=False,
    decoder=True,
    quant_friendly=True,
    input_size=256,
    num_classes=2,
  )
  assert (run.train.train_steps, run.train.base_lr) == (150000, 0.05)


def test_voc_preset_is_the_papers_recipe():
  run = build('voc', labels=tuple(f'c{i}' for i in range(21)))
  assert (run.model.input_size, run.model.aspp, run.model.decoder) == (
    513,
    False,
    False,
  )
  assert (run.train.base_lr, run.train.train_steps) == (0.007, 30000)
  assert run.model.num_classes == 21


def test_overrides_replace_only_the_fields_they_name():
  run = build(
    'people',
    overrides={
      'model': {'input_size': 128, 'decoder': False},
      'train': {'train_steps': 10},
    },
  )
  assert run.model.input_size == 128
  assert run.model.decoder is False
  assert run.model.aspp is False  # preset value kept
  assert run.train.train_steps == 10
  assert run.train.batch_size == 16  # preset value kept
  assert run.preset == 'people'


def test_presets_are_typed_and_state_only_what_differs():
  for name, preset in config.PRESETS.items():
    assert isinstance(preset.model, ModelConfig), name
    assert isinstance(preset.train, TrainConfig), name
    assert isinstance(preset.gate, config.QualityGate), name
  # The demo recipe, field by field against the defaults it changes.
  demo = config.PRESETS['demo']
  assert demo.model == dataclasses.replace(
    ModelConfig(), depth_multiplier=0.5, quant_friendly=True, input_size=128
  )
  assert demo.train == dataclasses.replace(
    TrainConfig(),
    train_steps=2000,
    base_lr=0.002,
    optimizer='adam',
    weight_decay=0.0,
    min_scale=0.75,
    max_scale=1.5,
    steps_per_epoch=100,
  )


def test_people_lite_is_the_people_recipe_with_a_small_model():
  people, lite = config.PRESETS['people'], config.PRESETS['people_lite']
  assert lite.train == people.train
  assert lite.gate == people.gate
  assert lite.model == dataclasses.replace(
    people.model,
    backbone='mobilenet_v3_small',
    depth_multiplier=0.5,
    output_stride=32,
    head='lraspp',
  )
  assert lite.model.input_size == 256  # MediaPipe's general selfie model's


@pytest.mark.slow
def test_people_lite_float16_file_is_at_most_1_mb():
  """The budget of the file an app ships (docs/models.md, the race).

  Untrained: weights do not change the size. The metadata TFLiteExport
  adds is about 20 KB (the pushed file of the demo run is 752,536 bytes).
  """
  from model import builder
  from model import export

  model = builder.build_model(config.PRESETS['people_lite'].model)
  flatbuffer = export.convert_to_tflite(
    export.inference_model(model), float16_weights=True
  )
  assert len(flatbuffer) <= 1_000_000


def test_every_dataset_default_preset_exists():
  for dataset in datasets.DATASETS.values():
    for names in (PEOPLE, tuple(f'c{i}' for i in range(21))):
      assert datasets.default_preset(dataset, names) in config.PRESETS


@pytest.mark.parametrize(
  'overrides,message',
  [
    ({'model': {'output_stride': 4}}, 'output_stride=4'),
    ({'model': {'input_size': 100}}, 'input_size=100'),
    ({'model': {'backbone': 'resnet'}}, "backbone='resnet'"),
    ({'train': {'train_steps': 0}}, 'train_steps=0'),
    ({'train': {'optimizer': 'rmsprop'}}, "optimizer='rmsprop'"),
  ],
)
def test_bad_values_fail_naming_the_value(overrides, message):
  with pytest.raises(ValueError, match=message):
    build(overrides=overrides)


def test_labels_must_match_num_classes_and_paths_derive_from_output_dir():
  run = build()
  assert run.metadata_path == '/o/metadata.sqlite'
  assert run.serving_dir == '/o/serving'
  with pytest.raises(ValueError, match='eval_fraction'):
    data_config.DataConfig('demo', '/d', PEOPLE, eval_fraction=1.5)
  with pytest.raises(ValueError, match='demo_images=0'):
    demo.DemoOptions(images=0)
  with pytest.raises(ValueError, match='must be a data.config.DataConfig'):
    config.RunConfig(
      data='/d',
      output_dir='/o',
      preset='demo',
      model=ModelConfig(num_classes=2),
      train=TrainConfig(),
      gate=config.QualityGate(),
    )
  with pytest.raises(ValueError, match="preset='fast'"):
    config.RunConfig(
      data=data_config.DataConfig('demo', '/d', PEOPLE),
      output_dir='/o',
      preset='fast',
      model=ModelConfig(),
      train=TrainConfig(),
      gate=config.QualityGate(),
    )


def test_default_beam_args_in_memory_for_demo_all_cores_otherwise():
  assert config.default_beam_pipeline_args('demo') == (
    '--direct_running_mode=in_memory',
  )
  assert '--direct_num_workers=0' in config.default_beam_pipeline_args('voc')


VERTEX = dict(
  runner='vertex',
  image='img:1',
  trainer_machine_type='n1-standard-16',
  gcp_project='p',
  gcp_region='r',
)


def _people(**fields):
  return config.build_run_config(
    'people',
    data=data_config.DataConfig('people', 'gs://b/d', PEOPLE),
    output_dir='gs://b/o',
    **fields,
  )


def test_vertex_training_is_off_by_default_and_needs_its_settings():
  assert not build().vertex_training
  run = _people(**VERTEX, trainer_replicas=3)
  assert run.vertex_training and run.trainer_replicas == 3


@pytest.mark.parametrize(
  'fields, message',
  [
    (
      {'runner': 'vertex', 'image': 'i', 'trainer_replicas': 2},
      'need trainer_machine_type',
    ),
    ({'runner': 'local', 'trainer_machine_type': 'm'}, 'needs runner=vertex'),
    ({**VERTEX, 'gcp_region': None}, 'needs gcp_project and gcp_region'),
    ({**VERTEX, 'trainer_replicas': 0}, 'trainer_replicas=0'),
    ({**VERTEX, 'trainer_accelerator_count': 2}, 'give both or neither'),
    (
      {**VERTEX, 'trainer_accelerator_type': 'NVIDIA_TESLA_T4'},
      'give both or neither',
    ),
  ],
)
def test_bad_vertex_training_settings_fail(fields, message):
  if fields.get('runner') == 'local':
    with pytest.raises(ValueError, match=message):
      build(**fields)
    return
  with pytest.raises(ValueError, match=message):
    _people(**fields)


def test_train_flags_for_gpus_reach_the_train_config():
  run = build(
    'people',
    overrides={
      'train': {
        'mixed_precision': True,
        'jit_compile': True,
        'sync_batchnorm': True,
        'batch_size': 64,
        'lr_reference_batch': 16,
      }
    },
  )
  assert run.train.learning_rate == pytest.approx(0.2)
  assert run.train.mixed_precision and run.train.jit_compile
