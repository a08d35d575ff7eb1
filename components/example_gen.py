"""ExampleGen for every format of data.datasets.

`create_example_gen` returns a FileBasedExampleGen whose Beam executor reads
the dataset lazily with data.ingest (the same transforms `python -m
data.convert` runs), records included: they go through the same checks. The
`examples` output always has the splits features.TRAIN_SPLIT and EVAL_SPLIT.
The whole data.config.DataConfig travels to the executor as JSON in
custom_config, with the layout's fingerprint patterns and the code version
beside it (they make the cache key).

Two things differ from a stock FileBasedExampleGen:
* the driver fingerprints the dataset's images and masks (names, sizes,
  mtimes), not only the files the input patterns name, so the TFX cache is
  reused exactly when the data is unchanged;
* the executor builds the splits with data.ingest.read_splits (the same
  hash rule as TFX's partition_feature_name, shared with data.convert) and
  writes `ingest_report.json` (counts per split and per problem) at the root
  of the examples artifact.
"""

import json
import logging
import os
from typing import Any, Dict

import apache_beam as beam
from google.protobuf import any_pb2
from google.protobuf import struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen import driver
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

from data import config as data_config
from data import features
from data import ingest
from data.readers import source

# Exec property the executor adds for GenerateExamplesByBeam; not a spec key.
REPORT_PATH_KEY = '_ingest_report_path'
# The custom_config entry holding DataConfig.to_json().
DATA_CONFIG_KEY = 'data_config'


def _settings_to_custom_config(
  settings: Dict[str, Any],
) -> example_gen_pb2.CustomConfig:
  struct = struct_pb2.Struct()
  struct.update(settings)
  packed = any_pb2.Any()
  packed.Pack(struct)
  return example_gen_pb2.CustomConfig(custom_config=packed)


def settings_from_exec_properties(
  exec_properties: Dict[str, Any],
) -> Dict[str, Any]:
  """The settings create_example_gen packed into custom_config."""
  value = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
  config = example_gen_pb2.CustomConfig()
  if isinstance(value, example_gen_pb2.CustomConfig):
    config = value
  elif value:
    proto_utils.json_to_proto(value, config)
  struct = struct_pb2.Struct()
  if not config.custom_config.Unpack(struct):
    raise ValueError(
      f'custom_config {value!r} does not hold the dataset '
      'settings of create_example_gen'
    )
  return json.loads(proto_utils.proto_to_json(struct))


def data_config_from_exec_properties(
  exec_properties: Dict[str, Any],
) -> data_config.DataConfig:
  """The DataConfig create_example_gen was given, validated again."""
  settings = settings_from_exec_properties(exec_properties)
  return data_config.DataConfig.from_json(settings[DATA_CONFIG_KEY])


class DatasetDriver(driver.FileBasedDriver):
  """FileBasedDriver whose fingerprint also covers the images and masks."""

  def resolve_exec_properties(
    self, exec_properties, pipeline_info, component_info
  ):
    exec_properties = super().resolve_exec_properties(
      exec_properties, pipeline_info, component_info
    )
    settings = settings_from_exec_properties(exec_properties)
    base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    prints = [exec_properties[example_gen_utils.FINGERPRINT_PROPERTY_NAME]]
    for pattern in settings['fingerprint_patterns']:
      prints.append(
        io_utils.generate_fingerprint(pattern, os.path.join(base, pattern))
      )
    exec_properties[example_gen_utils.FINGERPRINT_PROPERTY_NAME] = '\n'.join(
      prints
    )
    return exec_properties


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """Reads one dataset with data.ingest and reports what it skipped."""

  def Do(self, input_dict, output_dict, exec_properties):
    exec_properties = dict(exec_properties)
    examples_uri = artifact_utils.get_single_uri(
      output_dict[standard_component_specs.EXAMPLES_KEY]
    )
    report_path = os.path.join(examples_uri, ingest.REPORT_NAME)
    exec_properties[REPORT_PATH_KEY] = report_path
    super().Do(input_dict, output_dict, exec_properties)
    report = ingest.read_report(report_path)
    if report['failure']:
      # The report stays (it says why); no split is left to look usable.
      for name in fileio.listdir(examples_uri):
        if name.rstrip('/').startswith('Split-'):
          fileio.rmtree(os.path.join(examples_uri, name.rstrip('/')))
      ingest.raise_if_failed(report)
    for line in ingest.format_report(report):
      logging.info('ExampleGen %s', line)

  def GenerateExamplesByBeam(self, pipeline, exec_properties):
    """Same splits as the base class (input splits, or a hash partition of
    image/filename per output_config), built by data.ingest.read_splits so
    that data.convert runs the very same steps."""
    config = data_config_from_exec_properties(exec_properties)
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(
      exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
    )
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(
      exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
    )
    output_splits = output_config.split_config.splits
    if output_splits and (
      output_config.split_config.partition_feature_name
      != features.IMAGE_FILENAME
    ):
      raise ValueError(
        'output_config must partition by '
        f'{features.IMAGE_FILENAME}: {output_config}'
      )
    source = config.dataset.source(
      exec_properties[standard_component_specs.INPUT_BASE_KEY], config
    )
    return ingest.read_splits(
      pipeline,
      source,
      [(s.name, s.pattern) for s in input_config.splits],
      config.skip_bad_examples,
      [(s.name, s.hash_buckets) for s in output_splits] or None,
      exec_properties.get(REPORT_PATH_KEY),
      where=f'{config.data_root} (--format {config.format})',
    )

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    """Unreachable: GenerateExamplesByBeam, overridden above, reads splits."""
    raise NotImplementedError(
      'DatasetExampleGen reads every split in GenerateExamplesByBeam'
    )


class DatasetExampleGen(example_gen_component.FileBasedExampleGen):
  """FileBasedExampleGen with the dataset-aware driver and executor."""

  DRIVER_CLASS = DatasetDriver
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)


def _configs(layout: source.Layout, eval_fraction: float):
  """(input_config, output_config) with output splits exactly train, eval."""
  input_config = example_gen_pb2.Input(
    splits=[
      example_gen_pb2.Input.Split(name=name, pattern=pattern)
      for name, pattern in layout.input_splits
    ]
  )
  buckets = layout.output_hash_buckets(eval_fraction)
  if not buckets:
    return input_config, example_gen_pb2.Output()
  output_config = example_gen_pb2.Output(
    split_config=example_gen_pb2.SplitConfig(
      splits=[
        example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=n)
        for name, n in buckets
      ],
      partition_feature_name=features.IMAGE_FILENAME,
    )
  )
  return input_config, output_config


def create_example_gen(
  config: data_config.DataConfig, *, code_version: str = ''
):
  """The ExampleGen component of the dataset `config` describes.

  Args:
    config: the data settings; its format's layout says where the files
      are, its reader reads them, and the executor gets the whole config.
    code_version: fingerprint of the project's source (pipeline.code_version,
      which covers the readers); only part of the cache key, so that changed
      code runs again.
  """
  layout = config.dataset.layout(config)
  input_config, output_config = _configs(layout, config.eval_fraction)
  settings = {
    DATA_CONFIG_KEY: config.to_json(),
    'fingerprint_patterns': list(layout.fingerprint_patterns),
    'code_version': code_version,
  }
  return DatasetExampleGen(
    input_base=layout.input_base,
    input_config=input_config,
    output_config=output_config,
    custom_config=_settings_to_custom_config(settings),
  )
