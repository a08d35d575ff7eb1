"""data.example_proto writes the bytes TensorFlow's own protos write."""

import numpy as np
import pytest
import tensorflow as tf

from data import example
from data import example_proto
from data import features


def _tf_bytes(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _tf_int(value):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


@pytest.mark.parametrize(
  'value', [b'', b'x', bytes(range(256)) * 3, 'ds1/pexels-é.png'.encode()]
)
def test_bytes_feature_equals_tf(value):
  assert example_proto.bytes_feature(value) == _tf_bytes(
    value
  ).SerializeToString(deterministic=True)


@pytest.mark.parametrize(
  'value', [0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -(2**63)]
)
def test_int64_feature_equals_tf_at_varint_boundaries(value):
  serialized = example_proto.int64_feature(value)
  assert serialized == _tf_int(value).SerializeToString(deterministic=True)
  assert tf.train.Feature.FromString(serialized).int64_list.value == [value]


@pytest.mark.parametrize('value', [0.0, 1.0, 0.05, 1 / 3, -2.5])
def test_float_feature_equals_tf(value):
  serialized = example_proto.float_feature(value)
  expected = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
  assert serialized == expected.SerializeToString(deterministic=True)


def test_example_equals_tf_deterministic_serialization():
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
  mask = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
  record = example.SegmentationExample(
    'ds1/pexels-123.png',
    image,
    example.ImageInfo('png', 375, 500),
    example.EncodedMask(mask, 0.125),
    source='ds1',
  )
  expected = tf.train.Example(
    features=tf.train.Features(
      feature={
        features.IMAGE_ENCODED: _tf_bytes(image),
        features.IMAGE_FORMAT: _tf_bytes(b'png'),
        features.IMAGE_FILENAME: _tf_bytes(b'ds1/pexels-123.png'),
        features.IMAGE_HEIGHT: _tf_int(375),
        features.IMAGE_WIDTH: _tf_int(500),
        features.IMAGE_CHANNELS: _tf_int(3),
        features.MASK_ENCODED: _tf_bytes(mask),
        features.MASK_FORMAT: _tf_bytes(b'png'),
        features.SOURCE_KEY: _tf_bytes(b'ds1'),
        features.FOREGROUND_FRACTION_KEY: tf.train.Feature(
          float_list=tf.train.FloatList(value=[0.125])
        ),
        features.FOREGROUND_BUCKET_KEY: _tf_bytes(b'[0.05, 0.25)'),
      }
    )
  )
  assert record.serialize() == expected.SerializeToString(deterministic=True)
  assert tf.train.Example.FromString(record.serialize()) == expected


def test_example_orders_features_by_name():
  serialized = example_proto.example(
    {
      'b': example_proto.int64_feature(2),
      'a': example_proto.bytes_feature(b'1'),
    }
  )
  # Map entry 'a' (key field 0x0a, length 1, b'a') comes before 'b'.
  assert serialized.index(b'\x0a\x01a') < serialized.index(b'\x0a\x01b')
  parsed = tf.train.Example.FromString(serialized).features.feature
  assert parsed['a'].bytes_list.value == [b'1']
  assert parsed['b'].int64_list.value == [2]


@pytest.mark.parametrize('value', [2**63, -(2**63) - 1])
def test_int64_feature_rejects_values_outside_int64(value):
  with pytest.raises(ValueError, match='int64'):
    example_proto.int64_feature(value)
