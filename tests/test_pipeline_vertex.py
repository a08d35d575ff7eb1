"""--runner=vertex compiles the whole DAG into a Vertex AI Pipelines JSON."""

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures import supervisely_replica as replica

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = 'europe-docker.pkg.dev/p/r/mobile-deeplab-tfx:test'
BEAM_ARGS = [
  '--runner=DataflowRunner',
  '--project=p',
  '--region=r',
  '--temp_location=gs://bucket/tmp',
  '--setup_file=./setup.py',
]


@pytest.mark.slow
def test_cli_compiles_every_component_into_the_image(tmp_path):
  project, _ = replica.standard_project(str(tmp_path / 'people'))
  spec_file = tmp_path / 'spec' / 'pipeline.json'
  completed = subprocess.run(
    [
      sys.executable,
      os.path.join(ROOT, 'pipeline_runner.py'),
      '--runner=vertex',
      f'--image={IMAGE}',
      '--dataset=people',
      f'--data_root={project}',
      '--output_dir=gs://bucket/runs/people',
      f'--vertex_pipeline_file={spec_file}',
      '--train_steps=7',
      '--beam_pipeline_args=' + ','.join(BEAM_ARGS),
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert completed.returncode == 0, completed.stderr[-3000:]
  assert f'Vertex AI pipeline written to {spec_file}' in completed.stdout
  with open(spec_file) as f:
    job = json.load(f)
  spec = job['pipelineSpec']

  assert job['runtimeConfig']['gcsOutputDirectory'] == (
    'gs://bucket/runs/people/pipeline'
  )
  tasks = spec['root']['dag']['tasks']
  assert set(tasks) == {
    'ExampleGen',
    'StatisticsGen',
    'SchemaGen',
    'ExampleValidator',
    'Transform',
    'Trainer',
    'Evaluator',
    'TFLiteExport',
    'MobilePusher',
    'latest_blessed_model_resolver-model-resolver',
    'latest_blessed_model_resolver-model-blessing-resolver',
  }
  executors = spec['deploymentSpec']['executors']
  containers = {
    name: e['container'] for name, e in executors.items() if 'container' in e
  }
  assert len(containers) == 9
  assert {c['image'] for c in containers.values()} == {IMAGE}

  example_gen = containers['ExampleGen_executor']
  assert example_gen['args'][:2] == [
    '--executor_class_path',
    'components.example_gen.Executor',
  ]
  for name in ('ExampleGen', 'StatisticsGen', 'Transform', 'Evaluator'):
    assert set(BEAM_ARGS) <= set(containers[f'{name}_executor']['args'])

  def parameter(task, name):
    value = tasks[task]['inputs']['parameters'][name]['runtimeValue']
    return value['constantValue']['stringValue']

  assert parameter('ExampleGen', 'input_base') == project
  assert parameter('Trainer', 'run_fn') == 'components.training.run_fn'
  assert json.loads(parameter('Trainer', 'train_args')) == {'num_steps': 7}
  assert parameter('Transform', 'preprocessing_fn') == (
    'components.preprocessing.preprocessing_fn'
  )
  assert parameter('MobilePusher', 'push_destination') == (
    'gs://bucket/runs/people/serving'
  )
  tflite = spec['components']['TFLiteExport']['outputDefinitions']['artifacts'][
    'tflite_model'
  ]['artifactType']['instanceSchema']
  assert tflite.startswith('title: mobile_deeplab.TFLiteModel')
