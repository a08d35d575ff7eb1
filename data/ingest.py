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

import bisect
import json
import logging
from typing import (
  Any,
  Dict,
  Iterable,
  List,
  Optional,
  Sequence,
  Tuple,
)

import apache_beam as beam

from data import files
from data import problems
from data.readers import source as source_lib

REPORT_NAME = 'ingest_report.json'
_SAMPLES_PER_PROBLEM = 20
_NAMESPACE = 'ingest'


class _ListFn(beam.DoFn):
  def __init__(self, source: source_lib.Source, split_pattern: str):
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

  def __init__(self, source: source_lib.Source):
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

  def __init__(self, source: source_lib.Source, split_pattern: str):
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


def _partition(example, num_partitions: int, bounds: List[int]) -> int:
  del num_partitions
  return bisect.bisect(
    bounds, source_lib.hash_bucket(example.filename, bounds[-1])
  )


def serialize(examples: beam.PCollection, label: str) -> beam.PCollection:
  """SegmentationExamples -> tf.Example bytes, what TFRecord writers take."""
  return examples | label >> beam.Map(lambda e: e.serialize())


def read_splits(
  pipeline: beam.Pipeline,
  source: source_lib.Source,
  input_splits: Sequence[Tuple[str, str]],
  skip_bad_examples: bool,
  hash_buckets: Optional[Sequence[Tuple[str, int]]] = None,
  report_path: Optional[str] = None,
  where: str = '',
) -> Dict[str, beam.PCollection]:
  """Split name -> serialized tf.Examples, what ExampleGen and convert write.

  Args:
    pipeline: the Beam pipeline to add the steps to.
    source: the dataset reader.
    input_splits: (name, pattern) of each input split.
    skip_bad_examples: leave bad inputs out instead of failing the run
      (recorded in the report; `raise_if_failed` acts on it).
    hash_buckets: (output split, buckets) to partition a single input split
      by `source.hash_bucket`; None keeps the input splits as output splits.
    report_path: where to write the JSON report, if anywhere.
    where: the dataset, as the report and its failure name it (e.g.
      `<data_root> (--format people)`).
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
    write_report(reads, outputs, report_path, skip_bad_examples, where)
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
  report: Dict[str, Any], path: str, skip_bad_examples: bool, where: str
) -> Dict[str, Any]:
  report = dict(report, skip_bad_examples=skip_bad_examples, data=where)
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
  if not report['in']:
    return (
      f'{report.get("data") or "the dataset"}: no examples at all: its split '
      'lists, annotation files or image folders name no image; see '
      'docs/data.md for the layout of the format.'
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
  where: str = '',
) -> beam.PCollection:
  """Adds the steps that write the JSON report of `reads` and `outputs` to path.

  Args:
    reads: (input split name, ReadExamples result) pairs.
    outputs: output split name -> the examples written to it.
    path: where the report goes.
    skip_bad_examples: the run's mode, recorded with the failure it implies.
    where: the dataset, as the failure names it.
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
    | 'WriteReport' >> beam.Map(_write_report, path, skip_bad_examples, where)
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
