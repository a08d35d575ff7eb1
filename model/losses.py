"""Losses for per-pixel classification."""

import tensorflow as tf

from data.features import IGNORE_LABEL


def masked_sparse_cross_entropy(
  labels: tf.Tensor, logits: tf.Tensor
) -> tf.Tensor:
  """Mean softmax cross-entropy over the pixels whose label is not ignored.

  DeepLab's loss (research/deeplab/utils/train_utils.py): pixels labelled
  IGNORE_LABEL (void boundaries, 'neutral' regions, crop padding) get weight
  zero, and the mean is taken over the remaining pixels of the batch: the
  global batch when several replicas train (tf.distribute), whatever share
  of the ignored pixels each replica's examples hold.

  Args:
    labels: int [B, H, W] or [B, H, W, 1] class ids, IGNORE_LABEL to ignore.
    logits: float [B, H, W, C].
  Returns:
    A scalar; 0 when every pixel of the batch is ignored.
  """
  labels = tf.reshape(tf.cast(labels, tf.int32), tf.shape(logits)[:3])
  valid = tf.not_equal(labels, IGNORE_LABEL)
  safe_labels = tf.where(valid, labels, tf.zeros_like(labels))
  per_pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(
    labels=safe_labels, logits=tf.cast(logits, tf.float32)
  )
  weights = tf.cast(valid, tf.float32)
  total, count = tf.reduce_sum(per_pixel * weights), tf.reduce_sum(weights)
  replica = tf.distribute.get_replica_context()
  if replica is not None and replica.num_replicas_in_sync > 1:
    # Each replica holds part of the global batch, and Keras averages the
    # replicas' losses: dividing by the global count of valid pixels (times
    # the replicas) makes that average the mean over the whole batch.
    count = tf.stop_gradient(
      replica.all_reduce(tf.distribute.ReduceOp.SUM, count)
      / replica.num_replicas_in_sync
    )
  return tf.math.divide_no_nan(total, count)
