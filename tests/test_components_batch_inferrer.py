"""components.batch_inferrer: skipped, with the reason, when nothing was
pushed. (A pushed model's masks and their lineage are checked on the
end-to-end run, tests/test_pipeline_pipeline.py.)"""

import os

import pytest

pytestmark = pytest.mark.slow  # A TFX pipeline run: about 20 s.


def test_nothing_pushed_writes_nothing_and_records_why(tmp_path):
  from tfx import v1 as tfx
  from tfx.orchestration import metadata

  from components.batch_inferrer import BatchInferrer

  os.mkdir(tmp_path / 'photos')
  (tmp_path / 'photos' / 'a.jpg').write_bytes(b'never read')
  refused = tfx.dsl.Importer(
    source_uri=str(tmp_path / 'no_model'),
    artifact_type=tfx.types.standard_artifacts.PushedModel,
    custom_properties={
      'pushed': 0,
      'not_pushed_reason': 'the Evaluator did not bless the model',
    },
  ).with_id('refused_push')
  inferrer = BatchInferrer(
    pushed_model=refused.outputs['result'],
    input_dir=str(tmp_path / 'photos'),
  )
  connection = metadata.sqlite_metadata_connection_config(
    str(tmp_path / 'mlmd.sqlite')
  )
  tfx.orchestration.LocalDagRunner().run(
    tfx.dsl.Pipeline(
      pipeline_name='inferrer_test',
      pipeline_root=str(tmp_path / 'root'),
      components=[refused, inferrer],
      metadata_connection_config=connection,
      beam_pipeline_args=['--direct_running_mode=in_memory'],
    )
  )
  with metadata.Metadata(connection) as m:
    [masks] = m.store.get_artifacts_by_type('mobile_deeplab.SegmentationMasks')
  assert masks.custom_properties['skipped_reason'].string_value == (
    'nothing was pushed: the Evaluator did not bless the model'
  )
  assert 'num_masks' not in masks.custom_properties
  assert not os.listdir(masks.uri)
