"""Beam transforms shared by the ExampleGen executor and `data.convert`.

Reading is lazy and parallel: one element lists the dataset on a worker (only
names are held in memory), a Reshuffle spreads the names over all workers,
and each worker reads, checks and converts one image at a time. Nothing holds
more than a bundle of examples, whatever the dataset's size.

Every bad input is counted per problem and never stops the Beam pipeline
itself: the counts flow into one JSON report, written on every run, so the
rule "in = written + skipped" is checked on any runner. Then, by default, a
run with a bad example fails with one line naming the first file, its
problem and the hint `--skip_bad_examples` (`raise_if_failed`), and its
output is removed; with skip_bad_examples the bad ones are left out. An
empty output split fails the run in both modes.
"""

import abc
import bisect
import dataclasses
import hashlib
import json
import logging
import math
from typing import (
  Any,
  Dict,
  Iterable,
  Iterator,
  List,
  Optional,
  Sequence,
  Tuple,
)

import apache_beam as beam
from apache_beam.options import pipeline_options

from data import example_proto
from data import features
from data import files
from data import images
from data import problems

REPORT_NAME = 'ingest_report.json'
_SAMPLES_PER_PROBLEM = 20
_NAMESPACE = 'ingest'

# Warnings Beam's worker processes log at every start, which a person can
# do nothing about; data.convert and the runner keep them off the terminal.
BEAM_NOISE = (
  'No semi_persistent_directory found',
  'Discarding unparseable args',
)


def is_beam_noise(message: str) -> bool:
  return any(text in message for text in BEAM_NOISE)


class QuietBeamFilter(logging.Filter):
  """Drops BEAM_NOISE records."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not is_beam_noise(record.getMessage())


# Fraction of a single-split dataset (Supervisely) that goes to eval by
# default: 10%, the share of Supervisely Person's 5,711 images that gives
# ~570 eval images, enough for a stable mIoU, while keeping 90% for training.
DEFAULT_EVAL_FRACTION = 0.1
# Hash buckets of TFX's output split config; the eval fraction is rounded to
# a multiple of 1/HASH_BUCKETS.
HASH_BUCKETS = 1000

# DirectRunner options for real datasets on one machine: one worker process
# per core (num_workers 0). Beam's defaults, one in-process worker, use a
# single core: the GIL serializes in-process threads.
LOCAL_BEAM_ARGS = (
  '--direct_running_mode=multi_processing',
  '--direct_num_workers=0',
)


def check_eval_fraction(eval_fraction: float) -> float:
  """The fraction, if it gives both train and eval hash buckets."""
  if not (
    math.isfinite(eval_fraction)
    and 0 < round(eval_fraction * HASH_BUCKETS) < HASH_BUCKETS
  ):
    raise ValueError(
      f'eval_fraction={eval_fraction}: must be in [{1 / HASH_BUCKETS}, '
      f'{1 - 1 / HASH_BUCKETS}] so that both train and eval get images'
    )
  return eval_fraction


def check_beam_args(beam_args: Sequence[str]) -> None:
  """ValueError naming a --runner Beam does not know, before any work."""
  from apache_beam.runners import runner  # pylint: disable=g-import-not-at-top

  options = pipeline_options.PipelineOptions(list(beam_args))
  name = options.view_as(pipeline_options.StandardOptions).runner
  if name:
    try:
      runner.create_runner(name)
    except ValueError as e:
      raise ValueError(
        f'--runner={name} in the Beam options: not a Beam runner ({e})'
      ) from e


@dataclasses.dataclass(frozen=True)
class ReadOptions:
  """How readers read: settings the runner and data.convert pass through.

  Attributes:
    voc_aug: voc: train on the SBD augmented set.
    max_image_pixels: images and masks with more pixels are refused
      (image_too_large) before they are decoded.
    labels: the class names, for readers whose files do not imply them
      (TFRecords: mask values are checked against them).
  """

  voc_aug: bool = False
  max_image_pixels: int = images.DEFAULT_MAX_IMAGE_PIXELS
  labels: Tuple[str, ...] = ()

  def __post_init__(self):
    if not 1 <= self.max_image_pixels <= 1 << 31:
      raise ValueError(
        f'max_image_pixels={self.max_image_pixels}: must be in [1, 2**31]'
      )


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where a dataset's files are, as ExampleGen and data.convert need it.

  input_base: the folder every pattern is relative to.
  input_splits: (split name, pattern) pairs; one split named 'all' means the
    output is partitioned by hash, several are output splits as they are.
  fingerprint_patterns: globs whose files' names, sizes and mtimes make the
    cache fingerprint: change an image or a mask and ExampleGen runs again.
  """

  input_base: str
  input_splits: Tuple[Tuple[str, str], ...]
  fingerprint_patterns: Tuple[str, ...]

  def output_hash_buckets(
    self, eval_fraction: float
  ) -> Optional[List[Tuple[str, int]]]:
    """[(train, n), (eval, m)] when there is one input split, else None.

    Several input splits must already be exactly train and eval.
    """
    names = [name for name, _ in self.input_splits]
    if len(names) == 1:
      eval_buckets = round(check_eval_fraction(eval_fraction) * HASH_BUCKETS)
      return [
        (features.TRAIN_SPLIT, HASH_BUCKETS - eval_buckets),
        (features.EVAL_SPLIT, eval_buckets),
      ]
    if names != [features.TRAIN_SPLIT, features.EVAL_SPLIT]:
      raise ValueError(
        f'{self.input_base}: input splits {names}; expected '
        f'{[features.TRAIN_SPLIT, features.EVAL_SPLIT]}'
      )
    return None


class Source(abc.ABC):
  """A dataset: which keys an input split has, and how a key becomes an example.

  Instances are pickled to Beam workers: keep them to paths and small
  settings, and do the reading in the methods.
  """

  @abc.abstractmethod
  def list_keys(self, split_pattern: str) -> Tuple[List[Any], Dict[str, int]]:
    """(keys, notes) of one input split; notes count e.g. excluded ids."""

  @abc.abstractmethod
  def read(self, key: Any):
    """(example.SegmentationExample, notes) of one key.

    Raises problems.BadExample.
    """

  def read_all(self, key: Any) -> Iterator[Any]:
    """Each example a key holds, as (example, notes) or a BadExample.

    One per key for files of images; a source whose key is a file of many
    examples (a TFRecord shard) overrides this.
    """
    try:
      yield self.read(key)
    except problems.BadExample as e:
      yield e


class _ListFn(beam.DoFn):
  def __init__(self, source: Source, split_pattern: str):
    self._source = source
    self._pattern = split_pattern

  def process(self, unused_element):
    keys, notes = self._source.list_keys(self._pattern)
    for name, count in notes.items():
      yield beam.pvalue.TaggedOutput('notes', (name, count))
    yield from keys


class _ReadFn(beam.DoFn):
  """Reads one key; a bad example goes to the 'problems' output.

  Bad examples never raise here, in either mode: the run reads on, so the
  report counts every problem, and the decision to stop is taken once, after
  the pipeline (`raise_if_failed`), with one clear message.
  """

  def __init__(self, source: Source):
    self._source = source

  def process(self, key):
    for result in self._source.read_all(key):
      if isinstance(result, problems.BadExample):
        beam.metrics.Metrics.counter(_NAMESPACE, result.problem).inc()
        logging.debug('Bad example: %s', result)  # All are in the report.
        yield beam.pvalue.TaggedOutput(
          'problems', (result.problem, result.path, result.detail)
        )
        continue
      example, notes = result
      for name, count in notes.items():
        beam.metrics.Metrics.counter(_NAMESPACE, name).inc(count)
        yield beam.pvalue.TaggedOutput('notes', (name, count))
      yield example


class ReadExamples(beam.PTransform):
  """Source + split pattern -> dict of PCollections.

  'examples': example.SegmentationExample; 'problems': (problem, path,
  detail) of bad examples; 'notes': (name, n).
  """

  def __init__(self, source: Source, split_pattern: str):
    super().__init__()
    self._source = source
    self._pattern = split_pattern

  def expand(self, pbegin):
    listed = (
      pbegin
      | 'Start' >> beam.Create([None])
      | 'List'
      >> beam.ParDo(_ListFn(self._source, self._pattern)).with_outputs(
        'notes', main='keys'
      )
    )
    # Without the reshuffle, reading would fuse with the single listing
    # element and run on one worker.
    keys = listed.keys | 'Spread' >> beam.Reshuffle()
    read = keys | 'Read' >> beam.ParDo(_ReadFn(self._source)).with_outputs(
      'problems', 'notes', main='examples'
    )
    notes = (listed.notes, read.notes) | 'AllNotes' >> beam.Flatten()
    return {
      'examples': read.examples,
      'problems': read.problems,
      'notes': notes,
    }


def hash_bucket(filename: str, total_buckets: int) -> int:
  """Bucket of an example: sha256 of its serialized image/filename feature.

  The rule of TFX's ExampleGen with `partition_feature_name` (tfx/components/
  example_gen/base_example_gen_executor.py, _PartitionFn), so that a split
  made here and one made by stock TFX agree; it depends on the file name
  only, so an image never changes split when others are added or removed.
  """
  digest = hashlib.sha256(example_proto.bytes_feature(filename.encode()))
  return int(digest.hexdigest(), 16) % total_buckets


def _partition(example, num_partitions: int, bounds: List[int]) -> int:
  del num_partitions
  return bisect.bisect(bounds, hash_bucket(example.filename, bounds[-1]))


def serialize(examples: beam.PCollection, label: str) -> beam.PCollection:
  """SegmentationExamples -> tf.Example bytes, what TFRecord writers take."""
  return examples | label >> beam.Map(lambda e: e.serialize())


def read_splits(
  pipeline: beam.Pipeline,
  source: Source,
  input_splits: Sequence[Tuple[str, str]],
  skip_bad_examples: bool,
  hash_buckets: Optional[Sequence[Tuple[str, int]]] = None,
  report_path: Optional[str] = None,
) -> Dict[str, beam.PCollection]:
  """Split name -> serialized tf.Examples, what ExampleGen and convert write.

  Args:
    pipeline: the Beam pipeline to add the steps to.
    source: the dataset reader.
    input_splits: (name, pattern) of each input split.
    skip_bad_examples: leave bad inputs out instead of failing the run
      (recorded in the report; `raise_if_failed` acts on it).
    hash_buckets: (output split, buckets) to partition a single input split
      by `hash_bucket`; None keeps the input splits as output splits.
    report_path: where to write the JSON report, if anywhere.
  """
  reads = [
    (
      name,
      pipeline | f'Read[{name}]' >> ReadExamples(source, pattern),
    )
    for name, pattern in input_splits
  ]
  if hash_buckets:
    if len(reads) != 1:
      raise ValueError(
        f'hash_buckets need one input split, got '
        f'{[name for name, _ in input_splits]}'
      )
    bounds = [
      sum(b for _, b in hash_buckets[: i + 1]) for i in range(len(hash_buckets))
    ]
    parts = reads[0][1]['examples'] | 'SplitByHash' >> beam.Partition(
      _partition, len(bounds), bounds
    )
    outputs = {
      name: part for (name, _), part in zip(hash_buckets, parts, strict=True)
    }
  else:
    outputs = {name: read['examples'] for name, read in reads}
  outputs = {
    name: serialize(examples, f'Serialize[{name}]')
    for name, examples in outputs.items()
  }
  if report_path:
    write_report(reads, outputs, report_path, skip_bad_examples)
  return outputs


class _ReportFn(beam.CombineFn):
  """Merges ('in'|'written'|'problem'|'note', ...) events into the report."""

  def create_accumulator(self):
    return {
      'input_splits': {},
      'output_splits': {},
      'problems': {},
      'notes': {},
    }

  def add_input(self, acc, event):
    kind = event[0]
    if kind in ('in', 'written'):
      table = acc['input_splits' if kind == 'in' else 'output_splits']
      table[event[1]] = table.get(event[1], 0) + event[2]
    elif kind == 'problem':
      _, problem, path, detail = event
      entry = acc['problems'].setdefault(problem, {'count': 0, 'examples': []})
      entry['count'] += 1
      entry['examples'] = sorted(
        entry['examples'] + [{'path': path, 'detail': detail}],
        key=lambda x: x['path'],
      )[:_SAMPLES_PER_PROBLEM]
    elif kind == 'note':
      acc['notes'][event[1]] = acc['notes'].get(event[1], 0) + event[2]
    return acc

  def merge_accumulators(self, accumulators):
    merged = self.create_accumulator()
    for acc in accumulators:
      for table in ('input_splits', 'output_splits', 'notes'):
        for key, value in acc[table].items():
          merged[table][key] = merged[table].get(key, 0) + value
      for problem, entry in acc['problems'].items():
        into = merged['problems'].setdefault(
          problem, {'count': 0, 'examples': []}
        )
        into['count'] += entry['count']
        into['examples'] = sorted(
          into['examples'] + entry['examples'], key=lambda x: x['path']
        )[:_SAMPLES_PER_PROBLEM]
    return merged

  def extract_output(self, acc):
    report = dict(acc)
    report['in'] = sum(acc['input_splits'].values())
    report['written'] = sum(acc['output_splits'].values())
    report['skipped'] = sum(e['count'] for e in acc['problems'].values())
    return report


def _write_report(
  report: Dict[str, Any], path: str, skip_bad_examples: bool
) -> Dict[str, Any]:
  report = dict(report, skip_bad_examples=skip_bad_examples)
  report['failure'] = _failure(report)
  files.write_text(path, json.dumps(report, indent=2, sort_keys=True))
  logging.info(
    'Ingest: %d in, %d written %s, %d bad %s, notes %s; report %s',
    report['in'],
    report['written'],
    report['output_splits'],
    report['skipped'],
    {k: v['count'] for k, v in report['problems'].items()},
    report['notes'],
    path,
  )
  if report['in'] != report['written'] + report['skipped']:
    raise RuntimeError(
      f'{path}: {report["in"]} examples in but {report["written"]} written '
      f'+ {report["skipped"]} skipped; every input must be accounted for'
    )
  return report


def _failure(report: Dict[str, Any]) -> Optional[str]:
  """Why the run must stop, in one line; None when it may go on."""
  if report['skipped'] and not report['skip_bad_examples']:
    first = min(
      (
        example
        for entry in report['problems'].values()
        for example in entry['examples']
      ),
      key=lambda example: example['path'],
    )
    kind = next(
      name
      for name, entry in report['problems'].items()
      if first in entry['examples']
    )
    counts = ', '.join(
      f'{name} {entry["count"]}'
      for name, entry in sorted(report['problems'].items())
    )
    return (
      f'{first["path"]}: {kind}: {first["detail"]} ({report["skipped"]} bad '
      f'example(s) of {report["in"]}: {counts}). Fix them, or rerun with '
      '--skip_bad_examples to leave them out and count them.'
    )
  empty = sorted(
    split for split, count in report['output_splits'].items() if not count
  )
  if empty:
    return (
      f'the {" and ".join(empty)} split(s) would be empty ({report["in"]} '
      f'examples read, {report["skipped"]} bad): check the split lists, or '
      '--eval_fraction for a dataset split by hash.'
    )
  return None


def raise_if_failed(report: Dict[str, Any]) -> None:
  """problems.IngestError with the report's one-line failure, if it has one."""
  if report.get('failure'):
    raise problems.IngestError(report['failure'], report)


def write_report(
  reads: Sequence[Tuple[str, Dict[str, beam.PCollection]]],
  outputs: Dict[str, beam.PCollection],
  path: str,
  skip_bad_examples: bool,
) -> beam.PCollection:
  """Adds the steps that write the JSON report of `reads` and `outputs` to path.

  Args:
    reads: (input split name, ReadExamples result) pairs.
    outputs: output split name -> the examples written to it.
    path: where the report goes.
    skip_bad_examples: the run's mode, recorded with the failure it implies.
  Returns:
    A one-element PCollection with the report dict.
  """
  events: List[beam.PCollection] = []
  for name, read in reads:
    # "in" counts what was read, good and bad: a key may hold many examples.
    for kind in ('examples', 'problems'):
      events.append(
        read[kind]
        | f'CountIn[{name}][{kind}]' >> beam.combiners.Count.Globally()
        | f'InEvent[{name}][{kind}]' >> beam.Map(lambda n, s=name: ('in', s, n))
      )
    events.append(
      read['problems']
      | f'ProblemEvent[{name}]' >> beam.Map(lambda p: ('problem',) + tuple(p))
    )
    events.append(
      read['notes']
      | f'NoteEvent[{name}]' >> beam.Map(lambda n: ('note',) + tuple(n))
    )
  for name, examples in outputs.items():
    events.append(
      examples
      | f'CountOut[{name}]' >> beam.combiners.Count.Globally()
      | f'OutEvent[{name}]' >> beam.Map(lambda n, s=name: ('written', s, n))
    )
  return (
    events
    | 'AllEvents' >> beam.Flatten()
    | 'Report' >> beam.CombineGlobally(_ReportFn())
    | 'WriteReport' >> beam.Map(_write_report, path, skip_bad_examples)
  )


def read_report(path: str) -> Dict[str, Any]:
  return json.loads(files.read_bytes(path))


def format_report(report: Dict[str, Any]) -> Iterable[str]:
  """Human-readable lines: counts per split and per problem."""
  yield (
    f'in: {report["in"]}  written: {report["written"]}  '
    f'skipped: {report["skipped"]}'
  )
  for split, count in sorted(report['output_splits'].items()):
    yield f'  split {split}: {count}'
  for problem, entry in sorted(report['problems'].items()):
    yield f'  skipped {problem}: {entry["count"]}'
  for note, count in sorted(report['notes'].items()):
    yield f'  note {note}: {count}'
