"""Batch prediction: the Beam job against a plain loop, photos per second.

    .venv/bin/python bench/batch_predict.py --model=PUSHED_VERSION \\
        [--num_photos 160] [--work_dir DIR]

Renders `num_photos` demo photos (data.demo's people on backgrounds, scaled
to 640 x 480, JPEG) once, then times, each in a fresh subprocess, on all of
them:

* plain: one process, one Python loop over the photos calling the predict
  function of pipeline.predict (pipeline.predict.read_photo, then
  components.inference.segment, one photo per model call) and writing each
  mask PNG;
* beam_2_processes: `python -m pipeline.batch_predict` on DirectRunner
  multi_processing with 2 worker processes;
* beam_2_threads: the same job in one process, multi_threading, 2 threads
  (pipeline.batch_predict's default here).

Reported: wall seconds and photos/s end to end (start-up included); the
steady-state rate, from the masks' write times (between the 10th and the
90th percentile: start-up, worker launch and model load left out); their
ratios to plain; and the peak memory: the largest sum of RSS over the
process tree, sampled every 0.1 s (bench/ingest.py's sampler), Beam's
workers included.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

from data import cli_env

# Quiet here and in every process this one starts (--verbose keeps logs).
cli_env.quiet_unless_verbose()

# pylint: disable=wrong-import-position
import ingest as ingest_bench  # bench/ingest.py: the process-tree sampler
import numpy as np
from PIL import Image

BEAM_MODES = {
  'beam_2_processes': [
    '--direct_running_mode=multi_processing',
    '--direct_num_workers=2',
  ],
  'beam_2_threads': [
    '--direct_running_mode=multi_threading',
    '--direct_num_workers=2',
  ],
}


def make_photos(folder: str, count: int, seed: int = 0) -> str:
  """`count` 640 x 480 JPEG photos of demo people, made once per folder."""
  from data import demo  # pylint: disable=g-import-not-at-top

  marker = os.path.join(folder, f'.complete-{count}')
  if os.path.exists(marker):
    return folder
  os.makedirs(folder, exist_ok=True)
  for index in range(count):
    image = demo.render_example(np.random.default_rng([seed, index]))[0]
    photo = Image.fromarray(image).resize((640, 480), Image.BILINEAR)
    photo.save(os.path.join(folder, f'photo-{index:04d}.jpg'), quality=90)
  with open(marker, 'w') as f:
    f.write('')
  return folder


def plain_loop(model: str, paths, output_dir: str) -> None:
  """The baseline: pipeline.predict's functions, one photo at a time."""
  from components import inference  # pylint: disable=g-import-not-at-top
  from pipeline import predict  # pylint: disable=g-import-not-at-top

  segment, _ = inference.load_segmenter(model)
  os.makedirs(output_dir, exist_ok=True)
  for path in paths:
    class_ids = segment(predict.read_photo(path, 40_000_000))
    buffer = io.BytesIO()
    Image.fromarray(class_ids).save(buffer, 'PNG')
    stem = os.path.splitext(os.path.basename(path))[0]
    with open(os.path.join(output_dir, stem + '.png'), 'wb') as f:
      f.write(buffer.getvalue())


def _command(mode, model, input_glob, output_dir):
  if mode == 'plain':
    return [
      sys.executable,
      os.path.abspath(__file__),
      '--plain',
      f'--model={model}',
      f'--input={input_glob}',
      f'--work_dir={output_dir}',
    ]
  return [
    sys.executable,
    '-m',
    'pipeline.batch_predict',
    f'--model={model}',
    f'--input={input_glob}',
    f'--output_dir={output_dir}',
    *BEAM_MODES[mode],
  ]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model', required=True)
  parser.add_argument(
    cli_env.VERBOSE_FLAG, action='store_true', help=cli_env.VERBOSE_HELP
  )
  parser.add_argument('--num_photos', type=int, default=160)
  parser.add_argument('--work_dir', default='/tmp/batch_predict_bench')
  parser.add_argument('--input', help=argparse.SUPPRESS)
  parser.add_argument('--plain', action='store_true', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.plain:
    import glob  # pylint: disable=g-import-not-at-top

    plain_loop(args.model, sorted(glob.glob(args.input)), args.work_dir)
    return
  photos = make_photos(os.path.join(args.work_dir, 'photos'), args.num_photos)
  input_glob = os.path.join(photos, 'photo-*.jpg')
  results = {}
  for mode in ('plain', *BEAM_MODES):
    output_dir = os.path.join(args.work_dir, f'out-{mode}')
    subprocess.run(['rm', '-rf', output_dir], check=True)
    seconds, peak, _ = ingest_bench.timed(
      _command(mode, args.model, input_glob, output_dir),
      dict(os.environ, PYTHONPATH=REPO),
    )
    written = mask_times(output_dir)
    if len(written) != args.num_photos:
      raise RuntimeError(f'{mode}: {len(written)} masks, not {args.num_photos}')
    results[mode] = {
      'seconds': round(seconds, 1),
      'photos_per_s': round(args.num_photos / seconds, 2),
      'steady_photos_per_s': round(steady_rate(written), 2),
      'peak_rss_mb': round(peak / 2**20),
    }
    print(mode, results[mode], flush=True)
  for runs in results.values():
    for key in ('photos_per_s', 'steady_photos_per_s'):
      runs[key.replace('photos_per_s', 'ratio')] = round(
        runs[key] / results['plain'][key], 2
      )
  print(json.dumps(results, indent=2))
  print(
    time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
    f'{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}',
  )


def mask_times(output_dir: str):
  """Sorted modification times of every mask PNG a run wrote."""
  return sorted(
    os.stat(os.path.join(folder, name)).st_mtime
    for folder, _, names in os.walk(output_dir)
    for name in names
    if name.endswith('.png')
  )


def steady_rate(times) -> float:
  """Masks per second between the 10th and the 90th percentile write.

  Leaves out start-up (imports, worker launch, model load) and the tail,
  which the end-to-end figure includes.
  """
  low, high = len(times) // 10, len(times) - 1 - len(times) // 10
  return (high - low) / (times[high] - times[low])


if __name__ == '__main__':
  main()
