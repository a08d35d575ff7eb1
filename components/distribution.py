"""The Trainer's tf.distribute strategy, read from where it runs.

TFX's way: the same `run_fn` runs on one machine or on every replica of a
cluster (TFX's Vertex trainer starts it on each, and Vertex AI Training sets
TF_CONFIG), and picks its strategy from its environment:

- TF_CONFIG names more than one training task (chief and workers) ->
  MultiWorkerMirroredStrategy, synchronous all-reduce across machines;
- several local GPUs -> MirroredStrategy;
- TPU_NAME set (a Cloud TPU) -> TPUStrategy;
- otherwise the default strategy (one device).

`choose` takes the TF_CONFIG dict and device list as arguments, so the rule
is testable without a cluster. Only the chief writes what outlives the run
(`is_chief`, `chief_path`); the others write the same files, because saving
distributed variables is a collective step, to temporary folders they remove.
"""

import contextlib
import json
import os
import shutil
import socket
import tempfile
from typing import (
  Any,
  Dict,
  Iterator,
  List,
  Mapping,
  Optional,
  Sequence,
  Tuple,
)

import tensorflow as tf

DEFAULT = 'default'
MIRRORED = 'mirrored'
MULTI_WORKER = 'multi_worker'
TPU = 'tpu'
STRATEGIES = (DEFAULT, MIRRORED, MULTI_WORKER, TPU)

# Task types that train (TF_CONFIG; 'master' is the TF1 name of the chief).
_TRAINING_TASKS = ('chief', 'master', 'worker')


def tf_config_from_env() -> Dict[str, Any]:
  """The TF_CONFIG environment variable, parsed ({} when unset)."""
  return json.loads(os.environ.get('TF_CONFIG') or '{}')


def training_tasks(tf_config: Mapping[str, Any]) -> int:
  """How many chief/worker tasks the TF_CONFIG cluster has."""
  cluster = tf_config.get('cluster') or {}
  return sum(len(cluster.get(kind, ())) for kind in _TRAINING_TASKS)


def choose(
  tf_config: Mapping[str, Any],
  gpus: Sequence[Any],
  tpu: Optional[str] = None,
) -> str:
  """One of STRATEGIES for a TF_CONFIG, the local GPUs and a TPU name."""
  if training_tasks(tf_config) > 1:
    return MULTI_WORKER
  if tpu:
    return TPU
  if len(gpus) > 1:
    return MIRRORED
  return DEFAULT


def is_chief(tf_config: Mapping[str, Any]) -> bool:
  """Whether this task writes the run's outputs.

  The chief task, or worker 0 of a cluster without one (MultiWorker-
  MirroredStrategy's rule); a process without a cluster is its own chief.
  """
  cluster = tf_config.get('cluster') or {}
  if training_tasks(tf_config) <= 1:
    return True
  task = tf_config.get('task') or {}
  kind, index = task.get('type'), int(task.get('index', 0))
  if kind in ('chief', 'master'):
    return index == 0
  has_chief = bool(cluster.get('chief') or cluster.get('master'))
  return kind == 'worker' and index == 0 and not has_chief


def worker_shard(tf_config: Mapping[str, Any]) -> Tuple[int, int]:
  """(training tasks, this task's index): which share of the records to read.

  MultiWorkerMirroredStrategy's numbering: the chief is 0 and worker i comes
  after the chief (i + 1), or is i in a cluster without one. A process
  without a cluster reads everything: (1, 0).
  """
  count = training_tasks(tf_config)
  if count <= 1:
    return 1, 0
  cluster = tf_config.get('cluster') or {}
  task = tf_config.get('task') or {}
  kind, index = task.get('type'), int(task.get('index', 0))
  if kind in ('chief', 'master'):
    return count, index
  chiefs = len(cluster.get('chief', ())) + len(cluster.get('master', ()))
  return count, chiefs + index


def make_strategy(kind: Optional[str] = None) -> tf.distribute.Strategy:
  """The strategy `kind` names, or the one `choose` picks from the env.

  Must run before anything else starts TensorFlow's runtime: a multi-worker
  strategy configures the collective ops of this process.
  """
  if kind is None:
    kind = choose(
      tf_config_from_env(),
      tf.config.list_physical_devices('GPU'),
      os.environ.get('TPU_NAME'),
    )
  if kind not in STRATEGIES:
    raise ValueError(f'strategy={kind!r}: must be one of {STRATEGIES}')
  if kind == MULTI_WORKER:
    return tf.distribute.MultiWorkerMirroredStrategy()
  if kind == MIRRORED:
    return tf.distribute.MirroredStrategy()
  if kind == TPU:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
      os.environ.get('TPU_NAME')
    )
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  return tf.distribute.get_strategy()


def local_cluster(**task_counts: int) -> Dict[str, List[str]]:
  """A TF_CONFIG `cluster` of that many tasks per type on 127.0.0.1.

  For several training processes on one machine (the strategy comparison in
  bench/train_throughput.py, the tests): every port is held open until all
  are picked, so no two tasks get the same one.
  """
  sockets = [socket.socket() for _ in range(sum(task_counts.values()))]
  try:
    for s in sockets:
      s.bind(('127.0.0.1', 0))
    addresses = iter(f'127.0.0.1:{s.getsockname()[1]}' for s in sockets)
    return {
      task: [next(addresses) for _ in range(count)]
      for task, count in task_counts.items()
    }
  finally:
    for s in sockets:
      s.close()


@contextlib.contextmanager
def chief_path(path: str, chief: bool) -> Iterator[str]:
  """`path` on the chief; elsewhere a temporary folder, removed on exit."""
  if chief:
    yield path
    return
  scratch = tempfile.mkdtemp(prefix='mobile-deeplab-worker-')
  try:
    yield scratch
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def barrier(strategy: tf.distribute.Strategy) -> int:
  """Returns once every replica got here (a one-number all-reduce): how
  many did, which is every replica of the strategy.

  Non-chief workers wait at it for the chief to finish exporting, so none
  reports success before the model exists.
  """
  arrived = strategy.reduce(
    tf.distribute.ReduceOp.SUM,
    strategy.run(lambda: tf.constant(1.0)),
    axis=None,
  )
  return int(arrived)
