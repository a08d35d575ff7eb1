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


def _compile(tmp_path, *flags):
  """(stdout, the compiled job) of --runner=vertex on a people project."""
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
      *flags,
    ],
    cwd=ROOT,
    env={**os.environ, 'PYTHONPATH': ROOT},
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert completed.returncode == 0, completed.stderr[-3000:]
  assert f'Vertex AI pipeline written to {spec_file}' in completed.stdout
  with open(spec_file) as f:
    return json.load(f)


@pytest.mark.slow
def test_cli_compiles_every_component_into_the_image(tmp_path):
  job = _compile(
    tmp_path,
    '--train_steps=7',
    '--beam_pipeline_args=' + ','.join(BEAM_ARGS),
  )
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
  # Without --trainer_machine_type the Trainer runs in the pipeline's own
  # container, as TFX's standard Trainer.
  assert containers['Trainer_executor']['args'][:2] == [
    '--executor_class_path',
    'tfx.components.trainer.executor.GenericExecutor',
  ]
  for name in ('ExampleGen', 'StatisticsGen', 'Transform', 'Evaluator'):
    assert set(BEAM_ARGS) <= set(containers[f'{name}_executor']['args'])

  def parameter(task, name):
    value = tasks[task]['inputs']['parameters'][name]['runtimeValue']
    return value['constantValue']['stringValue']

  assert parameter('ExampleGen', 'input_base') == str(tmp_path / 'people')
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


@pytest.mark.slow
def test_cli_compiles_the_trainer_as_a_vertex_training_job(tmp_path):
  spec = _compile(
    tmp_path,
    '--trainer_machine_type=n1-standard-16',
    '--trainer_replicas=3',
    '--trainer_accelerator_type=NVIDIA_TESLA_T4',
    '--trainer_accelerator_count=4',
    '--gcp_project=p',
    '--gcp_region=europe-west4',
    '--batch_size=64',
    '--lr_reference_batch=16',
    '--mixed_precision',
  )['pipelineSpec']
  executor = spec['deploymentSpec']['executors']['Trainer_executor']
  assert executor['container']['image'] == IMAGE
  assert executor['container']['args'][:2] == [
    '--executor_class_path',
    'tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor',
  ]
  parameters = spec['root']['dag']['tasks']['Trainer']['inputs']['parameters']
  custom = json.loads(
    parameters['custom_config']['runtimeValue']['constantValue']['stringValue']
  )
  assert custom['ai_platform_enable_vertex'] is True
  assert custom['ai_platform_vertex_region'] == 'europe-west4'
  job = custom['ai_platform_training_args']
  assert job['project'] == 'p'
  machine = {
    'machine_type': 'n1-standard-16',
    'accelerator_type': 'NVIDIA_TESLA_T4',
    'accelerator_count': 4,
  }
  assert job['job_spec']['worker_pool_specs'] == [
    {
      'machine_spec': machine,
      'replica_count': 1,
      'container_spec': {'image_uri': IMAGE},
    },
    {
      'machine_spec': machine,
      'replica_count': 2,
      'container_spec': {'image_uri': IMAGE},
    },
  ]
  train = custom['train']
  assert (train['batch_size'], train['lr_reference_batch']) == (64, 16)
  assert train['mixed_precision'] is True
  assert parameter_run_fn(parameters) == 'components.training.run_fn'


def parameter_run_fn(parameters):
  return parameters['run_fn']['runtimeValue']['constantValue']['stringValue']
