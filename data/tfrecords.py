"""Gzipped TFRecord shards, deflated the way already-compressed payloads need.

The records hold JPEG/PNG bytes, which deflate's string matching barely
shrinks. On 500x375 VOC-like JPEGs, zlib's default (what
beam.io.WriteToTFRecord and tf.io.TFRecordWriter use, with no option to
change it in Beam) saves 0.75% of the size at 1.6 ms per image, a third of a
conversion worker's time; Huffman-only coding saves 0.4% at 0.5 ms. The files
are ordinary gzip: tf.data.TFRecordDataset(compression_type='GZIP'), TFX's
ImportExampleGen and `gzip` read them as they are.

Record framing, from tensorflow/core/lib/io/record_writer.cc: little-endian
uint64 length, masked crc32c of the length, the data, masked crc32c of the
data.
"""

import struct
import zlib

import apache_beam as beam
from apache_beam import coders
from apache_beam.io import filebasedsink
from apache_beam.io import filesystem
import google_crc32c

SUFFIX = '.tfrecord.gz'
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's switch for gzip header/trailer.
_CRC_MASK_DELTA = 0xA282EAD8


def _masked_crc32c(data: bytes) -> bytes:
  crc = google_crc32c.value(data)
  masked = (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xFFFFFFFF
  return struct.pack('<I', masked)


def frame(data: bytes) -> bytes:
  """One record as it appears in an uncompressed TFRecord file."""
  length = struct.pack('<Q', len(data))
  return length + _masked_crc32c(length) + data + _masked_crc32c(data)


class _HuffmanGzipFile:
  """Write-only file object: one gzip member, Huffman-only, into `raw`."""

  def __init__(self, raw):
    self._raw = raw
    self._deflate = zlib.compressobj(
      zlib.Z_DEFAULT_COMPRESSION,
      zlib.DEFLATED,
      _GZIP_WBITS,
      8,
      zlib.Z_HUFFMAN_ONLY,
    )

  def write(self, data: bytes) -> None:
    self._raw.write(self._deflate.compress(data))

  def close(self) -> None:
    self._raw.write(self._deflate.flush())
    self._raw.close()


class _GzipTFRecordSink(filebasedsink.FileBasedSink):
  """Beam's file sink (temp files, shard naming, atomic finalize) + framing."""

  def __init__(self, file_path_prefix: str, file_name_suffix: str):
    super().__init__(
      file_path_prefix,
      coders.BytesCoder(),
      file_name_suffix,
      compression_type=filesystem.CompressionTypes.UNCOMPRESSED,
    )

  def open(self, temp_path):
    return _HuffmanGzipFile(super().open(temp_path))

  def write_encoded_record(self, file_handle, encoded_value):
    file_handle.write(frame(encoded_value))


class WriteToGzipTFRecord(beam.PTransform):
  """bytes -> `<prefix>-SSSSS-of-NNNNN<suffix>` gzipped TFRecord shards."""

  def __init__(self, file_path_prefix: str, file_name_suffix: str = SUFFIX):
    super().__init__()
    self._sink = _GzipTFRecordSink(file_path_prefix, file_name_suffix)

  def expand(self, records):
    return records | beam.io.Write(self._sink)
