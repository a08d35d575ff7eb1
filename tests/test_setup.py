"""setup.py's sdist is all of the project that Beam workers elsewhere get.

The data components (ExampleGen, StatisticsGen, SchemaGen, Transform) of the
real DAG run on Beam's PortableRunner with SDK workers in separate processes:
an EXTERNAL worker pool (Beam's `worker_pool_main`) started from a scratch
folder, whose workers boot as Beam's SDK containers do
(tests/fixtures/beam_boot.py): they fetch the `--setup_file` sdist Beam
staged and pip install it, with the venv's editable install of the checkout
taken away first. The workers write down where they imported the project
from, and their output is compared with a DirectRunner run and with
preprocessing computed here. The module-scoped run and its checks take 80
to 105 s on 2 shared cores.
"""

import contextlib
import glob
import json
import multiprocessing
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from components import example_io
from components import preprocessing
from data import config as data_config
from data import datasets
from data import demo
from data import features
from pipeline import config as run_config
from pipeline import pipeline as dag
from tests.fixtures import beam_boot

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 32
NUM_IMAGES = 12
SPLITS = (features.TRAIN_SPLIT, features.EVAL_SPLIT)
LAUNCH_TIMEOUT = 600


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _wait_for_port(port: int, pool: subprocess.Popen, log: str) -> None:
  deadline = time.monotonic() + 60
  while time.monotonic() < deadline:
    if pool.poll() is not None:
      with open(log) as f:
        pytest.fail(f'the worker pool exited: {f.read()[-3000:]}')
    with contextlib.suppress(OSError):
      socket.create_connection(('localhost', port), timeout=1).close()
      return
    time.sleep(0.5)
  pytest.fail(f'the worker pool did not listen on port {port} within 60 s')


@contextlib.contextmanager
def worker_pool(folder: str):
  """An EXTERNAL environment's worker pool: (address, its folder, its log).

  It runs in <folder>/pool, with no PYTHONPATH, in a process group of its
  own, so that stopping it also stops the workers it started.
  """
  boot = os.path.join(folder, 'boot.sh')
  with open(boot, 'w') as f:
    f.write(
      f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -I '
      f'{shlex.quote(beam_boot.__file__)} "$@"\n'
    )
  os.chmod(boot, 0o755)
  pool_dir = os.path.join(folder, 'pool')
  os.makedirs(pool_dir)
  log = os.path.join(folder, 'pool.log')
  port = _free_port()
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  with open(log, 'w') as out:
    pool = subprocess.Popen(
      [
        sys.executable,
        '-m',
        'apache_beam.runners.worker.worker_pool_main',
        f'--service_port={port}',
        f'--container_executable={boot}',
      ],
      cwd=pool_dir,
      env=env,
      stdout=subprocess.DEVNULL,
      stderr=out,
      start_new_session=True,
    )
  try:
    _wait_for_port(port, pool, log)
    yield f'localhost:{port}', pool_dir, log
  finally:
    with contextlib.suppress(ProcessLookupError):
      os.killpg(pool.pid, signal.SIGKILL)
    pool.wait()


def _only(pattern: str) -> str:
  (path,) = glob.glob(pattern)
  return path


def _run_data_components(config) -> None:
  """The launcher: the real DAG, up to Transform (a TFX partial run)."""
  from tfx.orchestration import pipeline as tfx_pipeline
  from tfx.orchestration.local import local_dag_runner

  local_dag_runner.LocalDagRunner().run(
    dag.create_pipeline(config),
    run_options=tfx_pipeline.RunOptions(to_nodes=['Transform']),
  )


def _launch(config, pool_dir: str, log: str) -> None:
  """Runs the launcher in a process of its own, and fails if it fails.

  A worker that does not boot leaves Beam's runner waiting for ever; its
  boot says why in a file, and the launcher is stopped then.
  """
  launcher = multiprocessing.get_context('spawn').Process(
    target=_run_data_components, args=(config,)
  )
  launcher.start()
  deadline = time.monotonic() + LAUNCH_TIMEOUT
  while launcher.is_alive():
    failed = glob.glob(os.path.join(pool_dir, '*', beam_boot.BOOT_FAILED))
    if failed or time.monotonic() > deadline:
      launcher.kill()
      launcher.join()
      with open(failed[0] if failed else log) as f:
        pytest.fail(
          f'a worker failed to boot: {f.read()}'
          if failed
          else f'no result in {LAUNCH_TIMEOUT} s; pool log: {f.read()[-5000:]}'
        )
    launcher.join(1)
  assert launcher.exitcode == 0, 'the data components failed (log above)'


@pytest.fixture(scope='module')
def portable_run(tmp_path_factory):
  """The data components on separate workers: (config, pool folder)."""
  folder = str(tmp_path_factory.mktemp('portable'))
  dataset = datasets.get('demo')
  data = data_config.build(
    'demo',
    os.path.join(folder, 'demo_data'),
    eval_fraction=0.3,
    options=demo.DemoOptions(images=NUM_IMAGES),
  )
  dataset.generate(data.data_root, data.options)
  with worker_pool(folder) as (address, pool_dir, log):
    config = run_config.build_run_config(
      'demo',
      data=data,
      output_dir=os.path.join(folder, 'run'),
      overrides={'model': {'input_size': SIZE}},
      beam_pipeline_args=(
        '--runner=PortableRunner',
        '--job_endpoint=embed',
        '--environment_type=EXTERNAL',
        f'--environment_config={address}',
        f'--setup_file={os.path.join(ROOT, "setup.py")}',
      ),
    )
    _launch(config, pool_dir, log)
  return config, pool_dir


def _output(config, component: str, key: str) -> str:
  return _only(os.path.join(config.pipeline_root, component, key, '*'))


def _workers(pool_dir):
  """[(boot.json contents, {module: file it was imported from})] per worker."""
  workers = []
  for folder in sorted(glob.glob(os.path.join(pool_dir, '*', ''))):
    with open(os.path.join(folder, beam_boot.BOOT_REPORT)) as f:
      boot = json.load(f)
    imported = {}
    imports = os.path.join(folder, beam_boot.IMPORTS_REPORT)
    if os.path.exists(imports):  # A worker may import none of the project.
      with open(imports) as f:
        imported = dict(line.rstrip('\n').split('\t') for line in f)
    workers.append((boot, imported))
  return workers


def _files(root: str):
  """Every file of the project packages under root, relative to it."""
  found = set()
  for package in beam_boot.PROJECT:
    for folder, dirs, names in os.walk(os.path.join(root, package)):
      dirs[:] = [d for d in dirs if d != '__pycache__']
      found.update(
        os.path.relpath(os.path.join(folder, name), root) for name in names
      )
  return found


def test_workers_import_the_project_only_from_the_sdist(portable_run):
  _, pool_dir = portable_run
  workers = _workers(pool_dir)
  # One worker per Beam job at least: ExampleGen, StatisticsGen, Transform.
  assert len(workers) >= 3
  imported = {}
  for boot, modules in workers:
    # With the editable install taken away, nothing of the project was
    # importable before the sdist was installed.
    assert boot['before_install'] == {}
    assert beam_boot.WORKFLOW in boot['staged']
    for module, origin in modules.items():
      assert origin.startswith(boot['site'] + os.sep), (module, origin)
    imported.update(modules)
  # ExampleGen's reading steps and the Transform module ran in the workers.
  assert {
    'data.ingest',
    'data.readers.supervisely',
    'components.preprocessing',
  } <= set(imported)


def test_the_boot_hides_a_checkout_the_interpreter_can_import(tmp_path):
  # The checkout on PYTHONPATH, and (in .venv) installed in editable mode.
  completed = subprocess.run(
    [
      sys.executable,
      '-c',
      'import importlib.util, json\n'
      'from tests.fixtures import beam_boot\n'
      "before = importlib.util.find_spec('data').origin\n"
      'print(json.dumps([before, beam_boot.forget_checkout()]))',
    ],
    cwd=tmp_path,
    env={**os.environ, 'PYTHONPATH': ROOT},
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert completed.returncode == 0, completed.stderr
  before, after = json.loads(completed.stdout.splitlines()[-1])
  assert before == os.path.join(ROOT, 'data', '__init__.py')
  assert after == {}


def test_the_sdist_carries_every_file_of_the_project_packages(portable_run):
  _, pool_dir = portable_run
  (boot, _), *_ = _workers(pool_dir)
  assert _files(boot['site']) == _files(ROOT)


def _by_split(uri):
  return {
    split: sorted(
      e.SerializeToString(deterministic=True)
      for e in example_io.split_examples(uri, split)
    )
    for split in SPLITS
  }


def test_example_gen_on_workers_writes_what_the_direct_runner_writes(
  portable_run, execute_example_gen, tmp_path
):
  config, _ = portable_run
  (example_gen,) = [
    c for c in dag.create_pipeline(config).components if c.id == 'ExampleGen'
  ]
  direct = execute_example_gen(example_gen, str(tmp_path / 'direct'))
  on_workers = _by_split(_output(config, 'ExampleGen', 'examples'))
  assert on_workers == _by_split(direct)
  assert sum(len(records) for records in on_workers.values()) == NUM_IMAGES
  assert all(on_workers.values())


def test_transform_on_workers_resizes_every_example(portable_run):
  config, _ = portable_run
  raw_uri = _output(config, 'ExampleGen', 'examples')
  transformed_uri = _output(config, 'Transform', 'transformed_examples')
  for split in SPLITS:
    raw = list(example_io.split_examples(raw_uri, split))
    transformed = list(example_io.split_examples(transformed_uri, split))
    assert len(transformed) == len(raw) > 0
    images, masks = [], []
    for example in transformed:
      image = _png(example, features.IMAGE)
      mask = _png(example, features.MASK)
      assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
      assert mask.shape == (SIZE, SIZE, 1)
      assert set(np.unique(mask)) <= {0, 1, features.IGNORE_LABEL}
      images.append(image.tobytes())
      masks.append(mask.tobytes())
    # The same images and masks as the Transform module's functions give
    # here (order differs: transformed examples have no file name).
    assert sorted(images) == sorted(
      preprocessing.resize_image(example_io.image_of(e), SIZE).numpy().tobytes()
      for e in raw
    )
    assert sorted(masks) == sorted(
      preprocessing.resize_mask(example_io.mask_of(e)[..., None], SIZE, SIZE)
      .numpy()
      .tobytes()
      for e in raw
    )


def _png(example, key):
  return tf.io.decode_png(
    example.features.feature[key].bytes_list.value[0]
  ).numpy()
