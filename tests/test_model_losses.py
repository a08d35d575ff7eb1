"""model.losses: cross-entropy that ignores label 255."""

import numpy as np
import pytest
import tensorflow as tf

from model import losses


def test_mean_over_non_ignored_pixels_only():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(2, 3, 4, 3)).astype(np.float32)
  labels = rng.integers(0, 3, size=(2, 3, 4)).astype(np.uint8)
  labels[0, 0, :] = 255
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  keep = labels != 255
  expected = -np.mean(
    np.take_along_axis(
      log_probs, np.where(keep, labels, 0)[..., None].astype(int), -1
    )[..., 0][keep]
  )
  loss = losses.masked_sparse_cross_entropy(
    tf.constant(labels[..., None]), tf.constant(logits)
  )
  assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_all_ignored_is_zero_not_nan():
  loss = losses.masked_sparse_cross_entropy(
    tf.fill([1, 2, 2], tf.constant(255, tf.uint8)), tf.zeros([1, 2, 2, 2])
  )
  assert float(loss) == 0.0


class _OtherReplicaContext:
  """A replica of two whose peer holds `peer_count` valid pixels."""

  num_replicas_in_sync = 2

  def __init__(self, peer_count):
    self._peer_count = peer_count

  def all_reduce(self, op, value):
    assert op == tf.distribute.ReduceOp.SUM
    return value + self._peer_count


def test_replicas_divide_by_the_global_count_of_valid_pixels(monkeypatch):
  """Keras averages the replicas' losses: each divides by the global count.

  Replica 1 holds 3 valid pixels, its peer 5: the mean over the batch is
  (sum1 + sum2) / 8, which the average of sum_r / (8 / 2) gives.
  """
  logits = tf.constant([[[[2.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [3.0, 0.0]]]])
  labels = tf.constant([[[0, 1], [255, 1]]])
  per_pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(
    labels=[0, 1, 1], logits=[[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]
  )
  total = float(tf.reduce_sum(per_pixel))
  assert float(losses.masked_sparse_cross_entropy(labels, logits)) == (
    pytest.approx(total / 3)
  )
  monkeypatch.setattr(
    tf.distribute, 'get_replica_context', lambda: _OtherReplicaContext(5.0)
  )
  assert float(losses.masked_sparse_cross_entropy(labels, logits)) == (
    pytest.approx(total / (8 / 2))
  )


def test_cross_replica_context_is_a_plain_mean():
  """In a strategy's scope outside any replica there is no replica context."""
  logits = tf.constant([[[[2.0, 0.0], [0.0, 1.0]]]])
  labels = tf.constant([[[0, 255]]])
  with tf.distribute.MirroredStrategy(['/cpu:0']).scope():
    assert tf.distribute.get_replica_context() is None
    loss = losses.masked_sparse_cross_entropy(labels, logits)
  assert float(loss) == pytest.approx(np.log(1 + np.exp(-2.0)))
