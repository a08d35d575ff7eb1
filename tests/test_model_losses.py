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
