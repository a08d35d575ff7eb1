"""The project's import graph, read from the source with `ast`.

Layers, lowest first: clients -> data -> model -> components -> pipeline ->
the runner (docs/architecture.md). A module may import its own layer or a lower
one, never a higher one, and no chain of imports may come back to where it
started. Every import counts, including those inside functions.
"""

import ast
import os
from typing import Dict, Set

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ('clients', 'data', 'model', 'components', 'pipeline')
RUNNER = 'pipeline_runner'


def _module_files() -> Dict[str, str]:
  """Dotted module name -> path, for the layers and the runner."""
  modules = {RUNNER: os.path.join(ROOT, RUNNER + '.py')}
  for package in LAYERS:
    for folder, _, names in os.walk(os.path.join(ROOT, package)):
      for name in names:
        if name.endswith('.py'):
          relative = os.path.relpath(os.path.join(folder, name), ROOT)
          dotted = relative[: -len('.py')].replace(os.sep, '.')
          modules[dotted.removesuffix('.__init__')] = os.path.join(folder, name)
  return modules


def imports_of(source: str, known: Set[str]) -> Set[str]:
  """The project modules a module's source imports, anywhere in it."""
  found = set()
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names = [node.module] + [
        f'{node.module}.{alias.name}' for alias in node.names
      ]
    else:
      continue
    found.update(name for name in names if name in known)
  return found


def _graph() -> Dict[str, Set[str]]:
  modules = _module_files()
  graph = {}
  for name, path in modules.items():
    with open(path, encoding='utf-8') as f:
      graph[name] = imports_of(f.read(), set(modules)) - {name}
  return graph


def _layer(module: str) -> int:
  top = module.split('.')[0]
  return len(LAYERS) if top == RUNNER else LAYERS.index(top)


def find_cycle(graph: Dict[str, Set[str]]):
  """One import cycle as a list of modules, or None (depth-first search)."""
  state = {}  # module -> 'open' while on the stack, 'done' after.
  stack = []

  def visit(module):
    state[module] = 'open'
    stack.append(module)
    for target in sorted(graph.get(module, ())):
      if state.get(target) == 'open':
        return stack[stack.index(target) :] + [target]
      if target not in state:
        cycle = visit(target)
        if cycle:
          return cycle
    stack.pop()
    state[module] = 'done'
    return None

  for module in sorted(graph):
    if module not in state:
      cycle = visit(module)
      if cycle:
        return cycle
  return None


def test_the_graph_sees_the_known_edges():
  graph = _graph()
  assert 'data.ingest' in graph['data.convert']
  assert 'model.config' in graph['components.training']
  assert 'data.datasets' in graph[RUNNER]
  assert 'clients' in graph['components.tflite_metadata']


def test_no_module_imports_a_higher_layer():
  upward = sorted(
    f'{module} imports {target}'
    for module, targets in _graph().items()
    for target in targets
    if _layer(target) > _layer(module)
  )
  assert upward == []


def test_no_import_cycle():
  assert find_cycle(_graph()) is None


@pytest.mark.parametrize(
  'source, expected',
  [
    ('import data.files', {'data.files'}),
    ('from data import files, ingest', {'data', 'data.files', 'data.ingest'}),
    ('def f():\n  from model import config', {'model', 'model.config'}),
    ('from . import files', set()),
    ('import numpy', set()),
  ],
)
def test_imports_of_reads_every_form(source, expected):
  known = {'data', 'data.files', 'data.ingest', 'model', 'model.config'}
  assert imports_of(source, known) == expected


def test_find_cycle_reports_a_cycle():
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == [
    'a',
    'b',
    'c',
    'a',
  ]
  assert find_cycle({'a': {'b'}, 'b': set()}) is None
