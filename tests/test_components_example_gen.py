"""components.example_gen: splits, hash rule, TFX cache, bad-input report."""

import json
import logging
import os

from PIL import Image
import pytest
from tfx.proto import example_gen_pb2
from tfx.utils import proto_utils

from components import example_gen
from data import config as data_config
from data import ingest
from data import labels
from data import problems
from data.readers import voc
from tests.fixtures import supervisely_replica as replica


def test_people_splits_hash_rule_report_and_cache(
  tmp_path, people_project, run_in_pipeline, read_split, is_eval
):
  project = people_project(str(tmp_path / 'people'), 24)
  execution, uris = run_in_pipeline(
    example_gen.create_example_gen(
      data_config.DataConfig(
        'people', project, labels.PEOPLE_CLASSES, eval_fraction=0.3
      )
    )
  )
  assert len(uris) == 1
  uri = uris[0]
  train, eval_ = read_split(uri, 'train'), read_split(uri, 'eval')
  assert sorted(os.listdir(uri)) == [
    'Split-eval',
    'Split-train',
    'ingest_report.json',
  ]
  assert len(train) + len(eval_) == 24 and not set(train) & set(eval_)
  assert eval_ == sorted(n for n in train + eval_ if is_eval(n, 0.3))
  assert 0 < len(eval_) < 24
  with open(os.path.join(uri, 'ingest_report.json')) as f:
    report = json.load(f)
  assert report['in'] == 24 and report['written'] == 24
  assert report['skipped'] == 0
  assert report['output_splits'] == {'train': len(train), 'eval': len(eval_)}

  # Same data: the second run reuses the first run's output.
  execution, uris = run_in_pipeline(
    example_gen.create_example_gen(
      data_config.DataConfig(
        'people', project, labels.PEOPLE_CLASSES, eval_fraction=0.3
      )
    )
  )
  assert execution.last_known_state == execution.CACHED
  assert uris == [uri]

  # One image rewritten: the fingerprint changes and ExampleGen runs again.
  path = os.path.join(project, 'ds1', 'img', 'img00.png')
  Image.fromarray(replica.noise_image(24, 28, 99)).save(path)
  os.utime(path, (1, 1))
  execution, uris = run_in_pipeline(
    example_gen.create_example_gen(
      data_config.DataConfig(
        'people', project, labels.PEOPLE_CLASSES, eval_fraction=0.3
      )
    )
  )
  assert execution.last_known_state == execution.COMPLETE
  assert len(uris) == 2


def test_skip_bad_examples_counts_every_problem(
  tmp_path, broken_project, execute_example_gen, read_split, caplog
):
  project = broken_project(str(tmp_path / 'people'))
  with caplog.at_level(logging.INFO):
    uri = execute_example_gen(
      example_gen.create_example_gen(
        data_config.DataConfig(
          'people',
          project,
          labels.PEOPLE_CLASSES,
          skip_bad_examples=True,
          eval_fraction=0.5,
        )
      ),
      str(tmp_path / 'out'),
    )
  names = read_split(uri, 'train') + read_split(uri, 'eval')
  assert sorted(names) == sorted(
    f'ds{1 + i % 2}/img{i:02d}.png' for i in (0, 1, 5, 6, 7)
  )
  with open(os.path.join(uri, 'ingest_report.json')) as f:
    report = json.load(f)
  assert (report['in'], report['written'], report['skipped']) == (8, 5, 3)
  assert report['data'] == f'{project} (--format people)'
  # The report's lines, in the executor's log.
  assert [m for m in caplog.messages if m.startswith('ExampleGen ')] == [
    f'ExampleGen {line}' for line in ingest.format_report(report)
  ]
  assert {k: v['count'] for k, v in report['problems'].items()} == {
    problems.CORRUPT_IMAGE: 1,
    problems.MISSING_MASK: 1,
    problems.BAD_ANNOTATION: 1,
  }
  assert report['problems'][problems.CORRUPT_IMAGE]['examples'][0][
    'path'
  ].endswith('ds1/img/img02.png')


def test_bad_example_fails_the_run_naming_the_file(
  tmp_path, broken_project, execute_example_gen
):
  project = broken_project(str(tmp_path / 'people'))
  out = str(tmp_path / 'out')
  with pytest.raises(problems.IngestError) as error:
    execute_example_gen(
      example_gen.create_example_gen(
        data_config.DataConfig(
          'people', project, labels.PEOPLE_CLASSES, eval_fraction=0.5
        )
      ),
      out,
    )
  # One line: the first bad file (by path), its problem, the counts, the
  # report, and what to do.
  message = str(error.value)
  assert '\n' not in message
  assert message.startswith(
    os.path.join(project, 'ds1', 'ann', 'img04.png.json')
    + ': bad_annotation: not valid JSON'
  )
  assert '3 bad example(s) of 8' in message
  assert 'corrupt_image 1' in message and 'missing_mask 1' in message
  assert message.endswith(
    'rerun with --skip_bad_examples to leave them out and count them.'
  )
  # The report is written all the same; no split is left behind.
  assert sorted(os.listdir(out)) == ['ingest_report.json']
  with open(os.path.join(out, 'ingest_report.json')) as f:
    report = json.load(f)
  assert (report['in'], report['written'], report['skipped']) == (8, 5, 3)
  assert report['failure'] == message
  assert report['skip_bad_examples'] is False


def test_an_empty_split_fails_the_run_in_both_modes(
  tmp_path, people_project, execute_example_gen
):
  project = people_project(str(tmp_path / 'p'), 2)
  for skip in (False, True):
    with pytest.raises(problems.IngestError, match='split.* would be empty'):
      execute_example_gen(
        example_gen.create_example_gen(
          data_config.DataConfig(
            'people',
            project,
            labels.PEOPLE_CLASSES,
            eval_fraction=0.001,
            skip_bad_examples=skip,
          )
        ),
        str(tmp_path / f'out{skip}'),
      )


def test_create_example_gen_checks_its_arguments(tmp_path, people_project):
  project = people_project(str(tmp_path / 'p'), 2)
  with pytest.raises(ValueError, match='eval_fraction=0.0'):
    example_gen.create_example_gen(
      data_config.DataConfig(
        'people', project, labels.PEOPLE_CLASSES, eval_fraction=0.0
      )
    )
  with pytest.raises(ValueError, match='options .* must be NoOptions'):
    data_config.DataConfig(
      'people', project, labels.PEOPLE_CLASSES, options=voc.VocOptions(aug=True)
    )


def test_the_settings_reach_the_executor_in_custom_config(
  tmp_path, people_project
):
  """The data config, the fingerprint patterns and the code version (part
  of TFX's cache key: changed code runs ExampleGen again)."""
  project = people_project(str(tmp_path / 'p'), 2)
  config = data_config.DataConfig('people', project, labels.PEOPLE_CLASSES)
  component = example_gen.create_example_gen(config, code_version='abc123')
  text = component.exec_properties['custom_config']  # JSON, as TFX stores it.
  settings = example_gen.settings_from_exec_properties({'custom_config': text})
  assert settings == {
    'data_config': config.to_json(),
    'fingerprint_patterns': ['meta.json', '*/img/*', '*/ann/*'],
    'code_version': 'abc123',
  }
  # The same settings when a launcher hands the executor the proto.
  proto = example_gen_pb2.CustomConfig()
  proto_utils.json_to_proto(text, proto)
  assert (
    example_gen.settings_from_exec_properties({'custom_config': proto})
    == settings
  )
  unversioned = example_gen.create_example_gen(config).exec_properties
  assert (
    example_gen.settings_from_exec_properties(unversioned)['code_version'] == ''
  )
  with pytest.raises(ValueError) as error:
    example_gen.settings_from_exec_properties({'custom_config': '{}'})
  assert str(error.value) == (
    "custom_config '{}' does not hold the dataset settings of "
    'create_example_gen'
  )


def test_the_executor_refuses_splits_not_partitioned_by_file_name(
  tmp_path, people_project
):
  """Hash splits of another feature would not be the splits data.convert
  makes, nor stable under the readers' own names."""
  project = people_project(str(tmp_path / 'p'), 2)
  component = example_gen.create_example_gen(
    data_config.DataConfig('people', project, labels.PEOPLE_CLASSES)
  )
  properties = dict(component.exec_properties)
  properties['output_config'] = properties['output_config'].replace(
    '"image/filename"', '"image/source"'
  )
  with pytest.raises(ValueError, match='^output_config must partition by '):
    example_gen.Executor().GenerateExamplesByBeam(None, properties)


def test_the_per_split_transform_tfx_would_ask_for_is_refused_by_name():
  """TFX's base executor asks for one PTransform per split only from its own
  GenerateExamplesByBeam, which ours overrides. Should a TFX release ask
  for it elsewhere, the run stops saying why instead of reading nothing."""
  with pytest.raises(NotImplementedError) as error:
    example_gen.Executor().GetInputSourceToExamplePTransform()
  assert str(error.value) == (
    'DatasetExampleGen reads every split in GenerateExamplesByBeam'
  )
