r"""Races TFLite segmenters against MediaPipe's selfie model as apps run them.

  .venv-clients/bin/python bench/mediapipe_race.py model_fp16.tflite [...]

Each file (with segmentation metadata, as TFLiteExport writes it) and
MediaPipe's general selfie model (`selfie_segmentation.tflite` from the
mediapipe wheel, which carries its own metadata) is loaded into one
ImageSegmenter in this process, pinned to one core. All segment the same
640x480 frame, asking only for the category mask as an app that cuts out a
person does, so MediaPipe's resize in, the model and its mask out are all
timed. Rounds are interleaved (selfie, ours, selfie, ours, ...) so a busy
moment of the shared machine weighs on every model alike. Prints one JSON
object: per model the file size, its weights and multiply-adds counted in
the file by one rule for selfie's and ours (`count_weights_and_madds`),
median and best ms, and the ratio of its median to selfie's.

It runs as a process of its own: on a file without segmentation metadata
ImageSegmenter dies with SIGSEGV, and takes down only the bench.
"""

import json
import os
import statistics
import sys
import time
from typing import Dict

from absl import app
from absl import flags
from ai_edge_litert import schema_py_generated as schema
import mediapipe as mp
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core import base_options
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from clients import quiet_logs  # pylint: disable=wrong-import-position

_ROUNDS = flags.DEFINE_integer('rounds', 100, 'Timed frames per model.')
_WARMUP = flags.DEFINE_integer('warmup', 5, 'Untimed frames per model.')
_WIDTH = flags.DEFINE_integer('width', 640, 'Frame width.')
_HEIGHT = flags.DEFINE_integer('height', 480, 'Frame height.')
_VERBOSE = flags.DEFINE_boolean(
  'verbose',
  False,
  "Show MediaPipe's and TFLite's logs and warnings (quiet by default).",
)

SELFIE = os.path.join(
  os.path.dirname(mp.__file__),
  'modules',
  'selfie_segmentation',
  'selfie_segmentation.tflite',
)


def count_weights_and_madds(path: str) -> Dict[str, int]:
  """{weights, madds}: what a TFLite file holds, read from its flatbuffer.

  Weights: elements of the constant float32/float16 tensors (BatchNorm is
  folded into the convs by then). Multiply-adds: those of the convs,
  depthwise convs, fully connected layers and MediaPipe's transposed conv
  (Convolution2DTransposeBias, in selfie's decoder), as model.profile
  counts them for a Keras model.
  """
  with open(path, 'rb') as f:
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(f.read(), 0))
  graph = model.subgraphs[0]
  weights = sum(
    int(np.prod(tensor.shape))
    for tensor in graph.tensors
    if tensor.type in (schema.TensorType.FLOAT32, schema.TensorType.FLOAT16)
    and model.buffers[tensor.buffer].data is not None
  )
  madds = 0
  for op in graph.operators:
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    kernel = graph.tensors[op.inputs[1]].shape if len(op.inputs) > 1 else ()
    # Kernels are [out, h, w, in]; depthwise ones [1, h, w, channels].
    if builtin == schema.BuiltinOperator.CONV_2D:
      per_output = np.prod(kernel[1:])
    elif builtin == schema.BuiltinOperator.DEPTHWISE_CONV_2D:
      per_output = np.prod(kernel[1:3])
    elif builtin == schema.BuiltinOperator.FULLY_CONNECTED:
      per_output = kernel[-1]
    elif code.customCode == b'Convolution2DTransposeBias':
      # Each input pixel scatters a whole kernel.
      madds += np.prod(graph.tensors[op.inputs[0]].shape) * np.prod(kernel[:3])
      continue
    else:
      continue
    madds += np.prod(graph.tensors[op.outputs[0]].shape) * per_output
  return {'weights': weights, 'madds': int(madds)}


def segmenter(path: str) -> vision.ImageSegmenter:
  """An ImageSegmenter on the CPU that outputs the category mask only."""
  return vision.ImageSegmenter.create_from_options(
    vision.ImageSegmenterOptions(
      base_options=base_options.BaseOptions(model_asset_path=path),
      running_mode=vision.RunningMode.IMAGE,
      output_category_mask=True,
      output_confidence_masks=False,
    )
  )


def race(paths, frame: mp.Image):
  """{path: [ms per frame]}, the models taking turns frame by frame."""
  segmenters = {path: segmenter(path) for path in paths}
  times = {path: [] for path in paths}
  try:
    for round_ in range(_WARMUP.value + _ROUNDS.value):
      for path, model in segmenters.items():
        start = time.perf_counter()
        mask = model.segment(frame).category_mask
        elapsed = time.perf_counter() - start
        if round_ >= _WARMUP.value:
          times[path].append(1000 * elapsed)
  finally:
    for model in segmenters.values():
      model.close()
  assert mask.numpy_view().shape == (_HEIGHT.value, _WIDTH.value)
  return times


def main(argv):
  models = argv[1:]
  if not models:
    raise app.UsageError('give the .tflite files to race against selfie')
  # One core, as the race asks; MediaPipe's CPU inference then
  # gets no second thread whatever it asks for.
  os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
  pixels = np.random.RandomState(0).randint(
    0, 256, (_HEIGHT.value, _WIDTH.value, 3), dtype=np.uint8
  )
  frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)
  with quiet_logs.unless_verbose(_VERBOSE.value):
    times = race([SELFIE, *models], frame)
  selfie = statistics.median(times[SELFIE])
  print(
    json.dumps(
      {
        'mediapipe': mp.__version__,
        'frame': f'{_WIDTH.value}x{_HEIGHT.value}',
        'rounds': _ROUNDS.value,
        'load_average': os.getloadavg(),
        'models': {
          path: {
            'size_mb': os.path.getsize(path) / 2**20,
            **count_weights_and_madds(path),
            'median_ms': statistics.median(ms),
            'best_ms': min(ms),
            'ratio_to_selfie': statistics.median(ms) / selfie,
          }
          for path, ms in times.items()
        },
      },
      indent=2,
    )
  )


if __name__ == '__main__':
  app.run(main)
