"""README.md and docs/ against the code: every command, flag and name they
give must exist, so a newcomer who pastes them is never the first to find
out that one does not.

- Each `python -m MODULE`, `pipeline_runner.py` or `bench/*.py` command in
  a code block or code span: the program exists, and each `--flag` given to
  it is one its `--help` lists (or a Beam option, for the programs that
  pass those through).
- Each `--flag` named in prose is a flag of one of the project's programs
  or a Beam option.
- Each `package.module` or `package.module.symbol` in a code span imports.
"""

import dataclasses
import functools
import glob
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from typing import Dict, Iterator, List, Set, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')
DOCS = sorted(
  [os.path.join(ROOT, 'README.md')]
  + glob.glob(os.path.join(ROOT, 'docs', '*.md'))
)
_PACKAGES = ('clients', 'components', 'data', 'model', 'pipeline')
# Programs whose unknown --flags go to Beam (their --help says so).
_BEAM_PASSTHROUGH = ('data.convert', 'pipeline.batch_predict')
# File names in code spans that look like dotted names.
_FILE_SUFFIXES = {
  'in',
  'json',
  'jsonl',
  'lock',
  'log',
  'md',
  'pb',
  'png',
  'py',
  'tflite',
  'txt',
}
# Flags of other people's programs that the docs show, by program.
_FOREIGN_FLAGS = {
  'apache_beam.runners.worker.worker_pool_main': {
    'service_port',
    'container_executable',
  },
  "Beam's SDK container boot program": {
    'worker_pool',
    'id',
    'provision_endpoint',
    'artifact_endpoint',
    'control_endpoint',
    'logging_endpoint',
  },
  'docker run': {'net'},
  'pip install': {'no-deps'},
  "DeepLab's train.py": {'dataset_dir', 'train_split', 'eval_split'},
  'tensorflow_model_server': {'model_base_path'},
}
_SHELL_BREAKS = ('|', '>', '&&', ';', '#', '>>', '2>&1')


def _text(path: str) -> str:
  with open(path, encoding='utf-8') as f:
    return f.read()


def _code(text: str) -> Iterator[str]:
  """Each line of every code block (continuations joined), and each span."""
  for block in re.findall(r'^```[^\n]*\n(.*?)^```', text, flags=re.M | re.S):
    yield from block.replace('\\\n', ' ').splitlines()
  prose = re.sub(r'^```[^\n]*\n.*?^```', '', text, flags=re.M | re.S)
  yield from re.findall(r'`([^`\n]+)`', prose)


def _commands(text: str) -> Iterator[Tuple[str, str, List[str]]]:
  """(interpreter, program, flag names) of each command in the text.

  The program is a module name (`python -m X`) or a script path
  (`pipeline_runner.py`, `bench/x.py`); `make demo ARGS='...'` runs
  pipeline_runner.py.
  """
  for line in _code(text):
    tokens = line.replace("'", ' ').replace('"', ' ').split()
    for i, token in enumerate(tokens):
      if token == '-m' and i + 1 < len(tokens):
        program, rest = tokens[i + 1], tokens[i + 2 :]
      elif token == 'pipeline_runner.py' or (
        token.startswith('bench/') and i and 'python' in tokens[i - 1]
      ):
        program, rest = token, tokens[i + 1 :]
      elif token == 'demo' and i and tokens[i - 1] == 'make':
        program, rest = 'pipeline_runner.py', tokens[i + 1 :]
      else:
        continue
      interpreter = tokens[i - 1] if i and 'python' in tokens[i - 1] else ''
      yield interpreter, program, _flags(rest)
      break


def _flags(tokens: List[str]) -> List[str]:
  names = []
  for token in tokens:
    if token in _SHELL_BREAKS:
      break
    token = token.strip('[]{}()').removeprefix('ARGS=')
    if token.startswith('--') and len(token) > 2:
      names.append(token[2:].split('=')[0])
  return names


@functools.lru_cache(maxsize=None)
def _program_flags(interpreter: str, program: str) -> Set[str]:
  """The flag names a program's --helpfull (absl) or --help lists."""
  python = os.path.join(ROOT, interpreter) if interpreter else sys.executable
  if not os.path.isfile(python):
    python = sys.executable
  command = [python] + (
    [os.path.join(ROOT, program)]
    if program.endswith('.py')
    else ['-m', program]
  )
  completed = subprocess.run(
    command + ['--helpfull'],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  if not completed.stdout:  # argparse knows only --help
    completed = subprocess.run(
      command + ['--help'], cwd=ROOT, capture_output=True, text=True
    )
  # absl exits 1 after printing the help, argparse 0.
  assert completed.returncode in (0, 1) and completed.stdout, (
    program,
    completed.stderr[-2000:],
  )
  names = set(re.findall(r'--(?:\[no\])?([a-z][\w-]*)', completed.stdout))
  # absl's boolean flags also take a --no prefix.
  return names | {f'no{name}' for name in names}


@functools.lru_cache(maxsize=None)
def _beam_options() -> Set[str]:
  from apache_beam.options import pipeline_options

  return set(pipeline_options.PipelineOptions([]).get_all_options())


def _all_commands() -> Dict[Tuple[str, str], Set[Tuple[str, str]]]:
  """{(interpreter, program): {(doc, flag)}} over every doc."""
  found = {}
  for path in DOCS:
    doc = os.path.relpath(path, ROOT)
    for interpreter, program, names in _commands(_text(path)):
      entry = found.setdefault((interpreter, program), set())
      entry.update((doc, name) for name in names)
  return found


def _is_project_program(program: str) -> bool:
  return program.endswith('.py') or program.split('.')[0] in _PACKAGES


def test_the_docs_show_commands_of_every_kind():
  programs = {program for _, program in _all_commands()}
  assert {'pipeline_runner.py', 'data.convert', 'pipeline.predict'} <= programs


def test_every_module_a_command_runs_exists():
  missing = [
    program
    for _, program in _all_commands()
    if not program.endswith('.py') and importlib.util.find_spec(program) is None
  ]
  missing += [
    program
    for _, program in _all_commands()
    if program.endswith('.py')
    and not os.path.isfile(os.path.join(ROOT, program))
  ]
  assert not missing


@pytest.mark.slow
def test_every_flag_a_command_gives_is_one_its_program_takes():
  wrong = []
  for (interpreter, program), uses in sorted(_all_commands().items()):
    if program in _FOREIGN_FLAGS:
      known = _FOREIGN_FLAGS[program]
    elif _is_project_program(program):
      known = _program_flags(interpreter, program)
      if program in _BEAM_PASSTHROUGH:
        known = known | _beam_options()
    else:
      continue
    wrong += [
      f'{doc}: {program} --{name}'
      for doc, name in sorted(uses)
      if name not in known
    ]
  assert not wrong


@pytest.mark.slow
def test_every_flag_named_in_prose_exists_somewhere():
  known = set(_beam_options())
  for (interpreter, program), _ in _all_commands().items():
    if _is_project_program(program):
      known |= _program_flags(interpreter, program)
  for flags in _FOREIGN_FLAGS.values():
    known |= flags
  wrong = []
  for path in DOCS:
    for span in _code(_text(path)):
      for name in re.findall(r'(?:^|[\s\[,=])--([a-z][\w-]*)', span):
        if name not in known:
          wrong.append(f'{os.path.relpath(path, ROOT)}: --{name}')
  assert not sorted(set(wrong))


def _dotted_names() -> Iterator[Tuple[str, str]]:
  pattern = re.compile(
    r'^(?:%s)(?:\.\w+)+$' % '|'.join(_PACKAGES)  # noqa: UP031
  )
  for path in DOCS:
    for span in _code(_text(path)):
      for word in re.findall(r'(?<![\w./-])[\w.]+', span):
        if pattern.match(word) and word.split('.')[-1] not in _FILE_SUFFIXES:
          yield os.path.relpath(path, ROOT), word


def _resolves(dotted: str) -> bool:
  parts = dotted.split('.')
  for cut in range(len(parts), 0, -1):
    module_name = '.'.join(parts[:cut])
    try:
      target = importlib.import_module(module_name)
    except ImportError:
      continue
    for attribute in parts[cut:]:
      if not hasattr(target, attribute):
        return False
      target = getattr(target, attribute)
    return True
  return False


def test_every_dotted_name_in_the_docs_resolves():
  names = sorted(set(_dotted_names()))
  assert len(names) > 20  # the docs name many: the pattern finds them
  assert not [f'{doc}: {name}' for doc, name in names if not _resolves(name)]


def _readme_table(first_header: str) -> List[List[str]]:
  """The rows (cells) of the README table whose first header cell is
  `first_header`."""
  lines = _text(README)
  rows, inside = [], False
  for line in lines.splitlines():
    cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
    if line.startswith('|') and cells[0] == first_header:
      inside = True
      continue
    if inside and not line.startswith('|'):
      break
    if inside and not set(cells[0]) <= {'-'}:
      rows.append(cells)
  return rows


def test_readme_presets_table_gives_each_presets_gates():
  from pipeline import config  # pylint: disable=g-import-not-at-top

  header = _text(README).split('| preset | model | training |')[1]
  gates = re.findall(r'`--(\w+)`', header.splitlines()[0])
  assert set(gates) == {f.name for f in dataclasses.fields(config.QualityGate)}
  rows = {row[0].strip('`'): row for row in _readme_table('preset')}
  assert set(rows) == set(config.PRESETS)
  for preset, recipe in config.PRESETS.items():
    for column, gate in enumerate(gates, start=3):
      assert float(rows[preset][column]) == getattr(recipe.gate, gate), (
        preset,
        gate,
      )


def test_readme_quotes_no_run_figures_but_points_to_the_recorded_run():
  """Figures of a run (IoU, minutes) live in docs/demo_run.md with the
  run's date and command; the README points there instead of quoting."""
  readme = _text(README)
  assert 'docs/demo_run.md' in readme
  assert not re.findall(r'IoU[^.\n|]{0,12}\b0\.\d{3}', readme)
  record = _text(os.path.join(ROOT, 'docs', 'demo_run.md'))
  assert re.search(r'^Date: \d{4}-\d\d-\d\d', record, flags=re.M)
  assert re.search(r'^Command: `make demo`', record, flags=re.M)
