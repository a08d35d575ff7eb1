"""data.tfrecords writes TFRecord framing and gzip that TensorFlow reads."""

import glob
import gzip
import os

import apache_beam as beam
import numpy as np
import tensorflow as tf

from data import tfrecords


def _records(rng):
  return [
    b'',
    b'x',
    rng.integers(0, 256, 70_000, dtype=np.uint8).tobytes(),
    bytes(300_000),
  ]


def test_frame_equals_tf_record_writer(tmp_path):
  records = _records(np.random.default_rng(0))
  path = str(tmp_path / 'tf.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  with open(path, 'rb') as f:
    assert f.read() == b''.join(tfrecords.frame(r) for r in records)


def test_beam_shards_read_back_with_tf_and_gzip(tmp_path):
  records = _records(np.random.default_rng(1)) + [
    f'record {i}'.encode() for i in range(50)
  ]
  prefix = str(tmp_path / 'out' / 'train')
  with beam.Pipeline(
    options=beam.options.pipeline_options.PipelineOptions(
      ['--direct_running_mode=in_memory']
    )
  ) as pipeline:
    _ = pipeline | beam.Create(records) | tfrecords.WriteToGzipTFRecord(prefix)
  shards = sorted(glob.glob(prefix + '-*'))
  assert shards and all(
    os.path.basename(s).startswith('train-')
    and s.endswith(f'-of-{len(shards):05d}.tfrecord.gz')
    for s in shards
  )
  read = [
    r.numpy() for r in tf.data.TFRecordDataset(shards, compression_type='GZIP')
  ]
  assert sorted(read) == sorted(records)
  framed = b''.join(gzip.open(s).read() for s in shards)
  assert len(framed) == sum(len(tfrecords.frame(r)) for r in records)
  assert sum(os.path.getsize(s) for s in shards) < len(framed)
