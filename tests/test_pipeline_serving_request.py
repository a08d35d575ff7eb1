"""TF Serving requests, decoded as TF Serving decodes them, against the
SavedModel's own signatures, and the signature table of docs/serving.md
against the same SavedModel."""

import base64
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from components import signatures
from data import features
from pipeline import serving_request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DTYPES = {'string': tf.string, 'uint8': tf.uint8, 'int32': tf.int32}
_DTYPES['float32'] = tf.float32


def _png(height, width, seed):
  pixels = np.random.default_rng(seed).integers(
    0, 256, (height, width, 3), dtype=np.uint8
  )
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, 'PNG')
  return pixels, buffer.getvalue()


@pytest.fixture(scope='module')
def loaded(small_pushed_model):
  # Saving the model takes ~20 s: every test that loads it is slow.
  return tf.saved_model.load(small_pushed_model)


def _tf_serving_decode(body, signature_def):
  """What TF Serving's REST "row" format hands the signature: the instances
  stacked, {"b64": ...} objects as bytes, numbers as the input's dtype."""
  ((name, spec),) = signature_def.structured_input_signature[1].items()
  rows = [
    base64.b64decode(row['b64']) if isinstance(row, dict) else row
    for row in body['instances']
  ]
  return {name: tf.constant(rows, dtype=spec.dtype)}


@pytest.mark.slow
def test_rest_examples_body_is_what_serving_default_parses(loaded):
  photos = [_png(20, 30, 0), _png(25, 18, 1)]
  body = json.loads(
    json.dumps(
      serving_request.rest_body(
        signatures.SERVING_DEFAULT, [encoded for _, encoded in photos]
      )
    )
  )
  assert body['signature_name'] == 'serving_default'
  serve = loaded.signatures[body['signature_name']]
  out = serve(**_tf_serving_decode(body, serve))
  # The same photos as TensorFlow's own tf.Example would carry them.
  reference = serve(
    examples=tf.constant(
      [
        tf.train.Example(
          features=tf.train.Features(
            feature={
              features.IMAGE_ENCODED: tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[encoded])
              )
            }
          )
        ).SerializeToString()
        for _, encoded in photos
      ]
    )
  )
  for key in reference:
    np.testing.assert_array_equal(out[key].numpy(), reference[key].numpy())
  assert out['original_height'].numpy().tolist() == [20, 25]
  assert out['original_width'].numpy().tolist() == [30, 18]


@pytest.mark.slow
def test_rest_images_body_is_what_serving_images_takes(loaded):
  pixels = [_png(20, 30, seed)[0] for seed in (2, 3)]
  body = json.loads(
    json.dumps(serving_request.rest_body(signatures.SERVING_IMAGES, pixels))
  )
  serve = loaded.signatures[body['signature_name']]
  out = serve(**_tf_serving_decode(body, serve))
  reference = serve(images=tf.constant(np.stack(pixels)))
  np.testing.assert_array_equal(
    out['class_ids'].numpy(), reference['class_ids'].numpy()
  )
  assert out['class_ids'].shape == (2, 20, 30)


@pytest.mark.slow
@pytest.mark.parametrize(
  'signature', [signatures.SERVING_DEFAULT, signatures.SERVING_IMAGES]
)
def test_grpc_request_names_the_signature_and_its_input(loaded, signature):
  pixels, encoded = _png(16, 24, 4)
  photo = encoded if signature == signatures.SERVING_DEFAULT else pixels
  request = serving_request.grpc_request(signature, [photo], 'deeplab')
  assert request.model_spec.name == 'deeplab'
  assert request.model_spec.signature_name == signature
  serve = loaded.signatures[signature]
  ((name, spec),) = serve.structured_input_signature[1].items()
  assert list(request.inputs) == [name]
  value = tf.make_ndarray(request.inputs[name])
  assert tf.as_dtype(value.dtype) == spec.dtype or spec.dtype == tf.string
  out = serve(**{name: tf.constant(value, dtype=spec.dtype)})
  assert out['class_ids'].shape[0] == 1


def test_images_of_two_sizes_are_refused_by_name():
  with pytest.raises(ValueError, match=r'one serving_images batch'):
    serving_request.rest_body(
      signatures.SERVING_IMAGES,
      [_png(10, 10, 0)[0], _png(10, 12, 0)[0]],
    )
  with pytest.raises(ValueError, match=r'takes uint8 \[H, W, 3\]'):
    serving_request.rest_body(
      signatures.SERVING_IMAGES, [np.zeros((4, 4), np.uint8)]
    )


def _documented_signatures():
  """{signature: {tensor name: (dtype, shape)}} from docs/serving.md's
  table rows `| signature | in/out | name | dtype | shape | ... |`."""
  with open(os.path.join(ROOT, 'docs', 'serving.md')) as f:
    text = f.read()
  table = {}
  for row in re.findall(
    r'^\| `(serving_\w+)` \| (in|out) \| `(\w+)` \| (\w+) \| `\[([^]]*)\]`',
    text,
    flags=re.M,
  ):
    signature, _, name, dtype, shape = row
    table.setdefault(signature, {})[name] = (dtype, shape.split(', '))
  return table


@pytest.mark.slow
def test_docs_serving_table_is_the_saved_models_signatures(loaded):
  documented = _documented_signatures()
  assert set(documented) == set(serving_request.SIGNATURES)
  for signature, tensors in documented.items():
    serve = loaded.signatures[signature]
    actual = dict(serve.structured_input_signature[1])
    actual.update(serve.structured_outputs)
    assert set(tensors) == set(actual), signature
    for name, (dtype, shape) in tensors.items():
      spec = actual[name]
      assert _DTYPES[dtype] == spec.dtype, (signature, name)
      # Documented sizes are letters (B, H, S, C, ...); unknown dims too.
      assert len(shape) == spec.shape.rank, (signature, name, shape)


@pytest.mark.slow
def test_cli_prints_the_rest_body(tmp_path):
  _, encoded = _png(12, 14, 5)
  photo = tmp_path / 'photo.png'
  photo.write_bytes(encoded)
  completed = subprocess.run(
    [sys.executable, '-m', 'pipeline.serving_request', str(photo)],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert completed.returncode == 0, completed.stderr
  assert completed.stderr == ''
  assert json.loads(completed.stdout) == serving_request.rest_body(
    signatures.SERVING_DEFAULT, [encoded]
  )
