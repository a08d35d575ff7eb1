"""tf.data input for the Trainer: transformed examples -> (image, mask) batches.

Transformed examples hold PNGs already at the training size S (see
components.preprocessing). Training adds DeepLab's augmentation
(research/deeplab/input_preprocess.py): random scale in [min_scale,
max_scale], pad to at least S (image with the mean pixel, mask with the
ignore label), random S x S crop, random horizontal flip.

Keeping an accelerator fed: files are read in parallel, decoding and
augmentation run on all cores in any order while training (deterministic
order only for evaluation), and batches are prefetched; under a
tf.distribute strategy Keras also prefetches each replica's share to its
device. The batch is the global batch: a strategy splits it across
replicas. Workers of a multi-worker run shard the records (not the files:
a small Transform output is one file) so each sees its own share. They
shard here, before the shuffle, rather than leaving it to the strategy:
its DATA auto-sharding keeps every n-th element of each worker's own
shuffled order, so unseeded workers read overlapping records and miss
others.
"""

from typing import List, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from data import features

# Padding value for images, DeepLab's mean pixel (127.5 for all channels).
_PAD_PIXEL = 127.5

# Files interleaved at once: fixed, not one per core, so that workers with
# different core counts list the records in the same order.
_FILES_READ_AT_ONCE = 8


def make_dataset(
  file_patterns: List[str],
  tf_transform_output: tft.TFTransformOutput,
  input_size: int,
  batch_size: int,
  *,
  augment: bool = False,
  min_scale: float = 0.5,
  max_scale: float = 2.0,
  shuffle: bool = True,
  repeat: bool = True,
  shard: Tuple[int, int] = (1, 0),
) -> tf.data.Dataset:
  """Global batches of (float32 [B, S, S, 3] in [0, 255], uint8 [B, S, S, 1]).

  B is batch_size, the global batch (a strategy splits it across replicas).
  shard is (workers, this worker's index) (distribution.worker_shard): the
  worker reads every workers-th record from its index on.
  """
  spec = tf_transform_output.transformed_feature_spec()
  workers, index = shard
  # Every worker must list the records in one order before taking its share.
  ordered = not shuffle or workers > 1
  files = tf.data.Dataset.list_files(file_patterns, shuffle=not ordered)
  dataset = files.interleave(
    lambda f: tf.data.TFRecordDataset(f, compression_type='GZIP'),
    cycle_length=_FILES_READ_AT_ONCE,
    num_parallel_calls=tf.data.AUTOTUNE,
    deterministic=ordered,
  )
  dataset = dataset.shard(workers, index)
  if shuffle:
    dataset = dataset.shuffle(1024, reshuffle_each_iteration=True)
  if repeat:
    dataset = dataset.repeat()

  def parse(serialized):
    example = tf.io.parse_single_example(serialized, spec)
    image = tf.io.decode_png(example[features.IMAGE], channels=3)
    mask = tf.io.decode_png(example[features.MASK], channels=1)
    image = tf.cast(
      tf.ensure_shape(image, [input_size, input_size, 3]), tf.float32
    )
    mask = tf.ensure_shape(mask, [input_size, input_size, 1])
    if augment:
      image, mask = random_scale_crop_flip(
        image, mask, input_size, min_scale, max_scale
      )
    return image, mask

  dataset = dataset.map(
    parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle
  )
  dataset = dataset.batch(batch_size, drop_remainder=repeat).prefetch(
    tf.data.AUTOTUNE
  )
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
    tf.data.experimental.AutoShardPolicy.OFF
  )
  return dataset.with_options(options)


def random_scale_crop_flip(
  image: tf.Tensor,
  mask: tf.Tensor,
  size: int,
  min_scale: float,
  max_scale: float,
) -> Tuple[tf.Tensor, tf.Tensor]:
  """One random DeepLab augmentation of a float image and its uint8 mask."""
  scale = tf.random.uniform([], min_scale, max_scale)
  scaled = tf.cast(tf.round(scale * size), tf.int32)
  image = tf.image.resize(image, [scaled, scaled], method='bilinear')
  mask = tf.image.resize(mask, [scaled, scaled], method='nearest')
  padded = tf.maximum(scaled, size)
  image = _pad_to(image - _PAD_PIXEL, padded) + _PAD_PIXEL
  mask = (
    _pad_to(tf.cast(mask, tf.int32) - features.IGNORE_LABEL, padded)
    + features.IGNORE_LABEL
  )
  stacked = tf.concat([image, tf.cast(mask, tf.float32)], axis=-1)
  stacked = tf.image.random_crop(stacked, [size, size, 4])
  stacked = tf.image.random_flip_left_right(stacked)
  return stacked[..., :3], tf.cast(stacked[..., 3:], tf.uint8)


def _pad_to(tensor: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
  """Zero-pads [H, W, C] at the bottom/right to [size, size, C]."""
  height, width = tf.shape(tensor)[0], tf.shape(tensor)[1]
  return tf.pad(tensor, [[0, size - height], [0, size - width], [0, 0]])
