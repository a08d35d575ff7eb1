"""Compiles the pipeline for Vertex AI Pipelines (Kubeflow Pipelines v2).

TFX's KubeflowV2DagRunner turns the same `create_pipeline` DAG into a
PipelineSpec JSON: every component runs in `image` (built from the
project's Dockerfile, so components import the code the tests import), with
the run's Beam options (e.g. DataflowRunner) on the data components. The
JSON is then submitted with the Vertex AI SDK (see README); compiling needs
no Google Cloud access beyond reading the dataset layout.
"""

import os
from typing import Any, Dict

from tfx import v1 as tfx


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
