"""Export: builtin ops only, phone contract, agreement with Keras; the
float16-weight TFLite file and the frozen graph.

The contract tests run twice: on tests/fixtures/make_tiny_segmenter's
model (a 1x1 convolution, converted in a second: the fast set) and on a
MobileNetV2 DeepLab (seconds per conversion: `make test-fast` skips it).
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from model import builder
from model import export
from model.config import ModelConfig
from tests.fixtures import make_tiny_segmenter

SIZE = 64
NUM_CLASSES = 5
# Ops allowed to see float tensors in a full-int8 model: the uint8 -> float
# input cast, its quantization and the dequantized probabilities.
_INT8_BOUNDARY_OPS = {'CAST', 'QUANTIZE', 'DEQUANTIZE'}


def _images(count, seed=0, size=SIZE):
  rng = np.random.RandomState(seed)
  return [
    rng.randint(0, 256, (1, size, size, 3)).astype(np.uint8)
    for _ in range(count)
  ]


def _ops(flatbuffer):
  """(op name, output dtypes) of every op; the interpreter's own listing."""
  interpreter = tf.lite.Interpreter(model_content=flatbuffer)
  tensors = {t['index']: t['dtype'] for t in interpreter.get_tensor_details()}
  return [
    (op['op_name'], {tensors[i] for i in op['outputs']})
    for op in interpreter._get_ops_details()
  ]  # pylint: disable=protected-access


def _assert_computes_in_int8(flatbuffer):
  for name, dtypes in _ops(flatbuffer):
    if name not in _INT8_BOUNDARY_OPS:
      assert dtypes <= {np.int8, np.int32}, (name, dtypes)


def _run(flatbuffer, images):
  runner = tf.lite.Interpreter(model_content=flatbuffer).get_signature_runner()
  outputs = [runner(image=image) for image in images]
  return {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}


@dataclasses.dataclass(frozen=True)
class Exported:
  """A model, its inference_model wrapper and its three TFLite files."""

  model: tf_keras.Model
  decoder: tf_keras.Model
  tflite: dict  # {precision: flatbuffer}, as TFLiteExport makes them.
  size: int
  num_classes: int


def _exported(model):
  size = model.input_shape[1]
  decoder = export.inference_model(model)
  return Exported(
    model,
    decoder,
    {
      'float': export.convert_to_tflite(decoder),
      'fp16': export.convert_to_tflite(decoder, float16_weights=True),
      'int8': export.convert_to_tflite(decoder, _images(2, size=size)),
    },
    size,
    model.output_shape[-1],
  )


@pytest.fixture(scope='module')
def v2():
  # Seeded (Keras draws its initializers' seeds from Python's random): on
  # random weights many pixels are near-ties between classes, and how many
  # of them float16 weights flip depends on the draw.
  tf_keras.utils.set_random_seed(0)
  return _exported(
    builder.build_model(ModelConfig(num_classes=NUM_CLASSES, input_size=SIZE))
  )


@pytest.fixture(
  scope='module', params=['tiny', pytest.param('v2', marks=pytest.mark.slow)]
)
def exported(request):
  if request.param == 'tiny':
    return _exported(make_tiny_segmenter.build())
  return request.getfixturevalue('v2')


def test_inference_model_contract(exported):
  decoder, size = exported.decoder, exported.size
  assert decoder.input.name == 'image'
  assert decoder.input.dtype == tf.uint8
  assert tuple(decoder.input.shape) == (1, size, size, 3)
  image = _images(1, size=size)[0]
  outputs = decoder(image)
  logits = exported.model(image.astype(np.float32)).numpy()
  assert outputs['class_ids'].dtype == tf.int32
  assert outputs['class_ids'].shape == (1, size, size)
  assert outputs['probabilities'].dtype == tf.float32
  assert outputs['probabilities'].shape == (
    1,
    size,
    size,
    exported.num_classes,
  )
  np.testing.assert_array_equal(outputs['class_ids'], logits.argmax(-1))
  np.testing.assert_allclose(
    outputs['probabilities'], tf.nn.softmax(logits).numpy(), rtol=1e-5
  )


@pytest.mark.parametrize('precision', ['float', 'fp16', 'int8'])
def test_tflite_signature_and_raw_uint8_input(exported, precision):
  interpreter = tf.lite.Interpreter(model_content=exported.tflite[precision])
  signature = interpreter.get_signature_list()['serving_default']
  assert signature == {
    'inputs': ['image'],
    'outputs': ['class_ids', 'probabilities'],
  }
  (image,) = interpreter.get_input_details()
  assert image['dtype'] == np.uint8
  assert image['quantization'] == (0.0, 0)  # raw pixels, no rescaling
  assert tuple(image['shape']) == (1, exported.size, exported.size, 3)


def test_int8_tflite_computes_in_int8(exported):
  _assert_computes_in_int8(exported.tflite['int8'])
  images = _images(4, seed=3, size=exported.size)
  expected = np.concatenate([exported.decoder(x)['class_ids'] for x in images])
  got = _run(exported.tflite['int8'], images)['class_ids']
  assert (got == expected).mean() >= 0.9


@pytest.mark.slow
def test_int8_tflite_size(v2):
  # Weights set the size, not the input size: this is the 256x256 size too.
  assert len(v2.tflite['int8']) <= 4 * 2**20


@pytest.mark.parametrize('precision', ['float', 'fp16', 'int8'])
def test_probabilities_are_the_last_output(exported, precision):
  """MediaPipe's ImageSegmenter reads the last output as its masks."""
  interpreter = tf.lite.Interpreter(model_content=exported.tflite[precision])
  names = {
    details['index']: name
    for name, details in interpreter.get_signature_runner()
    .get_output_details()
    .items()
  }
  outputs = interpreter.get_output_details()
  assert [names[o['index']] for o in outputs] == ['class_ids', 'probabilities']
  assert outputs[0]['dtype'] == np.int32
  assert outputs[-1]['dtype'] == np.float32
  assert tuple(outputs[-1]['shape']) == (
    1,
    exported.size,
    exported.size,
    exported.num_classes,
  )


def test_float16_tflite_stores_its_weights_in_float16(exported):
  fp16_model = exported.tflite['fp16']
  interpreter = tf.lite.Interpreter(model_content=fp16_model)
  float32_weights = {
    t['name']
    for t in interpreter.get_tensor_details()
    if t['dtype'] == np.float32 and 'kernel' in t['name'].lower()
  }
  assert not float32_weights
  assert np.float16 in {t['dtype'] for t in interpreter.get_tensor_details()}
  names = {name for name, _ in _ops(fp16_model)}
  assert 'DEQUANTIZE' in names and 'CUSTOM' not in names, names
  images = _images(4, seed=1, size=exported.size)
  expected = np.concatenate(
    [exported.decoder(x)['probabilities'] for x in images]
  )
  got = _run(fp16_model, images)['probabilities']
  # Weights rounded to 11 significant bits move probabilities a little
  # (measured below 1e-6 with these random weights).
  assert np.abs(got - expected).max() < 1e-4
  assert np.mean(got.argmax(-1) == expected.argmax(-1)) >= 0.999


@pytest.mark.slow
def test_float16_tflite_stores_half_the_weights(v2):
  assert 0.45 < len(v2.tflite['fp16']) / len(v2.tflite['float']) < 0.55
  interpreter = tf.lite.Interpreter(model_content=v2.tflite['fp16'])
  dtypes = [t['dtype'] for t in interpreter.get_tensor_details()]
  assert dtypes.count(np.float16) > 50  # every conv kernel and bias


def test_frozen_graph_has_no_variables_and_matches_tflite(exported):
  size = exported.size
  graph_def, tensors = export.freeze_graph(exported.decoder)
  assert tensors == {
    'input': 'image:0',
    'outputs': {'class_ids': 'class_ids:0', 'probabilities': 'probabilities:0'},
  }
  ops = {node.op for node in graph_def.node}
  assert not ops & {
    'VarHandleOp',
    'ReadVariableOp',
    'VariableV2',
    'AssignVariableOp',
  }, ops
  # Loaded as a TF1 consumer would, from the serialized bytes.
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.import_graph_def(
      tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name=''
    )
  image = graph.get_tensor_by_name(tensors['input'])
  assert image.dtype == tf.uint8
  assert image.shape.as_list() == [1, size, size, 3]
  images = _images(4, seed=2, size=size)
  with tf.compat.v1.Session(graph=graph) as session:
    frozen = [
      session.run(tensors['outputs'], {tensors['input']: x}) for x in images
    ]
  class_ids = np.concatenate([out['class_ids'] for out in frozen])
  probabilities = np.concatenate([out['probabilities'] for out in frozen])
  assert class_ids.dtype == np.int32
  assert class_ids.shape == (4, size, size)
  assert probabilities.shape == (4, size, size, exported.num_classes)
  keras = np.concatenate([exported.decoder(x)['probabilities'] for x in images])
  np.testing.assert_allclose(probabilities, keras, atol=1e-5)
  tflite_ids = _run(exported.tflite['float'], images)['class_ids']
  assert np.mean(class_ids == tflite_ids) >= 0.999


@pytest.mark.parametrize(
  'export_fn', [export.convert_to_tflite, export.freeze_graph]
)
def test_training_model_is_refused(export_fn):
  with pytest.raises(
    ValueError,
    match="^'tiny_segmenter': input dtype is float32, expected uint8; pass "
    r'inference_model\(model\), not the training model$',
  ):
    export_fn(make_tiny_segmenter.build())


def test_int8_and_float16_exclude_each_other():
  decoder = export.inference_model(make_tiny_segmenter.build())
  with pytest.raises(
    ValueError,
    match=r"^convert_to_tflite\('tiny_segmenter_inference'\): "
    r'representative_images \(int8\) and float16_weights exclude each '
    'other; pass one$',
  ):
    export.convert_to_tflite(
      decoder, _images(1, size=make_tiny_segmenter.SIZE), float16_weights=True
    )


@pytest.mark.slow
@pytest.mark.parametrize(
  'backbone,head,extra',
  [
    ('mobilenet_v2', 'deeplabv3plus', {}),
    ('mobilenet_v2', 'deeplabv3plus', {'aspp': True, 'output_stride': 8}),
    ('mobilenet_v2', 'lraspp', {}),
    ('mobilenet_v3_large', 'deeplabv3plus', {'aspp': True}),
    ('mobilenet_v3_large', 'lraspp', {}),
    ('mobilenet_v3_small', 'deeplabv3plus', {'quant_friendly': True}),
    ('mobilenet_v3_small', 'lraspp', {}),
  ],
)
def test_float_fp16_and_int8_tflite_match_keras(backbone, head, extra):
  # Untrained weights leave near-tied argmaxes that rounding flips: fixed
  # weights make the agreement a measurement, not a draw.
  tf_keras.utils.set_random_seed(0)
  config = ModelConfig(
    backbone=backbone,
    head=head,
    num_classes=NUM_CLASSES,
    input_size=SIZE,
    **extra,
  )
  model = export.inference_model(builder.build_model(config))
  images = _images(4, seed=1)
  expected = np.concatenate([model(x)['class_ids'] for x in images])

  float_model = export.convert_to_tflite(model)
  names = {name for name, _ in _ops(float_model)}
  assert all(
    name.isupper() and name != 'CUSTOM' and not name.startswith('FLEX')
    for name in names
  ), names
  # Atrous convs fold into dilated kernels, not space-to-batch detours.
  assert not names & {'SPACE_TO_BATCH_ND', 'BATCH_TO_SPACE_ND'}, names
  got = _run(float_model, images)
  assert (got['class_ids'] == expected).mean() >= 0.999

  fp16_model = export.convert_to_tflite(model, float16_weights=True)
  got = _run(fp16_model, images)
  # float16 weights flip a few near-tied argmaxes (seed 0: 99.95-99.99%;
  # unseeded runs drew as low as 99.88%).
  assert (got['class_ids'] == expected).mean() >= 0.999

  int8_model = export.convert_to_tflite(model, images)
  assert len(int8_model) < 0.35 * len(float_model)
  _assert_computes_in_int8(int8_model)
  got = _run(int8_model, images)
  # Random weights, calibrated on these images: measured 0.96-0.99.
  assert (got['class_ids'] == expected).mean() >= 0.9
