r"""TFLite latency and file size of every head/backbone, float and int8.

  .venv/bin/python bench/tflite_latency.py \
      --mediapipe_python=.venv-clients/bin/python

converts each variant (random weights: latency and size do not depend on
them) with `model.export`, times `Interpreter.invoke` on this CPU with 1 and
2 threads (best of --rounds x --runs after --warmup: the machine is shared,
and the fastest run is the one least disturbed by other processes; the
median of the quietest round is printed in the JSON lines too), and
rewrites the table between
the bench markers of docs/models.md. With --mediapipe_python (an interpreter
that has the `mediapipe` wheel, kept out of the project venv), MediaPipe's
selfie segmentation model is timed as a peer row by
bench/mediapipe_selfie.py.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

from data import cli_env

cli_env.quiet_unless_verbose()

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from clients import quiet_logs
from model import builder
from model import export
from model import profile
from model.config import ModelConfig

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_INPUT_SIZE = flags.DEFINE_integer('input_size', 256, 'Square input side.')
_VERBOSE = flags.DEFINE_bool('verbose', False, cli_env.VERBOSE_HELP)
_THREADS = flags.DEFINE_list('threads', ['1', '2'], 'Thread counts to time.')
_RUNS = flags.DEFINE_integer('runs', 20, 'Timed invocations per round.')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Timing rounds over all models.')
_WARMUP = flags.DEFINE_integer('warmup', 3, 'Untimed invocations first.')
_CALIBRATION = flags.DEFINE_integer(
  'calibration_images', 8, 'Representative images for int8.'
)
_DOC = flags.DEFINE_string(
  'doc',
  os.path.join(_ROOT, 'docs', 'models.md'),
  'Markdown file whose bench table is rewritten.',
)
_MEDIAPIPE_PYTHON = flags.DEFINE_string(
  'mediapipe_python',
  None,
  'Python with mediapipe<=0.10.21 installed; adds the selfie model row.',
)

START_MARKER = '<!-- bench:start -->'
END_MARKER = '<!-- bench:end -->'

# (label, config overrides): each backbone under each head, plus the
# DeepLabV3+ options that change cost the most.
VARIANTS = (
  ('MobileNetV2 + DeepLabV3+ decoder', dict(backbone='mobilenet_v2')),
  (
    'MobileNetV2 + DeepLabV3 (no decoder)',
    dict(backbone='mobilenet_v2', decoder=False),
  ),
  ('MobileNetV2 + ASPP + decoder', dict(backbone='mobilenet_v2', aspp=True)),
  (
    'MobileNetV2 0.5 + decoder',
    dict(backbone='mobilenet_v2', depth_multiplier=0.5),
  ),
  ('MobileNetV2 + LR-ASPP', dict(backbone='mobilenet_v2', head='lraspp')),
  ('MobileNetV3-Large + decoder', dict(backbone='mobilenet_v3_large')),
  (
    'MobileNetV3-Large + LR-ASPP',
    dict(backbone='mobilenet_v3_large', head='lraspp'),
  ),
  ('MobileNetV3-Small + decoder', dict(backbone='mobilenet_v3_small')),
  (
    'MobileNetV3-Small + LR-ASPP',
    dict(backbone='mobilenet_v3_small', head='lraspp'),
  ),
)


def time_tflite(
  flatbuffer: bytes, threads: int, runs: int, warmup: int
) -> Dict[str, float]:
  """Best and median milliseconds of `invoke` on a random uint8 frame.

  A bare interpreter, not components.tflite_runner.TFLiteSegmenter: only
  `invoke` is timed, as phone benchmarks do, without input/output copies.
  """
  # Applying the XNNPACK delegate logs an INFO line whatever
  # TF_CPP_MIN_LOG_LEVEL says.
  with quiet_logs.unless_verbose(_VERBOSE.value):
    interpreter = tf.lite.Interpreter(
      model_content=flatbuffer, num_threads=threads
    )
    interpreter.allocate_tensors()
  image = interpreter.get_input_details()[0]
  frame = np.random.RandomState(0).randint(0, 256, image['shape'])
  interpreter.set_tensor(image['index'], frame.astype(image['dtype']))
  for _ in range(warmup):
    interpreter.invoke()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    interpreter.invoke()
    times.append(time.perf_counter() - start)
  return {'best': 1000 * min(times), 'median': 1000 * statistics.median(times)}


def convert_variant(
  label: str, overrides: Dict[str, Any]
) -> List[Tuple[Dict, bytes]]:
  """Float and int8 flatbuffers of one variant, with their table rows."""
  size = _INPUT_SIZE.value
  model = builder.build_model(ModelConfig(input_size=size, **overrides))
  madds = profile.count_madds(model)
  wrapped = export.inference_model(model)
  rng = np.random.RandomState(1)
  calibration = [
    rng.randint(0, 256, (1, size, size, 3)).astype(np.uint8)
    for _ in range(_CALIBRATION.value)
  ]
  converted = []
  for precision, images in (('float32', None), ('int8', calibration)):
    flatbuffer = export.convert_to_tflite(wrapped, images)
    row = {
      'model': label,
      'precision': precision,
      'madds': madds,
      'size_mb': len(flatbuffer) / 2**20,
    }
    converted.append((row, flatbuffer))
  return converted


def keep_fastest(row: Dict, threads: str, timing: Dict[str, float]) -> None:
  """Keeps the best time over rounds, and the median of the quietest one."""
  for key, value in (
    (f'ms_{threads}t', timing['best']),
    (f'median_ms_{threads}t', timing['median']),
  ):
    row[key] = min(row.get(key, value), value)


def bench_mediapipe(python: str) -> Dict[str, Any]:
  """Runs bench/mediapipe_selfie.py under a MediaPipe interpreter."""
  script = os.path.join(_ROOT, 'bench', 'mediapipe_selfie.py')
  result = subprocess.run(
    [python, script, f'--runs={_RUNS.value}', f'--warmup={_WARMUP.value}'],
    capture_output=True,
    text=True,
    check=True,
  )
  return json.loads(result.stdout.strip().splitlines()[-1])


def markdown_table(rows: List[Dict]) -> str:
  threads = _THREADS.value
  header = (
    '| model | precision | MAdds | size (MB) | '
    + ' | '.join(f'ms, {t} thread{"s" * (t != "1")}' for t in threads)
    + ' |'
  )
  lines = [header, '|' + ' --- |' * (4 + len(threads))]
  for row in rows:
    madds = f'{row["madds"] / 1e9:.2f}B' if row.get('madds') else 'n/a'
    timings = ' | '.join(
      f'{row[f"ms_{t}t"]:.1f}' if row.get(f'ms_{t}t') else 'n/a'
      for t in threads
    )
    lines.append(
      f'| {row["model"]} | {row["precision"]} | {madds} | '
      f'{row["size_mb"]:.2f} | {timings} |'
    )
  return '\n'.join(lines)


def environment() -> str:
  cpu = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo') as cpuinfo:
      cpu = next(
        line.split(':', 1)[1].strip()
        for line in cpuinfo
        if line.startswith('model name')
      )
  except (OSError, StopIteration):
    pass
  load = ', '.join(f'{x:.1f}' for x in os.getloadavg())
  return (
    f'{cpu}, {os.cpu_count()} cores, TensorFlow {tf.__version__} '
    f'tf.lite.Interpreter (default XNNPACK delegate), input '
    f'{_INPUT_SIZE.value}x{_INPUT_SIZE.value}, best of '
    f'{_ROUNDS.value} x {_RUNS.value} runs, load average at the end '
    f'{load}, '
    f'{time.strftime("%Y-%m-%d")}'
  )


def rewrite_doc(path: str, table: str) -> None:
  with open(path) as doc:
    text = doc.read()
  if START_MARKER not in text or END_MARKER not in text:
    raise ValueError(
      f'{path}: needs the markers {START_MARKER} and '
      f'{END_MARKER} around the bench table'
    )
  head, rest = text.split(START_MARKER, 1)
  _, tail = rest.split(END_MARKER, 1)
  with open(path, 'w') as doc:
    doc.write(
      f'{head}{START_MARKER}\n{table}\n\n{environment()}.\n{END_MARKER}{tail}'
    )


def main(argv):
  del argv
  converted = [
    item
    for label, overrides in VARIANTS
    for item in convert_variant(label, overrides)
  ]
  rows = [row for row, _ in converted]
  mediapipe = None
  # Rounds spread each model's timing over the whole run, so one busy
  # moment of the shared machine does not decide a row.
  for _ in range(_ROUNDS.value):
    for row, flatbuffer in converted:
      for threads in _THREADS.value:
        keep_fastest(
          row,
          threads,
          time_tflite(flatbuffer, int(threads), _RUNS.value, _WARMUP.value),
        )
    if _MEDIAPIPE_PYTHON.value:
      peer = bench_mediapipe(_MEDIAPIPE_PYTHON.value)
      mediapipe = mediapipe or peer
      for threads in _THREADS.value:
        keep_fastest(
          mediapipe,
          threads,
          {
            'best': peer[f'ms_{threads}t'],
            'median': peer[f'median_ms_{threads}t'],
          },
        )
  if mediapipe:
    rows.append(mediapipe)
  for row in rows:
    print(json.dumps(row))
  rewrite_doc(_DOC.value, markdown_table(rows))
  print(f'wrote {_DOC.value}', file=sys.stderr)


if __name__ == '__main__':
  app.run(main)
