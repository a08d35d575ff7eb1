"""Beam's options and logs for this project's commands, without importing Beam.

The runner checks `--beam_pipeline_args` and `data.convert` and
`pipeline.batch_predict` split their command lines before any work, and a
bad flag should fail at once: importing Beam takes seconds, so it happens
here only when a --runner has to be checked.
"""

import logging
from typing import Sequence

from data import cli_env

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


# DirectRunner options for real datasets on one machine: one worker process
# per core (num_workers 0). Beam's defaults, one in-process worker, use a
# single core: the GIL serializes in-process threads.
LOCAL_BEAM_ARGS = (
  '--direct_running_mode=multi_processing',
  '--direct_num_workers=0',
)


def check_beam_args(beam_args: Sequence[str]) -> None:
  """ValueError naming a --runner Beam does not know, before any work."""
  if not any(a == '--runner' or a.startswith('--runner=') for a in beam_args):
    return  # Beam's default runner; no need to import Beam to know it.
  # pylint: disable=g-import-not-at-top
  from apache_beam.options import pipeline_options
  from apache_beam.runners import runner

  options = pipeline_options.PipelineOptions(list(beam_args))
  name = options.view_as(pipeline_options.StandardOptions).runner
  if name:
    try:
      runner.create_runner(name)
    except ValueError as e:
      raise ValueError(
        f'--runner={name} in the Beam options: not a Beam runner ({e})'
      ) from e


def parse_args_and_beam_args(parser, argv: Sequence[str]):
  """(the parser's args, the Beam options) of a command whose other options
  go to Beam (data.convert, pipeline.batch_predict). The parser gets
  --verbose (data.cli_env); an unknown --runner is a usage error."""
  parser.add_argument(
    cli_env.VERBOSE_FLAG, action='store_true', help=cli_env.VERBOSE_HELP
  )
  args, beam_args = parser.parse_known_args(list(argv))
  try:
    check_beam_args(beam_args)
  except ValueError as e:
    parser.error(str(e))
  return args, beam_args
