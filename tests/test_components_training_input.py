"""components.training_input: augmentation keeps image and mask aligned."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.distribute import input_ops

from components import training_input
from data import features


def block_pair(size=32):
  """An image whose red channel encodes the mask: 60 * class id."""
  mask = np.zeros((size, size, 1), np.uint8)
  mask[: size // 2, size // 4 :] = 1
  mask[size // 2 :, : size // 3] = 2
  image = np.zeros((size, size, 3), np.float32)
  image[..., 0] = mask[..., 0] * 60.0
  image[..., 1] = np.arange(size)[None, :]  # to see flips
  return tf.constant(image), tf.constant(mask)


@pytest.mark.parametrize('seed', range(5))
def test_crop_and_flip_without_scaling_keep_exact_alignment(seed):
  tf.random.set_seed(seed)
  image, mask = block_pair()
  out_image, out_mask = training_input.random_scale_crop_flip(
    image, mask, 32, 1.0, 1.0
  )
  out_image, out_mask = out_image.numpy(), out_mask.numpy()
  assert out_image.shape == (32, 32, 3) and out_mask.shape == (32, 32, 1)
  assert out_mask.dtype == np.uint8
  np.testing.assert_array_equal(out_image[..., 0], out_mask[..., 0] * 60.0)
  columns = out_image[0, :, 1]
  assert np.all(columns == np.arange(32)) or np.all(
    columns == np.arange(31, -1, -1)
  )


def test_downscaling_pads_with_ignore_label_and_mean_pixel():
  tf.random.set_seed(1)
  image, mask = block_pair()
  out_image, out_mask = training_input.random_scale_crop_flip(
    image, mask, 32, 0.5, 0.5
  )
  out_image, out_mask = out_image.numpy(), out_mask[..., 0].numpy()
  padding = out_mask == 255
  assert padding.sum() == 32 * 32 - 16 * 16
  assert np.all(out_image[padding] == 127.5)
  assert set(np.unique(out_mask[~padding])) <= {0, 1, 2}


def test_upscaling_keeps_mask_values_valid():
  tf.random.set_seed(2)
  image, mask = block_pair()
  _, out_mask = training_input.random_scale_crop_flip(image, mask, 32, 2.0, 2.0)
  assert set(np.unique(out_mask.numpy())) <= {0, 1, 2}


def ramp_pair(size=32):
  """block_pair with channel 1 the column and channel 2 the row index.

  Bilinear resizing keeps a ramp linear, so every output pixel names the
  source point it came from: the scale, the crop and the flip can be read off.
  """
  image, mask = block_pair(size)
  image = image.numpy()
  image[..., 2] = np.arange(size)[:, None]
  return tf.constant(image), mask


def _augment(seed, min_scale, max_scale, size=32):
  tf.random.set_seed(seed)
  image, mask = ramp_pair(size)
  out_image, out_mask = training_input.random_scale_crop_flip(
    image, mask, size, min_scale, max_scale
  )
  return out_image.numpy(), out_mask[..., 0].numpy()


def _is_flipped(out_image):
  row = out_image[16, :, 1]
  assert row[4] != row[27]
  return row[4] > row[27]


SEEDS = range(12)


def test_flip_happens_for_some_seeds_and_not_others():
  flips = set()
  for seed in SEEDS:
    out_image, out_mask = _augment(seed, 1.0, 1.0)
    flipped = _is_flipped(out_image)
    flips.add(flipped)
    image, mask = (t.numpy() for t in ramp_pair())
    if flipped:
      image, mask = image[:, ::-1], mask[:, ::-1]
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_mask, mask[..., 0])
  assert flips == {False, True}


def test_augmentation_is_repeatable_for_a_fixed_seed():
  first, first_mask = _augment(7, 0.5, 2.0)
  second, second_mask = _augment(7, 0.5, 2.0)
  np.testing.assert_array_equal(first, second)
  np.testing.assert_array_equal(first_mask, second_mask)


def test_scale_varies_within_bounds_and_crop_window_moves():
  scales, windows = set(), set()
  for seed in SEEDS:
    out_image, _ = _augment(seed, 0.5, 2.0)
    # One source row per 1/scale output rows (the row ramp's slope).
    slope = out_image[17, 16, 2] - out_image[16, 16, 2]
    scale = 1 / slope
    assert 0.5 - 1e-3 <= scale <= 2.0 + 1e-3
    scales.add(round(float(scale), 3))
    if scale > 1.01:  # No padding: the crop can start anywhere.
      windows.add((float(out_image[16, 16, 2]), float(out_image[16, 16, 1])))
  assert len(scales) >= 4
  assert len(windows) >= 3


def test_upscaled_crop_is_the_window_of_the_upscaled_pair():
  """At scale 2 the output is a 32 x 32 window of the 64 x 64 resized pair."""
  for seed in SEEDS:
    out_image, out_mask = _augment(seed, 2.0, 2.0)
    image, mask = ramp_pair()
    big_image = tf.image.resize(image, [64, 64], method='bilinear').numpy()
    big_mask = tf.image.resize(mask, [64, 64], method='nearest').numpy()
    if _is_flipped(out_image):
      out_image, out_mask = out_image[:, ::-1], out_mask[:, ::-1]
    top = int(np.argmin(np.abs(big_image[:, 0, 2] - out_image[0, 0, 2])))
    left = int(np.argmin(np.abs(big_image[0, :, 1] - out_image[0, 0, 1])))
    window = np.s_[top : top + 32, left : left + 32]
    np.testing.assert_array_equal(out_image, big_image[window])
    np.testing.assert_array_equal(out_mask, big_mask[window][..., 0])


@pytest.mark.parametrize('seed', SEEDS)
def test_scaled_image_and_mask_stay_aligned_pixel_for_pixel(seed):
  """Where bilinear resizing gives a pure class colour, the mask agrees.

  The class colours (0, 0), (60, 0), (0, 60) are the corners of a triangle,
  so a pixel has one of them only when all its weight comes from that class.
  """
  _, mask = block_pair()
  colours = np.array([[0, 0, 0], [60, 0, 0], [0, 60, 0]], np.float32)
  image = tf.constant(colours[mask.numpy()[..., 0]])
  tf.random.set_seed(seed)
  out_image, out_mask = training_input.random_scale_crop_flip(
    image, mask, 32, 0.5, 2.0
  )
  out_image, out_mask = out_image.numpy(), out_mask[..., 0].numpy()
  labelled = out_mask != 255
  pure = np.zeros_like(labelled)
  for colour in colours:
    pure |= np.all(out_image == colour, axis=-1)
  pure &= labelled
  assert pure.sum() > 0.5 * labelled.sum()
  np.testing.assert_array_equal(
    out_image[pure], colours[out_mask[pure].astype(int)]
  )
  np.testing.assert_array_equal(out_image[~labelled], 127.5)


# --- Sharding: each worker its own records --------------------------------


class _TransformOutput:
  """The one thing make_dataset asks of a TFTransformOutput: its spec."""

  def transformed_feature_spec(self):
    return {
      key: tf.io.FixedLenFeature([], tf.string)
      for key in (features.IMAGE, features.MASK)
    }


@pytest.fixture(scope='module')
def three_files(tmp_path_factory):
  """(pattern of 3 gzipped files, the id of each record).

  24 transformed examples dealt over three files; record i is an 8 x 8
  image of value i (its id, as the input pipeline decodes it).
  """
  folder = tmp_path_factory.mktemp('three_files')
  ids = list(range(24))
  for part in range(3):
    with tf.io.TFRecordWriter(
      str(folder / f'part-{part}.gz'), options='GZIP'
    ) as writer:
      for i in ids[part::3]:
        png = tf.io.encode_png(tf.fill([8, 8, 3], tf.constant(i, tf.uint8)))
        mask = tf.io.encode_png(tf.zeros([8, 8, 1], tf.uint8))
        writer.write(
          tf.train.Example(
            features=tf.train.Features(
              feature={
                features.IMAGE: _bytes_feature(png.numpy()),
                features.MASK: _bytes_feature(mask.numpy()),
              }
            )
          ).SerializeToString()
        )
  return str(folder / 'part-*.gz'), ids


def _bytes_feature(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _record_ids(pattern, **kwargs):
  dataset = training_input.make_dataset(
    [pattern], _TransformOutput(), 8, 2, repeat=False, **kwargs
  )
  workers, index = kwargs.get('shard', (1, 0))
  # What MultiWorkerMirroredStrategy does to worker `index`'s dataset.
  dataset = input_ops.auto_shard_dataset(dataset, workers, index, workers)
  return [int(image[0, 0, 0]) for image, _ in dataset.unbatch()]


@pytest.mark.parametrize('workers', [2, 3])
def test_each_worker_reads_distinct_records_that_together_cover_the_files(
  three_files, workers
):
  pattern, ids = three_files
  read = [
    _record_ids(pattern, shuffle=True, shard=(workers, index))
    for index in range(workers)
  ]
  assert [len(r) for r in read] == [24 // workers] * workers
  assert sorted(sum(read, [])) == sorted(ids)


def test_one_worker_reads_every_record_shuffled(three_files):
  pattern, ids = three_files
  # Unshuffled, the files are read round robin: the order they were dealt.
  assert _record_ids(pattern, shuffle=False) == ids
  read = _record_ids(pattern, shuffle=True)
  assert sorted(read) == sorted(ids)
  assert read != ids


def _ids(batch):
  return [int(image[0, 0, 0]) for image in batch[0].numpy()]


def test_training_defaults_shuffle_and_repeat_with_a_new_order_each_epoch(
  three_files,
):
  pattern, ids = three_files
  dataset = training_input.make_dataset([pattern], _TransformOutput(), 8, 4)
  # Repeating: full batches only, so the batch dimension is static.
  assert dataset.element_spec[0].shape.as_list() == [4, 8, 8, 3]
  read = sum((_ids(batch) for batch in dataset.take(12)), [])
  first, second = read[:24], read[24:]
  assert sorted(first) == sorted(second) == sorted(ids)
  assert first != ids and second != first


def test_evaluation_keeps_the_last_partial_batch(three_files):
  pattern, ids = three_files
  dataset = training_input.make_dataset(
    [pattern], _TransformOutput(), 8, 5, shuffle=False, repeat=False
  )
  batches = [_ids(batch) for batch in dataset]
  assert [len(b) for b in batches] == [5, 5, 5, 5, 4]
  assert sum(batches, []) == ids


def test_augment_applies_the_given_scale_range(three_files):
  """At scale 0.5 the 8 x 8 image shrinks to 4 x 4 in mean-pixel padding."""
  pattern, _ = three_files
  dataset = training_input.make_dataset(
    [pattern],
    _TransformOutput(),
    8,
    1,
    shuffle=False,
    repeat=False,
    augment=True,
    min_scale=0.5,
    max_scale=0.5,
  )
  for image, mask in dataset.take(3):
    padding = mask.numpy()[0, ..., 0] == 255
    assert padding.sum() == 64 - 16
    assert (image.numpy()[0][padding] == 127.5).all()
