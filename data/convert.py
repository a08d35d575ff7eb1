"""Converts a dataset to DeepLab-format TFRecords outside the pipeline.

    python -m data.convert --format FORMAT --data_root DIR \
        --output_dir DIR [--labels people|voc|FILE] [--class_map FILE] \
        [--eval_fraction 0.1] [--skip_bad_examples] [--voc_aug] \
        [--deeplab_layout] \
        [Beam pipeline options, e.g. --runner DataflowRunner ...]

Writes `<output_dir>/{train,eval}-*-of-*.tfrecord.gz` (or, with
--deeplab_layout, DeepLab's uncompressed `{train,val}-*-of-*.tfrecord`),
`labels.txt` and `ingest_report.json`, and prints counts per split and per
problem. The examples come from data.ingest.read_splits, the very Beam steps
the ExampleGen executor runs (components/example_gen.py), with the same
data flags (data/flags.py), DataConfig, layout, checks and hash split, so a
cluster prepared with this command sees what the pipeline would have
produced; the output folder is then ingestible with `--format tfrecord`.
FORMAT is any format of data.datasets but the generated demo;
`--format tfrecord` reads DeepLab's own records (data/readers/deeplab.py)
with the same checks as the image readers. Neither this process nor its
Beam workers load TensorFlow for local data (data.images checks with PIL).

Without Beam options it runs locally with one worker process per core
(data.beam_options.LOCAL_BEAM_ARGS); any Beam option replaces those defaults.
"""

import argparse
import logging
import sys
from typing import List, Optional

from data import cli_env

# Before Beam is imported: quiet here and in the workers it starts.
VERBOSE = cli_env.quiet_unless_verbose()

# pylint: disable=g-import-not-at-top,wrong-import-position
import apache_beam as beam
from apache_beam.options import pipeline_options

from data import beam_options
from data import config as data_config
from data import features
from data import files
from data import flags as data_flags
from data import ingest
from data import labels
from data import problems
from data import tfrecords

# Output split -> shard file prefix: this project's names, or DeepLab's.
_SPLIT_FILES = {
  False: {features.TRAIN_SPLIT: 'train', features.EVAL_SPLIT: 'eval'},
  True: {features.TRAIN_SPLIT: 'train', features.EVAL_SPLIT: 'val'},
}


def parse_args(argv: List[str]):
  parser = argparse.ArgumentParser(
    prog='python -m data.convert',
    description=__doc__.split('\n')[0],
    epilog='Every other option goes to Beam as a pipeline option (--runner, '
    '--project, --region, --temp_location, --setup_file, '
    '--sdk_container_image, --direct_running_mode, --direct_num_workers, '
    '...); without any, the job runs here with one worker process per core '
    f'({" ".join(beam_options.LOCAL_BEAM_ARGS)}).',
  )
  data_flags.add_arguments(parser)
  parser.add_argument(
    '--output_dir',
    required=True,
    help='where the records, labels.txt and ingest_report.json go (local '
    'or gs://)',
  )
  parser.add_argument(
    '--deeplab_layout',
    action='store_true',
    help="write DeepLab's own layout: uncompressed "
    'train-00000-of-0000N.tfrecord and val-... files, which '
    "research/deeplab's data_generator reads as they are",
  )
  return beam_options.parse_args_and_beam_args(parser, argv)


def _beam_options(beam_args: List[str]) -> pipeline_options.PipelineOptions:
  """The user's Beam options, or beam_options.LOCAL_BEAM_ARGS if there are none.

  The user's replace the defaults rather than add to them, as with
  pipeline_runner.py's --beam_pipeline_args.
  """
  return pipeline_options.PipelineOptions(
    list(beam_args) or list(beam_options.LOCAL_BEAM_ARGS)
  )


def convert(
  config: data_config.DataConfig,
  output_dir: str,
  *,
  deeplab_layout: bool = False,
  beam_args: Optional[List[str]] = None,
) -> dict:
  """Runs the conversion; returns the ingest report.

  Raises problems.IngestError when the run must stop (a bad example without
  skip_bad_examples, or an empty split): the report is still written, and
  no record file is left in output_dir.
  """
  layout = config.dataset.layout(config)
  buckets = layout.output_hash_buckets(config.eval_fraction)
  source = config.dataset.source(layout.input_base, config)
  names = _SPLIT_FILES[deeplab_layout]
  report_path = files.join(output_dir, ingest.REPORT_NAME)
  with beam.Pipeline(options=_beam_options(list(beam_args or []))) as pipeline:
    splits = ingest.read_splits(
      pipeline,
      source,
      layout.input_splits,
      config.skip_bad_examples,
      buckets,
      report_path,
      where=f'{config.data_root} (--format {config.format})',
    )
    for split, name in names.items():
      prefix = files.join(output_dir, name)
      _ = splits[split] | f'Write[{split}]' >> (
        beam.io.WriteToTFRecord(prefix, file_name_suffix='.tfrecord')
        if deeplab_layout
        else tfrecords.WriteToGzipTFRecord(prefix)
      )
  report = ingest.read_report(report_path)
  if report['failure']:
    for name in names.values():
      for path in files.glob(files.join(output_dir, f'{name}-*')):
        files.remove(path)
    ingest.raise_if_failed(report)
  labels.write_labels(files.join(output_dir, labels.LABELS_FILE), config.labels)
  return report


def main(argv: Optional[List[str]] = None) -> int:
  # Warnings only: Beam's progress lines are not for the person at the
  # terminal, who gets the counts (or one error line) below.
  logging.basicConfig(
    level=logging.INFO if VERBOSE else logging.WARNING,
    format='%(levelname)s %(message)s',
  )
  if not VERBOSE:
    for handler in logging.getLogger().handlers:
      handler.addFilter(beam_options.QuietBeamFilter())
  args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
  try:
    report = convert(
      data_flags.build_config(vars(args)),
      args.output_dir,
      deeplab_layout=args.deeplab_layout,
      beam_args=beam_args,
    )
  except problems.IngestError as e:
    report = files.join(args.output_dir, ingest.REPORT_NAME)
    print(f'error: {e} Report: {report}', file=sys.stderr)
    return 1
  except (ValueError, OSError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  for line in ingest.format_report(report):
    print(line)
  names = _SPLIT_FILES[args.deeplab_layout]
  suffix = '.tfrecord' if args.deeplab_layout else tfrecords.SUFFIX
  print(
    f'wrote {args.output_dir}/{{{",".join(names.values())}}}-*{suffix}, '
    f'{labels.LABELS_FILE}, {ingest.REPORT_NAME}'
  )
  return 0


if __name__ == '__main__':
  sys.exit(main())
