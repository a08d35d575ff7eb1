"""Ingestion throughput: data.convert (Beam) vs a naive single-process loop.

    .venv/bin/python bench/ingest.py [--format voc|masks|coco] \
        [--num_images 3000] [--repeats 3] [--work_dir DIR]

Builds VOC-like data once (500x375 JPEGs, palette PNG masks with the VOC
colormap, 90/10 train/val lists) and, for the other formats, the same
images as mask folders (the masks as they are) or as COCO (one
uncompressed-RLE instance per class region, `--labels voc`), then in the
same run times, each in a fresh subprocess, what a user waits for: the
command from its start to its exit:

* naive: one Python loop, PIL + tf.io.TFRecordWriter (GZIP), doing the
  checks of DeepLab's build_voc2012_data.py (decode image and mask, compare
  sizes) and re-encoding the mask as an 'L' PNG with PIL (COCO: the
  instance masks from pycocotools' annToMask, painted in order);
* beam: `python -m data.convert --format FORMAT` with its defaults
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
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from bench import process_tree  # pylint: disable=wrong-import-position
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


def as_masks(voc_root: str, root: str) -> str:
  """The VOC data as mask folders (hard links: the guard refuses symlinks
  out of the data root)."""
  src = os.path.join(voc_root, 'VOCdevkit', 'VOC2012')
  if os.path.exists(os.path.join(root, 'labels.txt')):
    return root
  for split, list_name in (('train', 'train'), ('val', 'val')):
    for sub in ('images', 'masks'):
      os.makedirs(os.path.join(root, split, sub), exist_ok=True)
    for voc_id in _ids(src, list_name):
      os.link(
        os.path.join(src, 'JPEGImages', voc_id + '.jpg'),
        os.path.join(root, split, 'images', voc_id + '.jpg'),
      )
      os.link(
        os.path.join(src, 'SegmentationClass', voc_id + '.png'),
        os.path.join(root, split, 'masks', voc_id + '.png'),
      )
  with open(os.path.join(root, 'labels.txt'), 'w') as f:
    f.write(''.join(name + '\n' for name in _voc_classes()))
  return root


def as_coco(voc_root: str, root: str) -> str:
  """The VOC data as COCO: one uncompressed-RLE instance per class region
  (VOC's void edges become background)."""
  src = os.path.join(voc_root, 'VOCdevkit', 'VOC2012')
  if os.path.exists(os.path.join(root, 'annotations', 'done')):
    return root
  os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
  names = _voc_classes()
  categories = [{'id': i, 'name': n} for i, n in enumerate(names) if i]
  for split, list_name in (('train2017', 'train'), ('val2017', 'val')):
    os.makedirs(os.path.join(root, split), exist_ok=True)
    data = {'images': [], 'annotations': [], 'categories': categories}
    for voc_id in _ids(src, list_name):
      os.link(
        os.path.join(src, 'JPEGImages', voc_id + '.jpg'),
        os.path.join(root, split, voc_id + '.jpg'),
      )
      mask = np.asarray(
        Image.open(os.path.join(src, 'SegmentationClass', voc_id + '.png'))
      )
      image_id = len(data['images']) + 1
      height, width = mask.shape
      data['images'].append(
        {
          'id': image_id,
          'file_name': voc_id + '.jpg',
          'height': height,
          'width': width,
        }
      )
      for class_id in np.unique(mask):
        if class_id in (0, 255):
          continue
        flat = (mask == class_id).ravel(order='F').astype(np.int8)
        changes = np.flatnonzero(np.diff(flat)) + 1
        counts = np.diff(np.concatenate([[0], changes, [flat.size]]))
        counts = ([0] if flat[0] else []) + counts.tolist()
        data['annotations'].append(
          {
            'id': len(data['annotations']) + 1,
            'image_id': image_id,
            'category_id': int(class_id),
            'iscrowd': 0,
            'segmentation': {'size': [height, width], 'counts': counts},
          }
        )
    with open(
      os.path.join(root, 'annotations', f'instances_{split}.json'), 'w'
    ) as f:
      json.dump(data, f)
  with open(os.path.join(root, 'annotations', 'done'), 'w') as f:
    f.write('ok')
  return root


def _voc_classes():
  from data import labels  # pylint: disable=g-import-not-at-top

  return labels.VOC_CLASSES


def _ids(voc: str, list_name: str):
  with open(
    os.path.join(voc, 'ImageSets/Segmentation', list_name + '.txt')
  ) as f:
    return f.read().split()


def _pairs(fmt: str, data_root: str):
  """(split, [(name, image path, mask source)]) of a dataset, as the naive
  loop walks it; the mask source is a path, or (COCO) the image's entry."""
  if fmt == 'voc':
    voc = os.path.join(data_root, 'VOCdevkit', 'VOC2012')
    for split, list_name in (('train', 'train'), ('eval', 'val')):
      yield (
        split,
        [
          (
            i,
            os.path.join(voc, 'JPEGImages', i + '.jpg'),
            os.path.join(voc, 'SegmentationClass', i + '.png'),
          )
          for i in _ids(voc, list_name)
        ],
      )
  elif fmt == 'masks':
    for split, folder in (('train', 'train'), ('eval', 'val')):
      names = sorted(os.listdir(os.path.join(data_root, folder, 'images')))
      yield (
        split,
        [
          (
            n,
            os.path.join(data_root, folder, 'images', n),
            os.path.join(
              data_root, folder, 'masks', n[: -len('.jpg')] + '.png'
            ),
          )
          for n in names
        ],
      )
  else:
    from pycocotools import coco  # pylint: disable=g-import-not-at-top

    for split, folder in (('train', 'train2017'), ('eval', 'val2017')):
      api = coco.COCO(
        os.path.join(data_root, 'annotations', f'instances_{folder}.json')
      )
      yield (
        split,
        [
          (
            info['file_name'],
            os.path.join(data_root, folder, info['file_name']),
            (api, image_id),
          )
          for image_id, info in api.imgs.items()
        ],
      )


def _naive_mask(mask_source) -> np.ndarray:
  if isinstance(mask_source, str):
    return np.asarray(Image.open(mask_source))
  api, image_id = mask_source
  info = api.imgs[image_id]
  mask = np.zeros((info['height'], info['width']), np.uint8)
  for ann in api.imgToAnns[image_id]:
    mask[api.annToMask(ann).astype(bool)] = ann['category_id']
  return mask


def naive_convert(fmt: str, data_root: str, output_dir: str) -> int:
  """The single-process loop every DeepLab user starts with."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  os.makedirs(output_dir, exist_ok=True)
  count = 0
  options = tf.io.TFRecordOptions(compression_type='GZIP')
  for split, pairs in _pairs(fmt, data_root):
    path = os.path.join(output_dir, f'{split}-00000-of-00001.tfrecord.gz')
    with tf.io.TFRecordWriter(path, options) as writer:
      for voc_id, image_path, mask_source in pairs:
        with open(image_path, 'rb') as f:
          image_bytes = f.read()
        image = Image.open(io.BytesIO(image_bytes))
        image.load()
        mask = _naive_mask(mask_source)
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


def timed(cmd, env):
  """(wall seconds, peak tree RSS bytes, stdout) of a subprocess."""
  result = process_tree.run(cmd, cwd=REPO, env=env, interval=0.1)
  if result.returncode:
    raise RuntimeError(f'{cmd} failed:\n{result.stderr[-3000:]}')
  return result.seconds, result.peak_rss, result.stdout


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument(
    '--format', default='voc', choices=('voc', 'masks', 'coco')
  )
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
    print(naive_convert(args.format, args.data_root, args.output_dir))
    return
  env = dict(os.environ, TF_USE_LEGACY_KERAS='1')
  n, half = args.num_images, args.num_images // 2
  start = time.perf_counter()
  full_root = make_dataset(os.path.join(args.work_dir, f'voc-{n}'), n)
  half_root = _half_dataset(
    full_root, os.path.join(args.work_dir, f'voc-{n}-half')
  )
  if args.format != 'voc':
    convert = as_masks if args.format == 'masks' else as_coco
    full_root = convert(
      full_root, os.path.join(args.work_dir, f'{args.format}-{n}')
    )
    half_root = convert(
      half_root, os.path.join(args.work_dir, f'{args.format}-{n}-half')
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
          '--format',
          args.format,
          '--data_root',
          data_root,
        ],
        'beam': [
          sys.executable,
          '-m',
          'data.convert',
          '--format',
          args.format,
          '--data_root',
          data_root,
        ]
        + (['--labels', 'voc'] if args.format == 'coco' else []),
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
        'format': args.format,
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
