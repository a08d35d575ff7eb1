"""tf.train.Example in protobuf wire format, written without TensorFlow.

Beam workers that convert images spend their time in PIL and zlib; importing
TensorFlow only to build a three-level proto cost each worker about as much
as converting a thousand images (see bench/ingest.py). The messages are
those of tensorflow/core/example/{example,feature}.proto:

    Example   { Features features = 1; }
    Features  { map<string, Feature> feature = 1; }
    Feature   { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                             Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed = true]; }
    Int64List { repeated int64 value = 1 [packed = true]; }

Map entries are written in key order, which is what protobuf's deterministic
serialization does, so the bytes equal
`tf.train.Example.SerializeToString(deterministic=True)` (tested).
"""

import struct
from typing import Mapping

_LENGTH_DELIMITED = 2
_INT64_MASK = (1 << 64) - 1  # Negative int64s are 10-byte varints.
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _varint(value: int) -> bytes:
  value &= _INT64_MASK
  out = bytearray()
  while True:
    low, value = value & 0x7F, value >> 7
    if not value:
      out.append(low)
      return bytes(out)
    out.append(low | 0x80)


def _field(number: int, payload: bytes) -> bytes:
  """A length-delimited field: key, length, payload."""
  return (
    _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload
  )


def bytes_feature(value: bytes) -> bytes:
  """A serialized Feature holding BytesList([value])."""
  return _field(1, _field(1, value))


def float_feature(value: float) -> bytes:
  """A serialized Feature holding FloatList([value]) (float32)."""
  return _field(2, _field(1, struct.pack('<f', value)))


def int64_feature(value: int) -> bytes:
  """A serialized Feature holding Int64List([value])."""
  if not _INT64_MIN <= value <= _INT64_MAX:
    raise ValueError(f'{value} does not fit in an int64')
  return _field(3, _field(1, _varint(value)))


def example(serialized_features: Mapping[str, bytes]) -> bytes:
  """A serialized Example from feature name -> serialized Feature."""
  entries = b''.join(
    _field(1, _field(1, name.encode('utf-8')) + _field(2, feature))
    for name, feature in sorted(serialized_features.items())
  )
  return _field(1, entries)
