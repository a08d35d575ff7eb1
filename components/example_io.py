"""Reading raw examples back from an Examples artifact, outside Beam.

For the few places that look at every eval example in one process (TFLite
evaluation, the run report, tests) rather than through a Beam pipeline.
"""

import os
from typing import Iterator

import numpy as np
import tensorflow as tf
from tfx.dsl.io import fileio

from components import preprocessing
from data import features
from model import metrics


def split_examples(examples_uri: str, split: str) -> Iterator[tf.train.Example]:
  """The examples of one split (`Split-<name>/*.gz`), in file order."""
  files = sorted(fileio.glob(os.path.join(examples_uri, f'Split-{split}', '*')))
  dataset = tf.data.TFRecordDataset(files, compression_type='GZIP')
  for serialized in dataset.as_numpy_iterator():
    yield tf.train.Example.FromString(serialized)


def image_of(example: tf.train.Example) -> np.ndarray:
  """uint8 [H, W, 3], decoded as the Transform graph decodes it."""
  return preprocessing.decode_image(
    _bytes(example, features.IMAGE_ENCODED)
  ).numpy()


def mask_of(example: tf.train.Example) -> np.ndarray:
  """uint8 [H, W] class ids at the original resolution."""
  return metrics.decode_label_png(_bytes(example, features.MASK_ENCODED))


def _bytes(example: tf.train.Example, key: str) -> bytes:
  return example.features.feature[key].bytes_list.value[0]
