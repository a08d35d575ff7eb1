r"""MediaPipe selfie segmentation as a peer row of the latency table.

Runs under an interpreter that has `mediapipe<=0.10.21` (kept out of the
project venv: it pins its own protobuf), e.g. the clients venv:

  make clients && .venv-clients/bin/python bench/mediapipe_selfie.py

and prints one JSON row. The model needs MediaPipe's runtime (custom op
Convolution2DTransposeBias), so it is timed through the selfie segmentation
solution graph (general 256x256 model): the figure includes MediaPipe's
image conversion and mask post-processing, so it bounds the inference time
from above. MediaPipe picks its own thread count; the 1-thread column pins
the process to one core, the 2-thread column lets it use two.
"""

import json
import os
import statistics
import sys
import time
from typing import Dict

from absl import app
from absl import flags
import mediapipe as mp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from clients import quiet_logs  # pylint: disable=wrong-import-position

_RUNS = flags.DEFINE_integer('runs', 30, 'Timed frames.')
_WARMUP = flags.DEFINE_integer('warmup', 3, 'Untimed frames first.')
_VERBOSE = flags.DEFINE_boolean(
  'verbose',
  False,
  "Show MediaPipe's and TFLite's logs and warnings (quiet by default).",
)

_MODEL = os.path.join(
  os.path.dirname(mp.__file__),
  'modules',
  'selfie_segmentation',
  'selfie_segmentation.tflite',
)


def time_solution(cores, frame: np.ndarray) -> Dict[str, float]:
  """Best and median ms per frame, the process restricted to `cores`."""
  os.sched_setaffinity(0, cores)
  with mp.solutions.selfie_segmentation.SelfieSegmentation(
    model_selection=0
  ) as segmenter:
    for _ in range(_WARMUP.value):
      segmenter.process(frame)
    times = []
    for _ in range(_RUNS.value):
      start = time.perf_counter()
      mask = segmenter.process(frame).segmentation_mask
      times.append(time.perf_counter() - start)
  assert mask.shape == frame.shape[:2], mask.shape
  return {'best': 1000 * min(times), 'median': 1000 * statistics.median(times)}


def main(argv):
  del argv
  frame = np.random.RandomState(0).randint(0, 256, (256, 256, 3))
  frame = frame.astype(np.uint8)
  cores = sorted(os.sched_getaffinity(0))
  row = {
    'model': f'MediaPipe selfie segmentation (mediapipe {mp.__version__})',
    'precision': 'float16 weights',
    'madds': None,
    'size_mb': os.path.getsize(_MODEL) / 2**20,
  }
  for threads in (1, 2):
    with quiet_logs.unless_verbose(_VERBOSE.value):
      timing = time_solution(cores[:threads], frame)
    row[f'ms_{threads}t'] = timing['best']
    row[f'median_ms_{threads}t'] = timing['median']
  print(json.dumps(row))


if __name__ == '__main__':
  app.run(main)
