"""Compiles the pipeline for Vertex AI Pipelines (Kubeflow Pipelines v2).

TFX's KubeflowV2DagRunner turns the same `create_pipeline` DAG into a
PipelineSpec JSON: every component runs in `image` (built from the
project's Dockerfile, so components import the code the tests import), with
the run's Beam options (e.g. DataflowRunner) on the data components. The
JSON is then submitted with the Vertex AI SDK (see README); compiling needs
no Google Cloud access beyond reading the dataset layout.
"""

import os
from typing import Any, Dict, List

from tfx import v1 as tfx

from pipeline.config import RunConfig

_CLOUD = tfx.extensions.google_cloud_ai_platform


def compile_pipeline(
  pipeline: tfx.dsl.Pipeline, image: str, output_file: str
) -> Dict[str, Any]:
  """Writes the pipeline's Vertex JSON to output_file and returns it parsed."""
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
    config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
      default_image=image
    ),
    output_dir=os.path.dirname(os.path.abspath(output_file)),
    output_filename=os.path.basename(output_file),
  )
  return runner.run(pipeline, write_out=True)


def worker_pool_specs(config: RunConfig) -> List[Dict[str, Any]]:
  """Vertex AI CustomJob worker pools: the chief, then the other workers.

  Every machine runs the pipeline's image (TFX sets the command: its
  Trainer executor, which calls components.training.run_fn). Vertex sets
  TF_CONFIG on each machine, from which run_fn picks
  MultiWorkerMirroredStrategy (and mirrors the GPUs of each machine).
  """
  machine = {'machine_type': config.trainer_machine_type}
  if config.trainer_accelerator_type:
    machine['accelerator_type'] = config.trainer_accelerator_type
    machine['accelerator_count'] = config.trainer_accelerator_count
  pools = [
    {
      'machine_spec': machine,
      'replica_count': 1,
      'container_spec': {'image_uri': config.image},
    }
  ]
  if config.trainer_replicas > 1:
    pools.append(
      {
        'machine_spec': dict(machine),
        'replica_count': config.trainer_replicas - 1,
        'container_spec': {'image_uri': config.image},
      }
    )
  return pools


def training_custom_config(config: RunConfig) -> Dict[str, Any]:
  """custom_config keys of TFX's Google Cloud Trainer for Vertex AI."""
  return {
    _CLOUD.ENABLE_VERTEX_KEY: True,
    _CLOUD.VERTEX_REGION_KEY: config.gcp_region,
    _CLOUD.TRAINING_ARGS_KEY: {
      'project': config.gcp_project,
      'job_spec': {'worker_pool_specs': worker_pool_specs(config)},
    },
  }
