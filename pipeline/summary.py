"""What a run produced, read back from ML Metadata after it finished.

The summary is built from the artifacts the latest run of the pipeline
recorded (cached executions included), so it describes exactly what is on
disk: the statistics give the example counts, the Evaluator's output the
metrics and the blessing, the TFLite artifact its files and their mIoU.
"""

import json
import os
from typing import Dict, Optional

import ml_metadata as mlmd
import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tfx.dsl.io import fileio
from tfx.utils import path_utils

from components import tflite_export
from data import features
from model import metrics
from pipeline import pipeline as dag
from pipeline.config import RunConfig

SUMMARY_FILE = 'run_summary.json'
_NODE_CONTEXT = 'node'
_RUN_CONTEXT = 'pipeline_run'


def metadata_store(config: RunConfig) -> mlmd.MetadataStore:
  """The run's SQLite ML Metadata store."""
  return mlmd.MetadataStore(dag.metadata_connection_config(config))


def collect(config: RunConfig, store: mlmd.MetadataStore) -> Dict:
  """The run summary of the latest run of `config`'s pipeline."""
  outputs, timings = latest_run_outputs(store, config.pipeline_name)
  tflite_uri = _uri(outputs, 'TFLiteExport', 'tflite_model')
  tflite_scores = (
    _read_json(os.path.join(tflite_uri, tflite_export.METRICS_FILE))
    if tflite_uri
    else {}
  )
  pushed = outputs.get(('MobilePusher', 'pushed_model'))
  model_uri = _uri(outputs, 'Trainer', 'model')
  blessing = outputs.get(('Evaluator', 'blessing'))
  examples_uri = _uri(outputs, 'ExampleGen', 'examples')
  return {
    'dataset': config.dataset,
    'num_examples': _example_counts(
      _uri(outputs, 'StatisticsGen', 'statistics')
    ),
    'metrics': _evaluator_metrics(
      _uri(outputs, 'Evaluator', 'evaluation'), config.labels
    ),
    'metrics_tflite': {
      kind: tflite_scores.get(kind) for kind in tflite_export.TFLITE_FILES
    },
    'blessed': bool(blessing and _property(blessing, 'blessed')),
    'pushed_dir': (
      os.path.abspath(_property(pushed, 'pushed_destination'))
      if pushed and _property(pushed, 'pushed')
      else None
    ),
    'not_pushed_reason': (
      _property(pushed, 'not_pushed_reason') if pushed else None
    )
    or None,
    'saved_model': (
      os.path.abspath(path_utils.serving_model_path(model_uri))
      if model_uri
      else None
    ),
    'tflite': {
      kind: _existing(tflite_uri, filename)
      for kind, filename in tflite_export.TFLITE_FILES.items()
    },
    'examples': os.path.abspath(examples_uri) if examples_uri else None,
    'input_size': config.model.input_size,
    'labels': list(config.labels),
    'components': timings,
    'parent': _parent(outputs, config.labels),
  }


def write(summary: Dict, output_dir: str) -> str:
  path = os.path.join(output_dir, SUMMARY_FILE)
  with open(path, 'w') as f:
    json.dump(summary, f, indent=2)
  return path


def format_text(summary: Dict) -> str:
  """A few lines for a person watching the terminal."""
  lines = ['', 'Components:']
  for timing in summary['components']:
    lines.append(
      f'  {timing["component"]:<32} {timing["state"]:<9} '
      f'{timing["seconds"]:7.1f} s'
    )
  counts = ', '.join(
    f'{split} {count}'
    for split, count in sorted(summary['num_examples'].items())
  )
  lines.append(f'Dataset {summary["dataset"]}: {counts} examples')
  scores = summary['metrics']
  if scores:
    per_class = ', '.join(
      f'{name} {_fmt(value)}' for name, value in scores['per_class_iou'].items()
    )
    lines.append(
      f'SavedModel on eval: mean IoU {_fmt(scores["mean_iou"])} '
      f'({per_class}); pixel accuracy '
      f'{_fmt(scores["pixel_accuracy"])}'
    )
  for kind, scores in summary['metrics_tflite'].items():
    if scores:
      lines.append(
        f'TFLite {kind:<5} on eval: mean IoU {_fmt(scores["mean_iou"])}'
      )
  lines.append(f'Blessed: {summary["blessed"]}')
  if summary['pushed_dir']:
    lines.append(f'Pushed to: {summary["pushed_dir"]}')
  else:
    lines.append(f'Not pushed: {summary["not_pushed_reason"]}')
  return '\n'.join(lines)


def latest_run_outputs(store: mlmd.MetadataStore, pipeline_name: str):
  """({(component id, output key): artifact}, [timing]) of the latest run."""
  runs = [
    c
    for c in store.get_contexts_by_type(_RUN_CONTEXT)
    if _belongs_to(store, c, pipeline_name)
  ]
  if not runs:
    raise RuntimeError(f'no run of pipeline {pipeline_name!r} in ML Metadata')
  run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
  executions = sorted(
    store.get_executions_by_context(run.id),
    key=lambda e: (e.create_time_since_epoch, e.id),
  )
  outputs, timings = {}, []
  for execution in executions:
    component = _component_id(store, execution)
    timings.append(
      {
        'component': component,
        'state': mlmd.proto.Execution.State.Name(execution.last_known_state),
        'seconds': (
          execution.last_update_time_since_epoch
          - execution.create_time_since_epoch
        )
        / 1000.0,
      }
    )
    events = [
      e
      for e in store.get_events_by_execution_ids([execution.id])
      if e.type == mlmd.proto.Event.OUTPUT
    ]
    artifacts = {
      a.id: a
      for a in store.get_artifacts_by_id([e.artifact_id for e in events])
    }
    for event in events:
      key = event.path.steps[0].key if event.path.steps else ''
      outputs[(component, key)] = artifacts[event.artifact_id]
  return outputs, timings


def _belongs_to(store, run_context, pipeline_name: str) -> bool:
  parents = store.get_parent_contexts_by_context(run_context.id)
  return any(p.name == pipeline_name for p in parents) or not parents


def _component_id(store, execution) -> str:
  for context in store.get_contexts_by_execution(execution.id):
    if (
      store.get_context_types_by_id([context.type_id])[0].name == _NODE_CONTEXT
    ):
      return context.name.split('.', 1)[-1]
  return execution.name or str(execution.id)


def _example_counts(statistics_uri: Optional[str]) -> Dict[str, int]:
  counts = {}
  for split in (features.TRAIN_SPLIT, features.EVAL_SPLIT):
    path = os.path.join(
      statistics_uri or '', f'Split-{split}', 'FeatureStats.pb'
    )
    if statistics_uri and fileio.exists(path):
      counts[split] = int(tfdv.load_stats_binary(path).datasets[0].num_examples)
  return counts


def _evaluator_metrics(evaluation_uri: Optional[str], labels) -> Optional[Dict]:
  """Overall-slice metrics of the candidate model, as model.metrics names."""
  if not evaluation_uri:
    return None
  values = {}
  for slice_metrics in tfma.load_metrics(evaluation_uri):
    if slice_metrics.slice_key.single_slice_keys:
      continue
    for entry in slice_metrics.metric_keys_and_values:
      if entry.key.is_diff or entry.key.model_name == 'baseline':
        continue
      values[entry.key.name] = entry.value.double_value.value
  if metrics.MEAN_IOU not in values:
    return None
  per_class = {}
  for label in labels:
    value = values.get(metrics.IOU_PREFIX + label)
    per_class[label] = None if value is None or value != value else value
  return {
    metrics.MEAN_IOU: values[metrics.MEAN_IOU],
    'per_class_iou': per_class,
    metrics.PIXEL_ACCURACY: values[metrics.PIXEL_ACCURACY],
  }


def _parent(outputs, labels) -> Optional[Dict]:
  """The model the run started from (--init_from), as imported; or None."""
  artifact = outputs.get((dag.PARENT_IMPORTER, 'result'))
  if artifact is None:
    return None
  parent_labels = json.loads(_property(artifact, dag.PARENT_LABELS))
  return {
    'path': _property(artifact, dag.PARENT_PATH),
    'artifact': artifact.uri,
    'trainer_model': _property(artifact, dag.PARENT_TRAINER_MODEL),
    'labels': parent_labels,
    'classifier': (
      'kept' if parent_labels == list(labels) else 're-initialized'
    ),
  }


def _uri(outputs, component: str, key: str) -> Optional[str]:
  artifact = outputs.get((component, key))
  return artifact.uri if artifact else None


def _property(artifact, name: str):
  value = artifact.custom_properties.get(name)
  if value is None:
    return None
  return (
    value.int_value if value.HasField('int_value') else (value.string_value)
  )


def _existing(directory: Optional[str], filename: str) -> Optional[str]:
  if not directory:
    return None
  path = os.path.join(directory, filename)
  return os.path.abspath(path) if fileio.exists(path) else None


def _read_json(path: str):
  with fileio.open(path) as f:
    return json.load(f)


def _fmt(value) -> str:
  return 'n/a' if value is None else f'{value:.4f}'
