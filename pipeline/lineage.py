"""Which pipeline run trained a model, read from that run's ML Metadata.

A Trainer output lives at <output_dir>/pipeline/Trainer/model/<execution
id> (TFX names output folders after the execution), and a local run keeps
its ML Metadata in <output_dir>/metadata.sqlite (pipeline.config). The run
is the `pipeline_run` context of that execution.
"""

import os
from typing import Optional

import ml_metadata as mlmd
from tfx import v1 as tfx

from pipeline import config as run_config

RUN_CONTEXT = 'pipeline_run'


def trainer_run(trainer_model: str) -> Optional[str]:
  """The id of the run that wrote the Trainer output `trainer_model`.

  None when the output is not laid out as a local run writes it or that
  run's metadata.sqlite is gone (a copied model keeps its path only).
  """
  model_dir, execution = os.path.split(trainer_model.rstrip('/'))
  pipeline_root = os.path.dirname(os.path.dirname(model_dir))
  if (
    not execution.isdigit()
    or os.path.basename(pipeline_root) != run_config.PIPELINE_DIR
  ):
    return None
  metadata = os.path.join(
    os.path.dirname(pipeline_root), run_config.METADATA_FILE
  )
  if not os.path.isfile(metadata):
    return None
  store = mlmd.MetadataStore(
    tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata)
  )
  for context in store.get_contexts_by_execution(int(execution)):
    kind = store.get_context_types_by_id([context.type_id])[0].name
    if kind == RUN_CONTEXT:
      return context.name
  return None
