"""pipeline.lineage: the run that wrote a Trainer output, from its store."""

import os

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from pipeline import config as run_config
from pipeline import lineage


def _store_with_one_run(output_dir, run_name):
  """A run's metadata.sqlite: one execution in a pipeline_run context."""
  store = mlmd.MetadataStore(
    tfx.orchestration.metadata.sqlite_metadata_connection_config(
      os.path.join(output_dir, run_config.METADATA_FILE)
    )
  )
  execution_type = store.put_execution_type(
    metadata_store_pb2.ExecutionType(name='Trainer')
  )
  context_types = {
    name: store.put_context_type(metadata_store_pb2.ContextType(name=name))
    for name in ('node', lineage.RUN_CONTEXT)
  }
  [execution] = store.put_executions(
    [metadata_store_pb2.Execution(type_id=execution_type)]
  )
  contexts = store.put_contexts(
    [
      metadata_store_pb2.Context(
        type_id=context_types['node'], name='x.Trainer'
      ),
      metadata_store_pb2.Context(
        type_id=context_types[lineage.RUN_CONTEXT], name=run_name
      ),
    ]
  )
  store.put_attributions_and_associations(
    [],
    [
      metadata_store_pb2.Association(execution_id=execution, context_id=c)
      for c in contexts
    ],
  )
  return execution


def test_the_run_of_a_trainer_output_comes_from_its_store(tmp_path):
  execution = _store_with_one_run(str(tmp_path), '2026-12-05T18:26:09.1')
  model = os.path.join(
    str(tmp_path), run_config.PIPELINE_DIR, 'Trainer', 'model', str(execution)
  )
  assert lineage.trainer_run(model) == '2026-12-05T18:26:09.1'
  assert lineage.trainer_run(model + '/') == '2026-12-05T18:26:09.1'


def test_no_run_when_the_layout_or_the_store_is_not_there(tmp_path):
  execution = _store_with_one_run(str(tmp_path), 'run')
  trainer = os.path.join(str(tmp_path), 'Trainer', 'model')
  # Not under <output_dir>/pipeline; not an execution id; no store.
  assert lineage.trainer_run(os.path.join(trainer, str(execution))) is None
  pipeline = os.path.join(str(tmp_path), run_config.PIPELINE_DIR, 'Trainer')
  assert lineage.trainer_run(os.path.join(pipeline, 'model', 'latest')) is None
  elsewhere = tmp_path / 'copied' / run_config.PIPELINE_DIR / 'Trainer'
  assert lineage.trainer_run(str(elsewhere / 'model' / '1')) is None
