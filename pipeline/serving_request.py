"""TF Serving requests for a pushed model, built from photo files.

  python -m pipeline.serving_request --signature=serving_default photo.jpg \\
      > body.json
  curl -d @body.json http://localhost:8501/v1/models/deeplab:predict

A pushed version is a SavedModel that TF Serving loads as it is
(docs/serving.md). Its two signatures take different inputs:

- `serving_default` takes serialized tf.Examples holding only the photo's
  encoded bytes under `image/encoded`, as the Evaluator sends them. TF
  Serving's REST API carries binary strings as `{"b64": ...}` objects.
- `serving_images` takes a batch of uint8 RGB arrays of one size, which the
  REST API carries as nested JSON lists.

`grpc_request` puts the same inputs into a gRPC `PredictRequest`
(tensorflow-serving-api) for port 8500. Tests send these requests, decoded
as TF Serving decodes them, to the SavedModel's own signatures, so the
documented requests cannot drift from the model.
"""

import base64
import json
import sys
from typing import Any, Dict, List, Sequence

from data import cli_env

cli_env.quiet_unless_verbose()

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
import numpy as np

from components import signatures
from data import example_proto
from data import features
from data import guard
from data import images
from data import problems
from pipeline import console
from pipeline import predict

SIGNATURES = (signatures.SERVING_DEFAULT, signatures.SERVING_IMAGES)
FLAGS = flags.FLAGS


def tf_example(encoded_image: bytes) -> bytes:
  """A serialized tf.Example with what serving_default parses: the photo."""
  return example_proto.example(
    {features.IMAGE_ENCODED: example_proto.bytes_feature(encoded_image)}
  )


def rest_body(signature: str, photos: Sequence[Any]) -> Dict[str, Any]:
  """The JSON body of a REST `:predict` call ("row" format, one per photo).

  Args:
    signature: signatures.SERVING_DEFAULT or SERVING_IMAGES.
    photos: encoded image bytes for SERVING_DEFAULT; uint8 [H, W, 3] arrays
      of one size for SERVING_IMAGES.
  """
  if signature == signatures.SERVING_DEFAULT:
    instances = [
      {'b64': base64.b64encode(tf_example(photo)).decode('ascii')}
      for photo in photos
    ]
  else:
    instances = [image.tolist() for image in _image_batch(signature, photos)]
  return {'signature_name': signature, 'instances': instances}


def grpc_request(signature: str, photos: Sequence[Any], model_name: str):
  """A tensorflow_serving.apis.predict_pb2.PredictRequest for port 8500."""
  # TensorFlow only for this call: the REST bodies need none.
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from tensorflow_serving.apis import predict_pb2

  # pylint: enable=g-import-not-at-top
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model_name
  request.model_spec.signature_name = signature
  if signature == signatures.SERVING_DEFAULT:
    name, value = signatures.EXAMPLES_INPUT, [tf_example(p) for p in photos]
  else:
    name = signatures.IMAGES_INPUT
    value = np.stack(_image_batch(signature, photos))
  request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
  return request


def _image_batch(signature: str, photos: Sequence[Any]) -> List[np.ndarray]:
  """The photos, if they are a batch that serving_images takes."""
  if signature != signatures.SERVING_IMAGES:
    raise ValueError(f'signature={signature!r}: must be one of {SIGNATURES}')
  photos = [np.asarray(photo) for photo in photos]
  for photo in photos:
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
      raise ValueError(
        f'an image of shape {photo.shape} and dtype {photo.dtype}: '
        f'{signature} takes uint8 [H, W, 3]'
      )
  shapes = sorted({photo.shape for photo in photos})
  if len(shapes) > 1:
    raise ValueError(
      f'images of shapes {shapes}: one {signature} batch takes images of '
      'one size'
    )
  return photos


def _define_flags() -> None:
  """Defined only when run as a program, so importing leaves flags alone."""
  flags.DEFINE_enum(
    'signature',
    signatures.SERVING_DEFAULT,
    SIGNATURES,
    'serving_default: tf.Examples of the encoded photos; serving_images: '
    'their decoded uint8 RGB pixels (photos of one size).',
  )
  flags.DEFINE_bool('verbose', False, cli_env.VERBOSE_HELP)


def _read_photos(signature: str, paths: List[str]) -> List[Any]:
  if signature == signatures.SERVING_DEFAULT:
    return [guard.read_regular_file(p, problems.MISSING_IMAGE) for p in paths]
  return [
    predict.read_photo(path, images.DEFAULT_MAX_IMAGE_PIXELS) for path in paths
  ]


def main(argv) -> int:
  paths = argv[1:]
  if not paths:
    return console.fail(
      'usage: python -m pipeline.serving_request '
      '[--signature=serving_default|serving_images] PHOTO [PHOTO ...]'
    )
  try:
    body = rest_body(FLAGS.signature, _read_photos(FLAGS.signature, paths))
  except (ValueError, OSError) as e:
    return console.fail(str(e))
  json.dump(body, sys.stdout)
  return 0


if __name__ == '__main__':
  _define_flags()
  app.run(main, flags_parser=console.parse_flags_or_exit)
