"""components.distribution: the strategy rule, the chief, scratch folders."""

import json
import os

import pytest
import tensorflow as tf

from components import distribution


def _cluster(chief=1, workers=1, task=('chief', 0)):
  cluster = {}
  if chief:
    cluster['chief'] = [f'host:{2000 + i}' for i in range(chief)]
  if workers:
    cluster['worker'] = [f'host:{3000 + i}' for i in range(workers)]
  return {'cluster': cluster, 'task': {'type': task[0], 'index': task[1]}}


@pytest.mark.parametrize(
  'tf_config, gpus, tpu, expected',
  [
    ({}, [], None, 'default'),
    ({}, ['GPU:0'], None, 'default'),
    ({}, ['GPU:0', 'GPU:1'], None, 'mirrored'),
    ({}, [], 'my-tpu', 'tpu'),
    (_cluster(chief=1, workers=1), [], None, 'multi_worker'),
    (
      _cluster(chief=0, workers=2, task=('worker', 1)),
      [],
      None,
      'multi_worker',
    ),
    # Multi-worker wins over local GPUs: each worker mirrors its own GPUs.
    (_cluster(chief=1, workers=3), ['GPU:0', 'GPU:1'], None, 'multi_worker'),
    # A cluster of one (Vertex sets TF_CONFIG for a single replica too).
    (_cluster(chief=1, workers=0), ['GPU:0', 'GPU:1'], None, 'mirrored'),
    # Parameter servers and evaluators do not count as training tasks.
    (
      {'cluster': {'chief': ['a:1'], 'ps': ['b:1'], 'evaluator': ['c:1']}},
      [],
      None,
      'default',
    ),
  ],
)
def test_choose(tf_config, gpus, tpu, expected):
  assert distribution.choose(tf_config, gpus, tpu) == expected
  assert expected in distribution.STRATEGIES


@pytest.mark.parametrize(
  'tf_config, chief',
  [
    ({}, True),
    (_cluster(chief=1, workers=0), True),
    (_cluster(chief=1, workers=2, task=('chief', 0)), True),
    (_cluster(chief=1, workers=2, task=('worker', 0)), False),
    (_cluster(chief=1, workers=2, task=('worker', 1)), False),
    (_cluster(chief=0, workers=2, task=('worker', 0)), True),
    (_cluster(chief=0, workers=2, task=('worker', 1)), False),
    (
      {
        'cluster': {'master': ['a:1'], 'worker': ['b:1']},
        'task': {'type': 'master', 'index': 0},
      },
      True,
    ),
    # 'master' is a chief too: worker 0 is then not the chief.
    (
      {
        'cluster': {'master': ['a:1'], 'worker': ['b:1']},
        'task': {'type': 'worker', 'index': 0},
      },
      False,
    ),
    # A task without an index is task 0.
    (
      {
        'cluster': {'chief': ['a:1'], 'worker': ['b:1']},
        'task': {'type': 'chief'},
      },
      True,
    ),
    # A cluster of one training task is its own chief, task or not.
    ({'cluster': {'worker': ['a:1']}}, True),
  ],
)
def test_is_chief(tf_config, chief):
  assert distribution.is_chief(tf_config) is chief


def test_tf_config_from_env(monkeypatch):
  monkeypatch.delenv('TF_CONFIG', raising=False)
  assert distribution.tf_config_from_env() == {}
  monkeypatch.setenv('TF_CONFIG', '{"cluster": {"worker": ["a:1"]}}')
  assert distribution.tf_config_from_env() == {'cluster': {'worker': ['a:1']}}


def test_chief_writes_in_place_others_in_a_removed_scratch_folder(tmp_path):
  target = str(tmp_path / 'logs')
  with distribution.chief_path(target, chief=True) as path:
    assert path == target
  with distribution.chief_path(target, chief=False) as path:
    assert path != target and os.path.isdir(path)
    with open(os.path.join(path, 'events'), 'w') as f:
      f.write('x')
  assert not os.path.exists(path)
  assert not os.path.exists(target)


def test_unknown_strategy_is_refused():
  with pytest.raises(ValueError, match="strategy='ps'"):
    distribution.make_strategy('ps')


def test_default_strategy_and_barrier_without_a_cluster():
  strategy = distribution.make_strategy('default')
  assert strategy is tf.distribute.get_strategy()
  assert strategy.num_replicas_in_sync == 1
  assert distribution.barrier(strategy) == 1


def test_mirrored_strategy_by_name():
  strategy = distribution.make_strategy('mirrored')
  assert isinstance(strategy, tf.distribute.MirroredStrategy)
  assert distribution.barrier(strategy) == strategy.num_replicas_in_sync


def test_without_a_name_the_strategy_is_chosen_from_the_environment(
  monkeypatch,
):
  tf_config = _cluster(chief=1, workers=0)
  monkeypatch.setenv('TF_CONFIG', json.dumps(tf_config))
  monkeypatch.setenv('TPU_NAME', 'my-tpu')
  seen = []

  def choose(*args):
    seen.append(args)
    return distribution.DEFAULT

  monkeypatch.setattr(distribution, 'choose', choose)
  assert distribution.make_strategy() is tf.distribute.get_strategy()
  assert seen == [(tf_config, tf.config.list_physical_devices('GPU'), 'my-tpu')]


def test_a_tpu_strategy_connects_to_the_tpu_named_in_the_environment(
  monkeypatch,
):
  """No TPU here: TensorFlow's TPU calls are replaced by recorders, which
  check that each step gets the resolver of TPU_NAME."""
  monkeypatch.setenv('TPU_NAME', 'my-tpu')
  calls = []

  def resolver(name):
    calls.append(('resolve', name))
    return f'resolver of {name}'

  monkeypatch.setattr(
    tf.distribute.cluster_resolver, 'TPUClusterResolver', resolver
  )
  for step, module, name in (
    ('connect', tf.config, 'experimental_connect_to_cluster'),
    ('initialize', tf.tpu.experimental, 'initialize_tpu_system'),
    ('strategy', tf.distribute, 'TPUStrategy'),
  ):
    monkeypatch.setattr(
      module, name, lambda r, step=step: calls.append((step, r)) or step
    )
  assert distribution.make_strategy('tpu') == 'strategy'
  assert calls == [
    ('resolve', 'my-tpu'),
    ('connect', 'resolver of my-tpu'),
    ('initialize', 'resolver of my-tpu'),
    ('strategy', 'resolver of my-tpu'),
  ]


def test_local_cluster_gives_each_task_its_own_port():
  cluster = distribution.local_cluster(chief=1, worker=2)
  assert list(cluster) == ['chief', 'worker']
  assert [len(tasks) for tasks in cluster.values()] == [1, 2]
  addresses = [a for tasks in cluster.values() for a in tasks]
  assert len(set(addresses)) == 3
  assert all(a.startswith('127.0.0.1:') for a in addresses)


@pytest.mark.parametrize(
  'tf_config, shard',
  [
    ({}, (1, 0)),
    (_cluster(chief=1, workers=0), (1, 0)),
    (_cluster(chief=1, workers=2, task=('chief', 0)), (3, 0)),
    (_cluster(chief=1, workers=2, task=('worker', 0)), (3, 1)),
    (_cluster(chief=1, workers=2, task=('worker', 1)), (3, 2)),
    (_cluster(chief=0, workers=2, task=('worker', 0)), (2, 0)),
    (_cluster(chief=0, workers=2, task=('worker', 1)), (2, 1)),
    (
      {
        'cluster': {'master': ['a:1'], 'worker': ['b:1', 'c:1']},
        'task': {'type': 'worker', 'index': 1},
      },
      (3, 2),
    ),
    (
      {
        'cluster': {'master': ['a:1'], 'worker': ['b:1']},
        'task': {'type': 'master', 'index': 0},
      },
      (2, 0),
    ),
    # A task without an index is task 0.
    (
      {
        'cluster': {'chief': ['a:1'], 'worker': ['b:1', 'c:1']},
        'task': {'type': 'worker'},
      },
      (3, 1),
    ),
  ],
)
def test_worker_shard_numbers_tasks_as_multi_worker_mirrored_does(
  tf_config, shard
):
  assert distribution.worker_shard(tf_config) == shard
