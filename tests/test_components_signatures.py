"""components.signatures on the tiny_saved_model fixture: a SavedModel of a
network whose prediction is known in numpy, saved with the Trainer's
signatures and the Transform graph of tests/conftest.py, in under a second.

The signatures of trained MobileNets are checked in the slow tests
(test_pipeline_pipeline.py, test_pipeline_serving_request.py); these run in
the fast set, so that a change to what the signatures compute fails there.
The network is the tiny segmenter's 1x1 convolution
(tests/fixtures/make_tiny_segmenter.py: `person` where a pixel is redder
than it is blue); the expected outputs are computed from the photo with
numpy (components.bilinear is numpy's twin of the Transform graph's resize)
and tf.image.resize.
"""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from components import bilinear
from data import features
from tests.fixtures import tiny_model

SIZE = tiny_model.SAVED_MODEL_SIZE


@pytest.fixture(scope='module')
def serve(tiny_saved_model):
  return tf.saved_model.load(tiny_saved_model).signatures


def _photo(height, width, seed):
  """Blocks of random colours (clear red or blue regions) plus noise."""
  rng = np.random.default_rng(seed)
  blocks = rng.integers(0, 256, (5, 7, 3))
  rows = np.arange(height) * 5 // height
  columns = np.arange(width) * 7 // width
  noise = rng.integers(-8, 9, (height, width, 3))
  return np.clip(blocks[rows][:, columns] + noise, 0, 255).astype(np.uint8)


def _example(photo):
  buffer = io.BytesIO()
  Image.fromarray(photo).save(buffer, 'PNG')
  feature = tf.train.Feature(
    bytes_list=tf.train.BytesList(value=[buffer.getvalue()])
  )
  return tf.train.Example(
    features=tf.train.Features(feature={features.IMAGE_ENCODED: feature})
  ).SerializeToString()


def _model_probabilities(photo):
  """float32 [S, S, 2]: the network's softmax of the photo resized to S x S."""
  return tiny_model.probabilities(bilinear.resize_image(photo, SIZE))


def _at(probabilities, height, width):
  """[S, S, C] resized bilinearly (half-pixel centres) to [H, W, C]."""
  return tf.image.resize(probabilities, [height, width]).numpy()


def test_the_signatures_have_the_names_tf_serving_requests_use(serve):
  assert sorted(serve.keys()) == ['serving_default', 'serving_images']
  assert serve['serving_default'].structured_input_signature[1] == {
    'examples': tf.TensorSpec([None], tf.string, name='examples')
  }
  assert serve['serving_images'].structured_input_signature[1] == {
    'images': tf.TensorSpec([None, None, None, 3], tf.uint8, name='images')
  }


def test_the_signatures_outputs_have_the_dtypes_and_shapes_clients_read(
  serve,
):
  def specs(name):
    outputs = serve[name].structured_outputs
    return {k: (v.dtype, v.shape.as_list()) for k, v in outputs.items()}

  assert specs('serving_default') == {
    'class_ids': (tf.int32, [None, SIZE, SIZE]),
    'probabilities': (tf.float32, [None, SIZE, SIZE, 2]),
    'original_height': (tf.int32, [None]),
    'original_width': (tf.int32, [None]),
    'class_ids_original': (tf.int32, [None, None, None]),
  }
  assert specs('serving_images') == {
    'class_ids': (tf.int32, [None, None, None]),
    'probabilities': (tf.float32, [None, None, None, 2]),
  }


def test_serving_images_predicts_at_the_photos_size(serve):
  photos = [_photo(50, 70, 0), _photo(50, 70, 1)]
  out = serve['serving_images'](images=tf.constant(np.stack(photos)))
  assert sorted(out) == ['class_ids', 'probabilities']
  for index, photo in enumerate(photos):
    want = _at(_model_probabilities(photo), 50, 70)
    probabilities = out['probabilities'].numpy()[index]
    np.testing.assert_allclose(probabilities, want, atol=1e-5)
    tiny_model.assert_argmax(out['class_ids'].numpy()[index], want)


def test_serving_default_predicts_at_the_input_size_and_each_examples_own(
  serve,
):
  sizes = [(20, 30), (45, 18)]
  photos = [_photo(h, w, seed) for seed, (h, w) in enumerate(sizes)]
  out = serve['serving_default'](
    examples=tf.constant([_example(photo) for photo in photos])
  )
  assert sorted(out) == [
    'class_ids',
    'class_ids_original',
    'original_height',
    'original_width',
    'probabilities',
  ]
  assert out['original_height'].numpy().tolist() == [20, 45]
  assert out['original_width'].numpy().tolist() == [30, 18]
  # Padded to the largest height and width of the batch.
  assert out['class_ids_original'].shape == (2, 45, 30)
  for index, (photo, (height, width)) in enumerate(
    zip(photos, sizes, strict=True)
  ):
    want = _model_probabilities(photo)
    np.testing.assert_allclose(
      out['probabilities'].numpy()[index], want, atol=1e-5
    )
    tiny_model.assert_argmax(out['class_ids'].numpy()[index], want)
    original = out['class_ids_original'].numpy()[index]
    tiny_model.assert_argmax(
      original[:height, :width], _at(want, height, width)
    )
    # The padding is the ignore label, which the mIoU metric skips.
    padding = np.ones(original.shape, bool)
    padding[:height, :width] = False
    assert (original[padding] == features.IGNORE_LABEL).all()
    assert padding.any()
