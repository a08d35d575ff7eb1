"""components.artifacts: the one list of component ids and file names."""

import pytest

from components import artifacts
from components import pusher
from components import tflite_export
from data import demo
from data import labels
from pipeline import config as run_config
from pipeline import pipeline as dag
from pipeline import summary


@pytest.fixture
def demo_pipeline(tmp_path):
  demo.generate_demo_project(str(tmp_path / 'data'), 10)
  config = run_config.build_run_config(
    'demo',
    dataset='demo',
    data_root=str(tmp_path / 'data'),
    output_dir=str(tmp_path / 'out'),
    labels=labels.PEOPLE_CLASSES,
    demo_images=10,
  )
  return dag.create_pipeline(config)


def test_the_dag_names_its_components_with_the_declared_ids(demo_pipeline):
  ids = [c.id for c in demo_pipeline.components]
  assert sorted(ids) == sorted(artifacts.COMPONENT_IDS)


def test_the_output_keys_the_summary_reads_exist(demo_pipeline):
  by_id = {c.id: c for c in demo_pipeline.components}
  for component, key in (
    (artifacts.EXAMPLE_GEN, artifacts.EXAMPLES),
    (artifacts.STATISTICS_GEN, artifacts.STATISTICS),
    (artifacts.TRAINER, artifacts.MODEL),
    (artifacts.EVALUATOR, artifacts.EVALUATION),
    (artifacts.EVALUATOR, artifacts.BLESSING),
    (artifacts.TFLITE_EXPORT, artifacts.TFLITE_MODEL),
    (artifacts.PUSHER, artifacts.PUSHED_MODEL),
  ):
    assert key in by_id[component].outputs, (component, key)


def test_our_components_declare_the_output_keys():
  assert artifacts.TFLITE_MODEL in tflite_export.TFLiteExport.SPEC_CLASS.OUTPUTS
  assert artifacts.PUSHED_MODEL in pusher.MobilePusher.SPEC_CLASS.OUTPUTS


def test_a_component_missing_from_the_run_fails_loudly():
  timing = summary.ComponentTiming('Evaluator', 'COMPLETE', 1.0)
  outputs = summary.RunOutputs({('Evaluator', 'blessing'): None}, [timing])
  assert outputs.artifact('Evaluator', 'evaluation') is None
  with pytest.raises(KeyError, match="'Evaluator2' is not in the run"):
    outputs.artifact('Evaluator2', 'evaluation')


def test_published_files_are_unique_and_hold_the_tflite_files():
  assert len(set(artifacts.PUBLISHED_FILES)) == len(artifacts.PUBLISHED_FILES)
  assert set(artifacts.TFLITE_FILES.values()) <= set(artifacts.PUBLISHED_FILES)
  assert labels.LABELS_FILE in artifacts.PUBLISHED_FILES
