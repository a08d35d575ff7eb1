"""What a run produced, read back from ML Metadata after it finished.

The summary is built from the artifacts the latest run of the pipeline
recorded (cached executions included), so it describes exactly what is on
disk: the statistics give the example counts and sources, the Evaluator's
output the metrics (overall and per slice) and the blessing, the TFLite
artifact its files and their scores. It is a typed `RunSummary`; its JSON
form is run_summary.json. Components are found by the ids the DAG gives
them (components.artifacts), and a run that lacks one is an error, not an
empty field.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx.dsl.io import fileio
from tfx.utils import path_utils

from components import artifacts
from components import evaluation
from components.evaluation import SliceScores
from data import features
from model import metrics
from pipeline import lineage
from pipeline import pipeline as dag
from pipeline.config import RunConfig

SUMMARY_FILE = 'run_summary.json'
_NODE_CONTEXT = 'node'


@dataclasses.dataclass(frozen=True)
class ComponentTiming:
  component: str
  state: str  # ML Metadata's execution state: COMPLETE, CACHED, ...
  seconds: float


@dataclasses.dataclass(frozen=True)
class ParentModel:
  """The model a run started from (--init_from), as ML Metadata has it.

  Attributes:
    path: the path the run was given.
    artifact: the imported Model artifact's URI (the Trainer's base_model).
    trainer_model: the Trainer output the parent came from, when known.
    run: the id of the pipeline run that trained it, when its ML Metadata
      is where that run left it (pipeline.lineage).
    labels: the parent's class names.
    classifier: 'kept' (same labels: every weight loaded) or
      're-initialized' (other labels: all but the classifier loaded).
  """

  path: str
  artifact: str
  trainer_model: Optional[str]
  run: Optional[str]
  labels: List[str]
  classifier: str


@dataclasses.dataclass
class RunSummary:
  """What a run produced (run_summary.json). Absent values are None.

  Attributes:
    dataset, labels, input_size: what was trained on, and at which size.
    num_examples: split -> examples ExampleGen wrote.
    sources: split -> the `source` values of its examples
      (data.features.SOURCE_KEY), as StatisticsGen counted them.
    metrics: the SavedModel on the eval split (Evaluator), or None.
    metrics_by_slice: slice key (components.evaluation.SLICE_FEATURES) ->
      bucket or value -> SliceScores.
    metrics_tflite: kind (components.artifacts.TFLITE_FILES) -> the
      TFLite file's scores on the eval split.
    blessed: whether the Evaluator blessed the model.
    pushed_dir, not_pushed_reason: where the Pusher put it, or why not.
    saved_model, tflite, examples: paths of the run's outputs.
    tflite_bytes: kind -> size of the TFLite file.
    components: each component's state and time in this run.
    absences: sentences saying which score is absent and why (empty
      slices, classes absent from the eval split, all-void images).
    parent: the model the run started from (--init_from), or None.
    report, report_html: the report's paths (pipeline.report), once
      written.
  """

  dataset: str
  labels: List[str]
  input_size: int
  num_examples: Dict[str, int]
  sources: Dict[str, Dict[str, int]]
  metrics: Optional[metrics.Scores]
  metrics_by_slice: Dict[str, Dict[str, SliceScores]]
  metrics_tflite: Dict[str, Optional[metrics.Scores]]
  blessed: bool
  pushed_dir: Optional[str]
  not_pushed_reason: Optional[str]
  saved_model: Optional[str]
  tflite: Dict[str, Optional[str]]
  tflite_bytes: Dict[str, Optional[int]]
  examples: Optional[str]
  components: List[ComponentTiming]
  absences: List[str] = dataclasses.field(default_factory=list)
  report: Optional[str] = None
  report_html: Optional[str] = None
  parent: Optional[ParentModel] = None

  def to_json(self) -> Dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, value: Dict) -> 'RunSummary':
    value = dict(value)
    value['metrics'] = _scores_or_none(value['metrics'])
    value['metrics_tflite'] = {
      kind: _scores_or_none(scores)
      for kind, scores in value['metrics_tflite'].items()
    }
    value['metrics_by_slice'] = {
      key: {name: SliceScores(**scores) for name, scores in slices.items()}
      for key, slices in value['metrics_by_slice'].items()
    }
    value['components'] = [ComponentTiming(**t) for t in value['components']]
    if value.get('parent'):
      value['parent'] = ParentModel(**value['parent'])
    return cls(**value)


def parent_model(
  outputs: 'RunOutputs', config: RunConfig
) -> Optional[ParentModel]:
  """The parent the run imported (pipeline.parent_importer), or None."""
  if not config.train.init_from:
    return None
  artifact = outputs.artifact(dag.PARENT_IMPORTER, 'result')
  labels = json.loads(_property(artifact, dag.PARENT_LABELS))
  return ParentModel(
    path=_property(artifact, dag.PARENT_PATH),
    artifact=artifact.uri,
    trainer_model=_property(artifact, dag.PARENT_TRAINER_MODEL),
    run=_property(artifact, dag.PARENT_RUN),
    labels=labels,
    classifier='kept'
    if labels == list(config.data.labels)
    else 're-initialized',
  )


def _scores_or_none(value: Optional[Dict]) -> Optional[metrics.Scores]:
  return None if value is None else metrics.Scores.from_json(value)


class RunOutputs:
  """The output artifacts of one run, found by component id and output key.

  Asking for a component that is not in the run raises: a component renamed
  in the DAG but not here must not quietly empty the summary.
  """

  def __init__(self, outputs: Dict, timings: List[ComponentTiming]):
    self._outputs = outputs
    self.timings = timings

  def artifact(self, component: str, key: str):
    """The artifact, or None when the component ran but wrote no such one."""
    ran = {t.component for t in self.timings}
    if component not in ran:
      raise KeyError(
        f'component {component!r} is not in the run (it ran: '
        f'{sorted(ran)}); the DAG and the summary take their ids from '
        'components.artifacts'
      )
    return self._outputs.get((component, key))

  def uri(self, component: str, key: str) -> Optional[str]:
    artifact = self.artifact(component, key)
    return artifact.uri if artifact else None


def metadata_store(config: RunConfig) -> mlmd.MetadataStore:
  """The run's SQLite ML Metadata store."""
  return mlmd.MetadataStore(dag.metadata_connection_config(config))


def collect(config: RunConfig, store: mlmd.MetadataStore) -> RunSummary:
  """The run summary of the latest run of `config`'s pipeline."""
  outputs = latest_run_outputs(store, config.pipeline_name)
  labels = list(config.data.labels)
  tflite_uri = outputs.uri(artifacts.TFLITE_EXPORT, artifacts.TFLITE_MODEL)
  tflite_scores = (
    _read_json(os.path.join(tflite_uri, artifacts.METRICS_FILE))
    if tflite_uri
    else {}
  )
  pushed = outputs.artifact(artifacts.PUSHER, artifacts.PUSHED_MODEL)
  model_uri = outputs.uri(artifacts.TRAINER, artifacts.MODEL)
  blessing = outputs.artifact(artifacts.EVALUATOR, artifacts.BLESSING)
  examples_uri = outputs.uri(artifacts.EXAMPLE_GEN, artifacts.EXAMPLES)
  statistics = evaluation.split_statistics(
    outputs.uri(artifacts.STATISTICS_GEN, artifacts.STATISTICS)
  )
  evaluation_uri = outputs.uri(artifacts.EVALUATOR, artifacts.EVALUATION)
  tflite = {
    kind: _existing(tflite_uri, filename)
    for kind, filename in artifacts.TFLITE_FILES.items()
  }
  summary = RunSummary(
    dataset=config.data.format,
    labels=labels,
    input_size=config.model.input_size,
    num_examples={
      split: stats.num_examples for split, stats in statistics.items()
    },
    sources={
      split: evaluation.value_counts(stats, features.SOURCE_KEY)
      for split, stats in statistics.items()
    },
    metrics=evaluation.evaluator_metrics(evaluation_uri, labels),
    metrics_by_slice=(
      evaluation.slice_metrics(
        evaluation_uri, labels, evaluation.all_sources(statistics)
      )
      if evaluation_uri
      else {}
    ),
    metrics_tflite={
      kind: _scores_or_none(tflite_scores.get(kind))
      for kind in artifacts.TFLITE_FILES
    },
    blessed=bool(blessing and _property(blessing, 'blessed')),
    pushed_dir=(
      os.path.abspath(_property(pushed, 'pushed_destination'))
      if pushed and _property(pushed, 'pushed')
      else None
    ),
    not_pushed_reason=(
      _property(pushed, 'not_pushed_reason') if pushed else None
    )
    or None,
    saved_model=(
      os.path.abspath(path_utils.serving_model_path(model_uri))
      if model_uri
      else None
    ),
    tflite=tflite,
    tflite_bytes={
      kind: os.path.getsize(path) if path else None
      for kind, path in tflite.items()
    },
    examples=os.path.abspath(examples_uri) if examples_uri else None,
    components=outputs.timings,
    parent=parent_model(outputs, config),
  )
  summary.absences = evaluation.absences(
    summary.metrics, summary.metrics_by_slice
  )
  return summary


def write(summary: RunSummary, output_dir: str) -> str:
  path = os.path.join(output_dir, SUMMARY_FILE)
  with open(path, 'w') as f:
    json.dump(summary.to_json(), f, indent=2, allow_nan=False)
  return path


def read(path: str) -> RunSummary:
  with open(path) as f:
    return RunSummary.from_json(json.load(f))


def format_text(summary: RunSummary) -> str:
  """A few lines for a person watching the terminal."""
  lines = ['', 'Components:']
  for timing in summary.components:
    lines.append(
      f'  {timing.component:<32} {timing.state:<9} {timing.seconds:7.1f} s'
    )
  counts = ', '.join(
    f'{split} {count}' for split, count in sorted(summary.num_examples.items())
  )
  lines.append(f'Dataset {summary.dataset}: {counts} examples')
  scores = summary.metrics
  if scores:
    lines.append(
      f'SavedModel on eval: mean IoU {_fmt(scores.mean_iou)} '
      f'({_per_class(scores.per_class_iou)}); mean boundary IoU '
      f'{_fmt(scores.mean_boundary_iou)} '
      f'({_per_class(scores.per_class_boundary_iou)}); pixel accuracy '
      f'{_fmt(scores.pixel_accuracy)}'
    )
  for key, slices in summary.metrics_by_slice.items():
    for name, value in slices.items():
      lines.append(
        f'  slice {key}={name}: {value.num_examples} examples, mean IoU '
        f'{_fmt(value.mean_iou)}, mean boundary IoU '
        f'{_fmt(value.mean_boundary_iou)}'
      )
  for kind, scores in summary.metrics_tflite.items():
    if scores:
      lines.append(
        f'TFLite {kind:<5} on eval: mean IoU {_fmt(scores.mean_iou)}, '
        f'mean boundary IoU {_fmt(scores.mean_boundary_iou)}'
      )
  for sentence in summary.absences:
    lines.append(f'Absent: {sentence}')
  lines.append(f'Blessed: {summary.blessed}')
  return '\n'.join(lines)


def push_outcome(summary: RunSummary) -> str:
  """The run's last line: where the model went, or why it was not pushed."""
  if summary.pushed_dir:
    return f'Pushed to: {summary.pushed_dir}'
  return (
    f'Not pushed: {summary.not_pushed_reason} (the gates: '
    '`pipeline_runner.py --print_config` shows them and where they came from)'
  )


def latest_run_outputs(
  store: mlmd.MetadataStore, pipeline_name: str
) -> RunOutputs:
  """The output artifacts and component timings of the latest run."""
  runs = [
    c
    for c in store.get_contexts_by_type(lineage.RUN_CONTEXT)
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
      ComponentTiming(
        component=component,
        state=mlmd.proto.Execution.State.Name(execution.last_known_state),
        seconds=(
          execution.last_update_time_since_epoch
          - execution.create_time_since_epoch
        )
        / 1000.0,
      )
    )
    events = [
      e
      for e in store.get_events_by_execution_ids([execution.id])
      if e.type == mlmd.proto.Event.OUTPUT
    ]
    found = {
      a.id: a
      for a in store.get_artifacts_by_id([e.artifact_id for e in events])
    }
    for event in events:
      key = event.path.steps[0].key if event.path.steps else ''
      outputs[(component, key)] = found[event.artifact_id]
  return RunOutputs(outputs, timings)


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


def _per_class(values: Dict[str, Optional[float]]) -> str:
  return ', '.join(f'{name} {_fmt(value)}' for name, value in values.items())


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


_fmt = metrics.format_score
