"""Test-wide settings, and the helpers several test modules share.

Settings: tf_keras models, quiet TensorFlow, no GPU probing. Shared helpers
are fixtures here, so no test module imports another. TensorFlow and TFX are
imported inside the helpers that use them: a run of one light test module
does not pay their 10 s of imports.
"""

import glob
import hashlib
import io
import json
import os
import re
import signal
import sys

import numpy as np
from PIL import Image
import pytest

from bench import process_tree
from data import features
from tests.fixtures import supervisely_replica as replica

# Before any test module imports TensorFlow (nothing above does).
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

# --- Reader output as TensorFlow parses it ---------------------------------
# The readers serialize tf.Examples without TensorFlow (data/example_proto.py);
# reader tests look at what `tf.train.Example` makes of those bytes, so every
# reader test also checks the serialization.


def _features_of(example):
  import tensorflow as tf

  return tf.train.Example.FromString(example.serialize()).features.feature


def _mask_of(example):
  png = _features_of(example)[features.MASK_ENCODED].bytes_list.value[0]
  image = Image.open(io.BytesIO(png))
  assert image.mode == 'L'
  return np.asarray(image)


@pytest.fixture
def features_of():
  """features_of(example): the feature map of its serialized tf.Example."""
  return _features_of


@pytest.fixture
def mask_of():
  """mask_of(example): the class-id array of its mask PNG (single-channel)."""
  return _mask_of


# --- ExampleGen: small people projects, run and read back ------------------


def _people_project(root, count):
  images = {}
  for i in range(count):
    mask_rect = [(2 + i % 5, 3), (20, 3), (20, 18), (2 + i % 5, 18)]
    images[f'ds{1 + i % 2}/img{i:02d}.png'] = {
      'image': replica.noise_image(24, 28, i),
      'objects': [replica.polygon_object(mask_rect)],
    }
  return replica.write_project(root, images)


def _broken_project(root):
  project = _people_project(root, 8)
  with open(os.path.join(project, 'ds1', 'img', 'img02.png'), 'wb') as f:
    f.write(b'\x89PNG broken')
  os.remove(os.path.join(project, 'ds2', 'ann', 'img03.png.json'))
  with open(os.path.join(project, 'ds1', 'ann', 'img04.png.json'), 'w') as f:
    f.write('{"size": {"height": 24, "wid')
  return project


def _read_split(uri, split):
  import tensorflow as tf

  names = []
  for path in sorted(glob.glob(os.path.join(uri, f'Split-{split}', '*.gz'))):
    for record in tf.data.TFRecordDataset(path, compression_type='GZIP'):
      example = tf.train.Example.FromString(record.numpy())
      names.append(
        example.features.feature[features.IMAGE_FILENAME]
        .bytes_list.value[0]
        .decode()
      )
  return sorted(names)


def _is_eval(filename, eval_fraction=0.1):
  import tensorflow as tf

  feature = tf.train.Feature(
    bytes_list=tf.train.BytesList(value=[filename.encode()])
  )
  bucket = (
    int(
      hashlib.sha256(feature.SerializeToString(deterministic=True)).hexdigest(),
      16,
    )
    % 1000
  )
  return bucket >= 1000 - round(eval_fraction * 1000)


def _exec_properties(component):
  from google.protobuf import message
  from tfx.utils import proto_utils

  props = {}
  for key, value in component.exec_properties.items():
    if isinstance(value, message.Message):
      value = proto_utils.proto_to_json(value)
    props[key] = value
  return props


def _execute_example_gen(component, output_dir):
  from tfx.types import standard_artifacts

  from components import example_gen

  artifact = standard_artifacts.Examples()
  artifact.uri = output_dir
  executor = example_gen.Executor()
  executor.Do({}, {'examples': [artifact]}, _exec_properties(component))
  return output_dir


@pytest.fixture
def no_hang():
  """Fails the test with TimeoutError after 10 s instead of hanging: a read
  that blocks (a FIFO would) or a loop that never ends is a failure."""

  def alarm(signum, frame):
    raise TimeoutError('still running after 10 s')

  previous = signal.signal(signal.SIGALRM, alarm)
  signal.alarm(10)
  yield
  signal.alarm(0)
  signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def people_project():
  """people_project(root, count): a Supervisely project of `count` images.

  One person polygon per noise image, over two datasets (ds1, ds2).
  """
  return _people_project


@pytest.fixture
def broken_project():
  """broken_project(root): 8 images, 5 good, 3 bad in three different ways."""
  return _broken_project


@pytest.fixture
def read_split():
  """read_split(uri, split): sorted image filenames of an Examples split."""
  return _read_split


@pytest.fixture
def is_eval():
  """is_eval(filename, eval_fraction=0.1): the documented hash split rule.

  Computed independently of TFX, so tests check ExampleGen against it.
  """
  return _is_eval


@pytest.fixture
def run_in_pipeline(tmp_path):
  """run_in_pipeline(component): runs it alone in a cached local pipeline.

  Pipeline root and MLMD store live in the test's tmp_path, so calling it
  again in the same test sees the first run's cache. Returns the last
  execution and the sorted URIs of every artifact in the store.
  """

  def run(component):
    from tfx.orchestration import metadata
    from tfx.orchestration import pipeline as tfx_pipeline
    from tfx.orchestration.local import local_dag_runner

    connection = metadata.sqlite_metadata_connection_config(
      str(tmp_path / 'mlmd.sqlite')
    )
    pipeline = tfx_pipeline.Pipeline(
      pipeline_name='ingest_test',
      pipeline_root=str(tmp_path / 'root'),
      components=[component],
      enable_cache=True,
      metadata_connection_config=connection,
    )
    local_dag_runner.LocalDagRunner().run(pipeline)
    with metadata.Metadata(connection) as m:
      executions = m.store.get_executions()
      artifacts = m.store.get_artifacts()
    return executions[-1], sorted(a.uri for a in artifacts)

  return run


@pytest.fixture
def execute_example_gen():
  """execute_example_gen(component, output_dir): ExampleGen's executor alone.

  No pipeline and no cache; returns output_dir, the Examples artifact's URI.
  """
  return _execute_example_gen


# --- The real clients: MediaPipe and LiteRT in .venv-clients ---------------


def _resize_as_mediapipe_cpu(photo, size):
  """uint8 [H, W, 3] -> [size, size, 3] as MediaPipe 0.10.21 feeds it on CPU.

  Its ImageToTensorCalculator warps the photo's corners onto the tensor's
  (OpenCV warpPerspective, bilinear): TF1's resize without half-pixel
  centres, half of (H / size - 1) photo pixels off the project's resize.
  """
  import tensorflow as tf

  image = tf.compat.v1.image.resize_bilinear(
    photo[None], [size, size], half_pixel_centers=False
  )
  return tf.cast(tf.round(image), tf.uint8)[0].numpy()


@pytest.fixture
def resize_as_mediapipe_cpu():
  """fn(photo, size): the photo as MediaPipe's CPU graph feeds the model."""
  return _resize_as_mediapipe_cpu


@pytest.fixture
def run_clients(tmp_path):
  """fn(.tflite paths, photos) -> what MediaPipe and LiteRT made of them.

  Runs clients/segment.py in the clients venv (failing, not skipping, when
  it is missing) and compares each file's results with the project's own
  prediction for that file (components.tflite_runner, i.e. tf.lite):
  {path: {'mediapipe': [per photo: fraction of pixels where MediaPipe's
  category mask equals TFLiteSegmenter.segment], 'mediapipe_cpu_input':
  [the same with the photo resized as MediaPipe resizes it on CPU, the rest
  of the prediction unchanged], 'category', 'confidence': [per photo:
  MediaPipe's category mask, confidence masks], 'labels': the class names
  MediaPipe read from the file, 'litert', 'litert_builtin':
  fraction of all pixels where LiteRT's class ids (default delegate; builtin
  kernels) equal tf.lite's on the resized photos}}.
  """
  import tensorflow as tf

  import clients
  from components import preprocessing
  from components.tflite_runner import TFLiteSegmenter

  def run(paths, photos):
    segmenters = []
    for path in paths:
      with open(path, 'rb') as f:
        segmenters.append(TFLiteSegmenter(f.read()))
    resized = [
      preprocessing.resize_image(
        tf.constant(photo), segmenters[0].input_size
      ).numpy()
      for photo in photos
    ]
    request = str(tmp_path / 'images.npz')
    np.savez(
      request,
      **{f'photo_{i}': p for i, p in enumerate(photos)},
      **{f'resized_{i}': r for i, r in enumerate(resized)},
    )
    response = str(tmp_path / 'results.npz')
    clients.run(
      'segment.py', [f'--images={request}', f'--output={response}', *paths]
    )
    measured = {}
    with np.load(response) as results:
      for m, (path, segmenter) in enumerate(
        zip(paths, segmenters, strict=True)
      ):
        ids = [segmenter.predict(image)['class_ids'] for image in resized]
        category = [
          results[f'mediapipe_category/{m}/{i}'] for i in range(len(photos))
        ]
        measured[path] = {
          'mediapipe': [
            np.mean(mask == segmenter.segment(photo))
            for mask, photo in zip(category, photos, strict=True)
          ],
          'mediapipe_cpu_input': [
            np.mean(
              mask == segmenter.segment(photo, resize=_resize_as_mediapipe_cpu)
            )
            for mask, photo in zip(category, photos, strict=True)
          ],
          'category': category,
          'labels': results[f'mediapipe_labels/{m}'].tolist(),
          'confidence': [
            results[f'mediapipe_confidence/{m}/{i}'] for i in range(len(photos))
          ],
          **{
            client: np.mean(
              [
                results[f'{client}_class_ids/{m}/{i}'] == expected
                for i, expected in enumerate(ids)
              ]
            )
            for client in ('litert', 'litert_builtin')
          },
        }
    return measured

  return run


# --- A small Transform output: what the Trainer's run_fn reads -------------


def _transform_output(root, count=24, size=32):
  """Runs the project's preprocessing_fn with tf.Transform on demo images.

  Writes <root>/transform_graph (a TFTransformOutput folder) and
  <root>/transformed/train-*.gz (gzipped transformed tf.Examples, one
  file, as a small Transform output is). Returns (graph dir, file pattern).
  """
  import apache_beam as beam
  import tensorflow as tf
  import tensorflow_transform as tft
  import tensorflow_transform.beam as tft_beam
  from tensorflow_transform.tf_metadata import metadata_io
  from tensorflow_transform.tf_metadata import schema_utils

  from components import preprocessing
  from data import demo
  from data import example

  raw = []
  for index in range(count):
    image, _, _, label_map = demo.render_example(
      np.random.default_rng([11, index])
    )
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, 'PNG')
    raw.append(
      {
        features.IMAGE_ENCODED: [buffer.getvalue()],
        features.MASK_ENCODED: [example.encode_mask(label_map)],
      }
    )
  schema = schema_utils.schema_from_feature_spec(
    {
      features.IMAGE_ENCODED: tf.io.FixedLenFeature([1], tf.string),
      features.MASK_ENCODED: tf.io.FixedLenFeature([1], tf.string),
    }
  )
  graph_dir = os.path.join(root, 'transform_graph')
  pattern = os.path.join(root, 'transformed', 'train')
  with (
    beam.Pipeline(argv=['--direct_running_mode=in_memory']) as pipeline,
    tft_beam.Context(temp_dir=os.path.join(root, 'tmp')),
  ):
    (transformed_data, transformed_metadata), transform_fn = (
      pipeline | beam.Create(raw),
      tft.DatasetMetadata(schema),
    ) | tft_beam.AnalyzeAndTransformDataset(
      lambda inputs: preprocessing.preprocessing_fn(
        inputs, {'input_size': size}
      ),
      output_record_batches=False,
    )
    _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
    coder = tft.coders.ExampleProtoCoder(transformed_metadata.schema)
    _ = (
      transformed_data
      | beam.Map(coder.encode)
      | beam.io.WriteToTFRecord(pattern, file_name_suffix='.gz', num_shards=1)
    )
  # The raw schema, as TFX's Transform writes it (serving parses with it).
  metadata_io.write_metadata(
    tft.DatasetMetadata(schema), os.path.join(graph_dir, 'metadata')
  )
  return graph_dir, pattern + '*.gz'


@pytest.fixture(scope='session')
def transform_output(tmp_path_factory):
  """(transform graph dir, train file pattern): 24 demo images at 32 x 32.

  Session-wide: tf.Transform takes a few seconds, and nothing writes to it.
  """
  return _transform_output(str(tmp_path_factory.mktemp('transform')))


# --- A browser: the HTML report as a person opens it ------------------------


def _render_in_browser(html_path, tmp_dir, width=1200, height=4000):
  """(DOM after parsing, screenshot as uint8 [H, W, 3]) of a local page.

  Headless Chromium opens the file from disk, as a person would (no
  server). `make test` installs Chromium; a missing browser fails.
  """
  import shutil
  import subprocess

  browser = shutil.which('chromium') or shutil.which('chromium-browser')
  assert browser, 'no Chromium: `apt-get install chromium` (make test does)'
  common = [
    browser,
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    f'--window-size={width},{height}',
  ]
  url = 'file://' + os.path.abspath(html_path)
  dom = subprocess.run(
    [*common, '--dump-dom', url],
    capture_output=True,
    text=True,
    timeout=120,
    check=True,
  ).stdout
  shot = os.path.join(tmp_dir, 'screenshot.png')
  subprocess.run(
    [*common, f'--screenshot={shot}', url],
    capture_output=True,
    timeout=120,
    check=True,
  )
  with Image.open(shot) as picture:
    return dom, np.asarray(picture.convert('RGB'))


@pytest.fixture
def render_in_browser(tmp_path):
  """render_in_browser(html_path) -> (DOM text, screenshot [H, W, 3])."""
  return lambda path, **size: _render_in_browser(path, str(tmp_path), **size)


# --- A small trained-model folder: what a push holds, untrained weights ---


@pytest.fixture(scope='session')
def small_pushed_model(tmp_path_factory, transform_output):
  """A folder laid out as a pushed version: SavedModel + model.tflite.

  MobileNetV2 x0.35 at 32 x 32, two classes, random weights (a varied
  argmax, which is what comparisons of predictions need), with the
  Trainer's serving signatures and extras and a labels.txt; built in
  about 20 s, once per session.
  """
  import tensorflow_transform as tft
  import tf_keras

  from components import model_io
  from components import signatures
  from components import training
  from data import labels
  from model import builder
  from model import export
  from model.config import ModelConfig

  folder = str(tmp_path_factory.mktemp('pushed') / '1')
  config = ModelConfig(depth_multiplier=0.35, input_size=32, num_classes=2)
  # Seeded: some unseeded draws score one class all over a test photo,
  # and the comparisons of predictions need both.
  tf_keras.utils.set_random_seed(0)
  model = training.serving_copy(builder.build_model(config), config)
  names = ['background', 'person']
  model_io.save_serving_model(
    model,
    folder,
    config,
    names,
    signatures.build_signatures(
      model, tft.TFTransformOutput(transform_output[0]), config.input_size
    ),
  )
  with open(os.path.join(folder, 'model.tflite'), 'wb') as f:
    f.write(export.convert_to_tflite(export.inference_model(model)))
  labels.write_labels(os.path.join(folder, labels.LABELS_FILE), names)
  return folder


# --- A tiny SavedModel whose prediction is known: fast serving tests ------


@pytest.fixture(scope='session')
def tiny_saved_model(tmp_path_factory, transform_output):
  """A serving folder of the tiny segmenter's 1x1 convolution at 32 x 32.

  `person` where a pixel is redder than it is blue
  (tests/fixtures/make_tiny_segmenter.py), so tests compute every output in
  numpy. Saved with the Trainer's serving signatures and extras
  (components.model_io) in under a second, where a MobileNet takes 20 s.
  Its ModelConfig gives only the input size and classes the signatures
  and components.inference read: model_io.load_keras_model cannot rebuild
  this network from it.
  """
  import tensorflow_transform as tft
  import tf_keras

  from components import model_io
  from components import signatures
  from model.config import ModelConfig
  from tests.fixtures import make_tiny_segmenter
  from tests.fixtures import tiny_model

  folder = str(tmp_path_factory.mktemp('tiny_saved_model'))
  size = tiny_model.SAVED_MODEL_SIZE
  convolution = make_tiny_segmenter.build().layers[-1]
  image = tf_keras.Input((size, size, 3))
  # Dropout is the identity when serving: a signature that ran the network
  # in training mode would drop half the logits.
  dropout = tf_keras.layers.Dropout(0.5, seed=0)
  model = tf_keras.Model(image, dropout(convolution(image)))
  model_io.save_serving_model(
    model,
    folder,
    ModelConfig(input_size=size, num_classes=len(tiny_model.LABELS)),
    tiny_model.LABELS,
    signatures.build_signatures(
      model, tft.TFTransformOutput(transform_output[0]), size
    ),
  )
  return folder


# --- Memory of a whole process tree ----------------------------------------
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The bound the ingest must stay under on hostile input (issue 16, point 5):
# the parent and every Beam worker together.
MAX_TREE_RSS = int(1.5 * 2**30)


@pytest.fixture
def run_measured():
  """run(args) -> bench.process_tree.Measured of `python -m data.convert
  args` with its default Beam options (a worker process per core): exit
  status, output, and the peak summed RSS of the whole process tree."""

  def run(args):
    env = dict(os.environ, PYTHONPATH=_ROOT)
    return process_tree.run(
      [sys.executable, '-m', 'data.convert', *args],
      cwd=_ROOT,
      env=env,
      timeout=600,
    )

  return run


@pytest.fixture
def max_tree_rss():
  return MAX_TREE_RSS


# --- Parent models to fine-tune from (components.parent_model) -------------


def _trainer_output(root, size, train_steps, labels=('background', 'person')):
  """A Trainer model output as the pipeline writes it: a size x size model.

  <root>/Trainer/model/7/Format-Serving holds the SavedModel and its
  assets.extra (ModelConfig, labels, Keras weights); the model (MobileNetV2
  x0.5, the decoder only from 64 px) is trained `train_steps` steps on demo
  batches (0: its initial weights). Returns the artifact folder
  (<root>/Trainer/model/7).
  """
  from components import model_io
  from components import training
  from data import labels as labels_lib
  from model import builder
  from model.config import ModelConfig
  from model.config import TrainConfig
  from tests.fixtures import demo_batches

  training.tf_keras.utils.set_random_seed(0)
  config = ModelConfig(
    depth_multiplier=0.5,
    input_size=size,
    decoder=size >= 64,
    num_classes=len(labels),
  )
  model = builder.build_model(config)
  if train_steps:
    training.fit(
      model,
      demo_batches.demo_dataset(count=32, size=size),
      TrainConfig(
        train_steps=train_steps,
        batch_size=4,
        base_lr=0.003,
        optimizer='adam',
        weight_decay=0.0,
        steps_per_epoch=train_steps,
      ),
      os.path.join(root, 'resume'),
      os.path.join(root, 'logs'),
    )
  artifact = os.path.join(root, 'Trainer', 'model', '7')
  serving = os.path.join(artifact, 'Format-Serving')
  # model_io.save_serving_model's files, without the Keras call traces
  # (signatures) that take 30 s to write and no parent reader needs.
  model.save(serving, save_format='tf', save_traces=False)
  os.makedirs(os.path.dirname(model_io.config_path(serving)))
  with open(model_io.config_path(serving), 'w') as f:
    f.write(json.dumps(config.to_dict()))
  labels_lib.write_labels(model_io.labels_path(serving), labels)
  model.save_weights(model_io.weights_path(serving), save_format='tf')
  return artifact


@pytest.fixture(scope='session')
def untrained_parent(tmp_path_factory):
  """A Trainer model output of an untrained 32 px people model.

  Session-wide and read-only: tests that damage a parent copy it first.
  """
  return _trainer_output(str(tmp_path_factory.mktemp('parent')), 32, 0)


@pytest.fixture(scope='session')
def trained_parent(tmp_path_factory):
  """A Trainer model output of a 64 px people model trained 200 steps.

  At 32 px (2 x 2 features at output stride 16) 300 steps still predicted
  no person at all; at 64 px with the decoder, 200 steps score person IoU
  0.40 on new people in another setting.
  """
  return _trainer_output(
    str(tmp_path_factory.mktemp('trained_parent')), 64, 200
  )


# --- The README's promises ---------------------------------------------------


@pytest.fixture(scope='session')
def readme_pushed_files():
  """The files and folders the README's table of a pushed version lists
  (first column, `name` or `folder/`), without the trailing slash."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  with open(os.path.join(root, 'README.md'), encoding='utf-8') as f:
    text = f.read()
  table = text.split('\n| file | what |\n')[1].split('\n\n')[0]
  names = []
  for line in table.splitlines()[1:]:
    first_cell = line.strip('|').split('|')[0]
    names += [name.rstrip('/') for name in re.findall(r'`([^`]+)`', first_cell)]
  return names
