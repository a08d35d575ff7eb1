"""Ingestion throughput: data.convert (Beam) vs a naive single-process loop.

    .venv/bin/python bench/ingest.py [--num_images 3000] [--repeats 3] \
        [--work_dir DIR]

Builds VOC-like data once (500x375 JPEGs, palette PNG masks with the VOC
colormap, 90/10 train/val lists), then in the same run times, each in a
fresh subprocess:

* naive: one Python loop, PIL + tf.io.TFRecordWriter (GZIP), doing the
  checks of DeepLab's build_voc2012_data.py (decode image and mask, compare
  sizes) and re-encoding the palette mask as an 'L' PNG with PIL;
* beam: `python -m data.convert --format voc` with its defaults
  (DirectRunner, multi_processing, one worker per core).

Both run on all images and on the first half (same files, shorter lists),
`--repeats` times each, interleaved. Reported, as medians over the repeats:
wall seconds and images/s end to end (start-up included), the
steady-state rate (extra images / extra seconds between the two sizes,
which cancels the fixed start-up: interpreter, library imports, worker
launch), ratios to naive; and peak memory, the largest sum of RSS over the
process tree (sampled every 0.1 s, maximum over the repeats): equal peaks
at both sizes show memory does not grow with the data.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from pipeline import visualize  # pylint: disable=wrong-import-position


def make_dataset(root: str, num_images: int, seed: int = 0) -> str:
  """VOCdevkit/VOC2012 with num_images 500x375 JPEG + palette PNG pairs."""
  voc = os.path.join(root, 'VOCdevkit', 'VOC2012')
  marker = os.path.join(voc, f'.complete-{num_images}')
  if os.path.exists(marker):
    return root
  for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
    os.makedirs(os.path.join(voc, sub), exist_ok=True)
  rng = np.random.default_rng(seed)
  palette = visualize.class_colors(256).ravel().tolist()
  yy, xx = np.mgrid[0:375, 0:500]
  ids = []
  for index in range(num_images):
    voc_id = f'2012_{index:06d}'
    ids.append(voc_id)
    base = rng.integers(0, 256, size=3)
    image = (
      base
      + 0.25 * xx[..., None]
      + 0.2 * yy[..., None]
      + rng.normal(0, 18, size=(375, 500, 3))
    )
    mask = np.zeros((375, 500), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
      cy, cx = rng.integers(40, 335), rng.integers(40, 460)
      ry, rx = rng.integers(20, 120), rng.integers(20, 160)
      blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
      edge = ((yy - cy) / (ry + 3)) ** 2 + ((xx - cx) / (rx + 3)) ** 2 <= 1
      mask[edge & ~blob] = 255
      mask[blob] = int(rng.integers(1, 21))
      image[blob] = image[blob] * 0.5 + rng.integers(0, 256, size=3) * 0.5
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
      os.path.join(voc, 'JPEGImages', voc_id + '.jpg'), quality=90
    )
    pil_mask = Image.fromarray(mask, mode='P')
    pil_mask.putpalette(palette)
    pil_mask.save(os.path.join(voc, 'SegmentationClass', voc_id + '.png'))
  split = int(num_images * 0.9)
  for name, part in (('train', ids[:split]), ('val', ids[split:])):
    with open(
      os.path.join(voc, 'ImageSets/Segmentation', name + '.txt'), 'w'
    ) as f:
      f.write(''.join(i + '\n' for i in part))
  with open(marker, 'w') as f:
    f.write('ok')
  return root


def naive_convert(data_root: str, output_dir: str) -> int:
  """The single-process loop every DeepLab user starts with."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  voc = os.path.join(data_root, 'VOCdevkit', 'VOC2012')
  os.makedirs(output_dir, exist_ok=True)
  count = 0
  options = tf.io.TFRecordOptions(compression_type='GZIP')
  for split, list_name in (('train', 'train'), ('eval', 'val')):
    with open(
      os.path.join(voc, 'ImageSets/Segmentation', list_name + '.txt')
    ) as f:
      ids = f.read().split()
    path = os.path.join(output_dir, f'{split}-00000-of-00001.tfrecord.gz')
    with tf.io.TFRecordWriter(path, options) as writer:
      for voc_id in ids:
        with open(os.path.join(voc, 'JPEGImages', voc_id + '.jpg'), 'rb') as f:
          image_bytes = f.read()
        image = Image.open(io.BytesIO(image_bytes))
        image.load()
        mask = np.asarray(
          Image.open(os.path.join(voc, 'SegmentationClass', voc_id + '.png'))
        )
        if mask.shape != (image.height, image.width):
          raise ValueError(f'{voc_id}: size mismatch')
        out = io.BytesIO()
        Image.fromarray(mask, mode='L').save(out, 'PNG')

        def b(v):
          return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

        def i(v):
          return tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))

        example = tf.train.Example(
          features=tf.train.Features(
            feature={
              'image/encoded': b(image_bytes),
              'image/format': b(b'jpeg'),
              'image/filename': b(voc_id.encode()),
              'image/height': i(image.height),
              'image/width': i(image.width),
              'image/channels': i(3),
              'image/segmentation/class/encoded': b(out.getvalue()),
              'image/segmentation/class/format': b(b'png'),
            }
          )
        )
        writer.write(example.SerializeToString())
        count += 1
  return count


def _tree_rss(pid: int) -> int:
  """Sum of VmRSS (bytes) of pid and all its descendants, from /proc."""
  total, stack = 0, [pid]
  while stack:
    p = stack.pop()
    try:
      with open(f'/proc/{p}/status') as f:
        for line in f:
          if line.startswith('VmRSS:'):
            total += int(line.split()[1]) * 1024
      for tid in os.listdir(f'/proc/{p}/task'):
        with open(f'/proc/{p}/task/{tid}/children') as f:
          stack.extend(int(c) for c in f.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
      continue
  return total


def timed(cmd, env):
  """(wall seconds, peak tree RSS bytes, stdout) of a subprocess."""
  start = time.perf_counter()
  proc = subprocess.Popen(
    cmd,
    cwd=REPO,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  peak = [0]

  def sample():
    while proc.poll() is None:
      peak[0] = max(peak[0], _tree_rss(proc.pid))
      time.sleep(0.1)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  out, err = proc.communicate()
  seconds = time.perf_counter() - start
  sampler.join()
  if proc.returncode:
    raise RuntimeError(f'{cmd} failed:\n{err[-3000:]}')
  return seconds, peak[0], out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--num_images', type=int, default=3000)
  parser.add_argument('--work_dir', default='/tmp/ingest_bench')
  parser.add_argument(
    '--repeats',
    type=int,
    default=3,
    help='runs of each command; medians are reported',
  )
  parser.add_argument(
    '--naive_only', action='store_true', help=argparse.SUPPRESS
  )
  parser.add_argument('--data_root')
  parser.add_argument('--output_dir')
  args = parser.parse_args()
  if args.naive_only:  # Subprocess entry point of the naive run.
    print(naive_convert(args.data_root, args.output_dir))
    return
  env = dict(os.environ, TF_USE_LEGACY_KERAS='1')
  n, half = args.num_images, args.num_images // 2
  start = time.perf_counter()
  full_root = make_dataset(os.path.join(args.work_dir, f'voc-{n}'), n)
  half_root = _half_dataset(
    full_root, os.path.join(args.work_dir, f'voc-{n}-half')
  )
  print(
    f'data: {n} images ready in {time.perf_counter() - start:.0f}s', flush=True
  )
  samples = {}
  for repeat in range(args.repeats):
    for size, data_root in ((half, half_root), (n, full_root)):
      runs = {
        'naive': [
          sys.executable,
          os.path.abspath(__file__),
          '--naive_only',
          '--data_root',
          data_root,
        ],
        'beam': [
          sys.executable,
          '-m',
          'data.convert',
          '--format',
          'voc',
          '--data_root',
          data_root,
        ],
      }
      for name, cmd in runs.items():
        out_dir = os.path.join(args.work_dir, f'out-{name}-{size}')
        subprocess.run(['rm', '-rf', out_dir], check=True)
        seconds, peak, _ = timed(cmd + ['--output_dir', out_dir], env)
        samples.setdefault((name, size), []).append((seconds, peak))
        print(
          f'run {repeat + 1}/{args.repeats}: {name} {size} images '
          f'{seconds:.1f}s',
          flush=True,
        )
  results = {}
  for (name, size), runs_of in samples.items():
    seconds = float(np.median([s for s, _ in runs_of]))
    results.setdefault(name, {})[size] = {
      'seconds': round(seconds, 2),
      'images_per_s': round(size / seconds, 1),
      'peak_rss_mb': round(max(p for _, p in runs_of) / 2**20),
    }
  summary = {}
  for name, by_size in results.items():
    summary[name] = {
      'end_to_end_images_per_s': by_size[n]['images_per_s'],
      'steady_images_per_s': round(
        (n - half) / (by_size[n]['seconds'] - by_size[half]['seconds']), 1
      ),
      'peak_rss_mb': {str(k): v['peak_rss_mb'] for k, v in by_size.items()},
    }
  for key in ('end_to_end_images_per_s', 'steady_images_per_s'):
    summary['ratio_' + key] = round(
      summary['beam'][key] / summary['naive'][key], 2
    )
  print(
    json.dumps(
      {
        'cores': os.cpu_count(),
        'num_images': n,
        'repeats': args.repeats,
        'load_average_1m': os.getloadavg()[0],
        'runs': results,
        'summary': summary,
      },
      indent=1,
    )
  )


def _half_dataset(full_root: str, half_root: str) -> str:
  """The first half of the lists, sharing the full dataset's files.

  Hard links, not symlinks: the readers refuse symlinks that lead out of
  the data root (data/guard.py).
  """
  src = os.path.join(full_root, 'VOCdevkit', 'VOC2012')
  dst = os.path.join(half_root, 'VOCdevkit', 'VOC2012')
  os.makedirs(os.path.join(dst, 'ImageSets', 'Segmentation'), exist_ok=True)
  for sub in ('JPEGImages', 'SegmentationClass'):
    if not os.path.exists(os.path.join(dst, sub)):
      os.makedirs(os.path.join(dst, sub))
      for name in os.listdir(os.path.join(src, sub)):
        os.link(os.path.join(src, sub, name), os.path.join(dst, sub, name))
  for name in ('train', 'val'):
    with open(
      os.path.join(src, 'ImageSets', 'Segmentation', name + '.txt')
    ) as f:
      ids = f.read().split()
    with open(
      os.path.join(dst, 'ImageSets', 'Segmentation', name + '.txt'), 'w'
    ) as f:
      f.write(''.join(i + '\n' for i in ids[: len(ids) // 2]))
  return half_root


if __name__ == '__main__':
  main()
