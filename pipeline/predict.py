"""Segments image files with a trained model and writes mask overlays.

  python -m pipeline.predict --model=runs/demo/serving/<version> \\
      --output_dir=/tmp/masks photo1.jpg photo2.png

--model is a SavedModel folder (a pushed version, or the Trainer's
Format-Serving folder) or a .tflite file (model.tflite, model_int8.tflite).
For each image it writes <name>_overlay.png (the photo with classes tinted)
and <name>_mask.png (class ids as pixel values, at the photo's size).
"""

import os
from typing import List

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
import numpy as np
from PIL import Image

from pipeline import console
from pipeline import inference
from pipeline import visualize

FLAGS = flags.FLAGS
flags.DEFINE_string('model', None, 'SavedModel folder or .tflite file.')
flags.DEFINE_string('output_dir', None, 'Where the PNGs go.')


def predict_files(
  segment: inference.Segmenter,
  labels: List[str],
  paths: List[str],
  output_dir: str,
) -> List[str]:
  """Writes overlay and mask PNGs for each image; returns the paths."""
  os.makedirs(output_dir, exist_ok=True)
  written = []
  for path in paths:
    try:
      image = np.asarray(Image.open(path).convert('RGB'))
    except OSError as e:
      raise ValueError(f'{path}: not a readable image: {e}') from e
    class_ids = segment(image).astype(np.uint8)
    stem = os.path.splitext(os.path.basename(path))[0]
    overlay_path = os.path.join(output_dir, f'{stem}_overlay.png')
    mask_path = os.path.join(output_dir, f'{stem}_mask.png')
    Image.fromarray(visualize.overlay(image, class_ids, len(labels))).save(
      overlay_path
    )
    Image.fromarray(class_ids, mode='L').save(mask_path)
    written += [overlay_path, mask_path]
  return written


def main(argv) -> int:
  if not FLAGS.model or not FLAGS.output_dir or len(argv) < 2:
    return console.fail(
      'usage: python -m pipeline.predict --model=PATH '
      '--output_dir=DIR IMAGE [IMAGE ...]'
    )
  try:
    segment, labels = inference.load_segmenter(FLAGS.model)
    for path in predict_files(segment, labels, argv[1:], FLAGS.output_dir):
      console.say(path)
  except (ValueError, OSError) as e:
    return console.fail(str(e))
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=console.parse_flags_or_exit)
