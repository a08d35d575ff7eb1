"""DeepLab-format TFRecords as a dataset: its split names, and a checked reader.

tensorflow/models research/deeplab (datasets/build_voc2012_data.py and
build_data.py) writes `<split>-<shard>-of-<n>.tfrecord` files, uncompressed,
of tf.Examples with the keys of data/features.py; its splits are `train`,
`train_aug`, `trainval` and `val`. data.convert writes `train-*` and
`eval-*`, gzipped. Both are read here: gzip or not by the file's first
bytes, and every record goes through the checks the image readers apply
(decodable in TensorFlow, size limit, mask a PNG of the image's size whose
values are class ids). Records say nothing about the class names, so they
come from `labels.txt` beside the records or from --labels.
"""

from typing import Any, Iterator

from data import example as example_lib
from data import features
from data import files
from data import guard
from data import labels
from data import problems
from data.readers import source

# Output split -> the file name prefixes that are read as it, first found
# wins: DeepLab's augmented train set before its plain one; trainval (which
# holds val) only when neither exists.
SPLIT_PREFIXES = {
  features.TRAIN_SPLIT: ('train_aug', 'train', 'trainval'),
  features.EVAL_SPLIT: ('eval', 'val'),
}
# image/source of a record that has none.
SOURCE = 'deeplab'
_GZIP_MAGIC = b'\x1f\x8b'


def layout(config) -> source.Layout:
  """The train and eval shards of a folder of records (see SPLIT_PREFIXES)."""
  data_root = config.data_root
  splits = []
  for split, prefixes in SPLIT_PREFIXES.items():
    found = [p for p in prefixes if files.glob(files.join(data_root, f'{p}-*'))]
    if not found:
      raise FileNotFoundError(
        f'{data_root}: no {split} records: expected files named '
        + ' or '.join(f'{p}-*' for p in prefixes)
        + ' (DeepLab writes <split>-00000-of-0000N.tfrecord)'
      )
    splits.append((split, f'{found[0]}-*'))
  return source.Layout(
    data_root, tuple(splits), tuple(pattern for _, pattern in splits)
  )


def default_labels(data_root: str):
  """(names, no colours) of labels.txt beside the records."""
  path = files.join(data_root, labels.LABELS_FILE)
  if not files.exists(path):
    raise FileNotFoundError(
      f'{path}: missing; records do not say what their class ids mean: put '
      'the class names there (one per line, in class-id order) or give '
      f'--labels {"|".join(labels.NAMED)}|PATH'
    )
  return labels.read_labels(path), ()


class RecordSource(source.Source):
  """Reads records of DeepLab's format; a key is one shard file.

  Their mask values must be class ids of the config's labels (records carry
  ids, not names, so there is nothing to rename).
  """

  def __init__(self, root: str, config):
    self._root = root
    self._guard = guard.DataRoot(root)
    self._labels = config.labels
    self._max_pixels = config.max_image_pixels

  def list_keys(self, split_pattern: str):
    return files.glob(files.join(self._root, split_pattern)), {}

  def read(self, key: Any):
    raise NotImplementedError('a shard holds many examples: see read_all')

  def read_all(self, key: str) -> Iterator[Any]:
    """(example, notes) or BadExample for each record of the shard `key`."""
    try:
      path = self._guard.check(key, problems.MISSING_IMAGE)
    except problems.BadExample as e:
      yield e
      return
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    gzip = _is_gzip(path)
    records = tf.data.TFRecordDataset(
      path, compression_type='GZIP' if gzip else ''
    )
    index, read_bytes = -1, 0
    try:
      for index, record in enumerate(records.as_numpy_iterator()):
        read_bytes += _FRAMING_BYTES + len(record)
        where = f'{key}#{index}'
        try:
          yield self._example(record, where, tf), {}
        except problems.BadExample as e:
          yield e
    except tf.errors.OpError as e:
      yield problems.BadExample(
        problems.CORRUPT_RECORD,
        f'{key}#{index + 1}',
        f'the shard cannot be read past record {index + 1}: {e.message}; '
        'the records before it were read',
      )
      return
    # TensorFlow ends a shard cut inside a record's 12-byte header as if it
    # ended there, without an error: the bytes left over tell.
    left_over = 0 if gzip else tf.io.gfile.stat(path).length - read_bytes
    if left_over:
      yield problems.BadExample(
        problems.CORRUPT_RECORD,
        f'{key}#{index + 1}',
        f"the shard ends inside record {index + 1}'s header ({left_over} "
        'bytes left over); the records before it were read',
      )

  def _example(self, record: bytes, where: str, tf):
    try:
      feature = tf.train.Example.FromString(record).features.feature
    except Exception as e:  # protobuf's DecodeError and friends.
      raise problems.BadExample(
        problems.BAD_RECORD, where, f'not a tf.Example: {e}'
      ) from e

    def value(key: str) -> bytes:
      values = feature[key].bytes_list.value if key in feature else []
      if len(values) != 1:
        raise problems.BadExample(
          problems.BAD_RECORD,
          where,
          f'{key} holds {len(values)} byte strings; DeepLab records hold one',
        )
      return values[0]

    try:
      filename = value(features.IMAGE_FILENAME).decode('utf-8')
    except UnicodeDecodeError as e:
      raise problems.BadExample(
        problems.BAD_RECORD, where, f'{features.IMAGE_FILENAME} is not UTF-8'
      ) from e
    where = f'{where} ({filename})'
    image_bytes = value(features.IMAGE_ENCODED)
    info = example_lib.inspect_image(image_bytes, where, self._max_pixels)
    mask, mask_png = example_lib.class_mask_png(
      value(features.MASK_ENCODED),
      where,
      info,
      where,
      self._labels,
      self._max_pixels,
    )
    origin = SOURCE
    if features.SOURCE_KEY in feature:
      try:
        origin = value(features.SOURCE_KEY).decode('utf-8')
      except UnicodeDecodeError as e:
        raise problems.BadExample(
          problems.BAD_RECORD, where, f'{features.SOURCE_KEY} is not UTF-8'
        ) from e
    return example_lib.segmentation_example(
      filename, origin, image_bytes, info, mask, mask_png
    )


# A TFRecord's framing: length (8 bytes) and its CRC (4), then the data and
# its CRC (4).
_FRAMING_BYTES = 16


def _is_gzip(path: str) -> bool:
  if files.is_url(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    with tf.io.gfile.GFile(path, 'rb') as f:
      return f.read(2) == _GZIP_MAGIC
  with open(path, 'rb') as f:
    return f.read(2) == _GZIP_MAGIC
