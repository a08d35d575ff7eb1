"""Masks for a folder or bucket of photos, on Beam (RunInference).

    python -m pipeline.batch_predict --model=MODEL --input=PHOTOS \\
        --output_dir=OUT [--overlays] [--batch_size=8] [--overwrite] \\
        [--max_image_pixels=N] [--verbose] [Beam pipeline options]

MODEL is a pushed version folder, a SavedModel or a .tflite file; PHOTOS a
folder (walked recursively), a glob or one photo; PHOTOS and OUT may be
gs:// paths. The job and its outputs are components.batch_inference's: OUT/
masks/, overlays/ (with --overlays), predictions.jsonl and errors.jsonl.

Without Beam options it runs locally, with one worker process per core for
a .tflite model and one process with a thread per core for a SavedModel
(components.batch_inference.local_beam_args); any Beam option replaces
those defaults, e.g.
--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp
--setup_file=./setup.py (the workers install the project's sdist).
"""

import argparse
import logging
import sys
from typing import List, Optional

from data import cli_env

# Before Beam and TensorFlow are imported (their imports warn); the worker
# processes inherit the environment.
VERBOSE = cli_env.quiet_unless_verbose()
logging.basicConfig(
  level=logging.INFO if VERBOSE else logging.WARNING,
  format='%(levelname)s %(message)s',
)

# pylint: disable=g-import-not-at-top,wrong-import-position
import apache_beam as beam
from apache_beam.options import pipeline_options

from components import batch_inference
from data import beam_options
from data import images
from pipeline import visualize


def parse_args(argv: List[str]):
  parser = argparse.ArgumentParser(
    prog='python -m pipeline.batch_predict',
    description=__doc__.split('\n')[0],
    epilog='Every other option goes to Beam as a pipeline option (--runner, '
    '--project, --region, --temp_location, --setup_file, --sdk_container_'
    'image, --direct_running_mode, --direct_num_workers, ...); without '
    'any, the job runs here with one worker process per core for a .tflite '
    'model (' + ' '.join(batch_inference.local_beam_args('m.tflite')) + '), '
    'one process with a thread per core for a SavedModel ('
    + ' '.join(batch_inference.local_beam_args('saved_model'))
    + ').',
  )
  parser.add_argument(
    '--model',
    required=True,
    help='a pushed version folder, a SavedModel folder or a .tflite file',
  )
  parser.add_argument(
    '--input',
    required=True,
    help='a folder (walked recursively), a glob, or one photo; local or gs://',
  )
  parser.add_argument('--output_dir', required=True, help='local or gs://')
  parser.add_argument(
    '--overlays',
    action='store_true',
    help='also write overlays/: the photos with classes tinted',
  )
  parser.add_argument(
    '--batch_size',
    type=int,
    default=None,
    help='photos per model call, 1 to 1024 (default 8)',
  )
  parser.add_argument(
    '--max_image_pixels',
    type=int,
    default=images.DEFAULT_MAX_IMAGE_PIXELS,
    help='refuse photos with more pixels, before decoding them; 1 to 2^31 '
    f'(default {images.DEFAULT_MAX_IMAGE_PIXELS:,})',
  )
  parser.add_argument(
    '--overwrite',
    action='store_true',
    help='recompute photos whose mask a previous run in --output_dir wrote '
    '(by default a rerun skips them)',
  )
  return beam_options.parse_args_and_beam_args(parser, argv)


def run(job, beam_args: List[str], overlays: bool) -> None:
  """Runs the job with the user's Beam options, or the local defaults."""
  options = pipeline_options.PipelineOptions(
    list(beam_args) or list(batch_inference.local_beam_args(job.model))
  )
  with beam.Pipeline(options=options) as pipeline:
    _ = pipeline | batch_inference.PredictMasks(
      job, visualize.overlay if overlays else None
    )


def main(argv: Optional[List[str]] = None) -> int:
  args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
  if not args.verbose:
    for handler in logging.getLogger().handlers:
      handler.addFilter(beam_options.QuietBeamFilter())

  try:
    kwargs = {'batch_size': args.batch_size} if args.batch_size else {}
    job = batch_inference.Job(
      model=args.model,
      input=args.input,
      output_dir=args.output_dir,
      max_image_pixels=args.max_image_pixels,
      overwrite=args.overwrite,
      **kwargs,
    )
    job.check()
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  run(job, beam_args, args.overlays)
  counts = batch_inference.count_lines(job)
  print(
    f'{counts["masks"]} masks in {args.output_dir}/'
    f'{batch_inference.MASKS_DIR}, described in '
    f'{batch_inference.PREDICTIONS_FILE}'
  )
  errors = counts['errors']
  if errors:
    listed = ', '.join(f'{n} {kind}' for kind, n in sorted(errors.items()))
    print(
      f'{sum(errors.values())} photos not read ({listed}), listed in '
      f'{args.output_dir}/{batch_inference.ERRORS_FILE}'
    )
  return 0


if __name__ == '__main__':
  sys.exit(main())
