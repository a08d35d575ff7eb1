"""Segments image files with a trained model and writes mask overlays.

  python -m pipeline.predict --model=runs/demo/serving/<version> \\
      --output_dir=/tmp/masks photo1.jpg photo2.png

--model is a SavedModel folder (a pushed version, or the Trainer's
Format-Serving folder) or a .tflite file (model.tflite, model_int8.tflite).
For each image it writes <name>_overlay.png (the photo with classes tinted)
and <name>_mask.png (class ids as pixel values, at the photo's size).
"""

import os
from typing import List, Sequence

from data import cli_env

cli_env.quiet_unless_verbose()

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
import numpy as np
from PIL import Image

from components import inference
from data import guard
from data import images
from data import problems
from pipeline import console
from pipeline import visualize

FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Defined only when this module runs as a program, so that importing it
  (tests) leaves the importer's flags alone."""
  flags.DEFINE_string('model', None, 'SavedModel folder or .tflite file.')
  flags.DEFINE_string('output_dir', None, 'Where the PNGs go.')
  flags.DEFINE_bool('verbose', False, cli_env.VERBOSE_HELP)
  flags.DEFINE_integer(
    'max_image_pixels',
    images.DEFAULT_MAX_IMAGE_PIXELS,
    'Refuse photos with more pixels, before decoding them; 1 to 2^31.',
  )


def read_photo(path: str, max_pixels: int) -> np.ndarray:
  """uint8 RGB [H, W, 3] of an image file; ValueError naming it otherwise.

  Only regular files are opened (a FIFO would block); data.images.read_photo
  checks the size before decoding and applies the EXIF orientation.
  """
  return images.read_photo(
    guard.read_regular_file(path, problems.MISSING_IMAGE), path, max_pixels
  )


def output_stems(paths: Sequence[str]) -> List[str]:
  """One output name per input, distinct even when file names repeat.

  `a/photo.jpg` and `b/photo.png` would both write photo_*.png; the second
  (in argument order) gets photo-2, the third photo-3, and so on.
  """
  stems, used = [], set()
  for path in paths:
    stem = os.path.splitext(os.path.basename(path))[0]
    candidate, number = stem, 1
    while candidate in used:
      number += 1
      candidate = f'{stem}-{number}'
    used.add(candidate)
    stems.append(candidate)
  return stems


def predict_files(
  segment: inference.Segmenter,
  labels: List[str],
  paths: List[str],
  output_dir: str,
  max_pixels: int = images.DEFAULT_MAX_IMAGE_PIXELS,
) -> List[str]:
  """Writes overlay and mask PNGs for each image; returns the paths."""
  os.makedirs(output_dir, exist_ok=True)
  written = []
  for path, stem in zip(paths, output_stems(paths), strict=True):
    image = read_photo(path, max_pixels)
    class_ids = segment(image).astype(np.uint8)
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
    for path in predict_files(
      segment, labels, argv[1:], FLAGS.output_dir, FLAGS.max_image_pixels
    ):
      console.say(path)
  except (ValueError, OSError) as e:
    return console.fail(str(e))
  return 0


if __name__ == '__main__':
  _define_flags()
  app.run(main, flags_parser=console.parse_flags_or_exit)
