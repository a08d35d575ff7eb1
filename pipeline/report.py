"""The run's evaluation report: one PNG a person can look at.

Top: mean IoU of the SavedModel and of both TFLite files, and a bar per
class. Below: eval images in rows of input | ground truth | prediction,
predicted by the trained SavedModel at the images' original size.
"""

import itertools
import os
from typing import Dict

import numpy as np
from PIL import Image
from PIL import ImageDraw

from components import example_io
from components import inference
from data import features
from pipeline import visualize

REPORT_FILE = 'report.png'


def write_report(summary: Dict, output_dir: str, num_images: int = 6) -> str:
  """Writes <output_dir>/report.png from a run summary; returns its path."""
  segment, labels = inference.load_segmenter(summary['saved_model'])
  rows = []
  examples = example_io.split_examples(summary['examples'], features.EVAL_SPLIT)
  for example in itertools.islice(examples, num_images):
    image, mask = example_io.image_of(example), example_io.mask_of(example)
    prediction = segment(image).astype(np.uint8)
    rows.append(
      [
        image,
        visualize.overlay(image, mask, len(labels)),
        visualize.overlay(image, prediction, len(labels)),
      ]
    )
  pictures = [_headline(summary)]
  scores = summary['metrics']
  if scores:
    pictures.append(
      visualize.bar_chart(
        [('mean IoU', scores['mean_iou'])]
        + list(scores['per_class_iou'].items())
      )
    )
  if rows:
    pictures.append(
      visualize.grid(
        rows, ['input', 'ground truth (white: ignored)', 'prediction']
      )
    )
  path = os.path.join(output_dir, REPORT_FILE)
  _stack(pictures).save(path)
  return path


def _headline(summary: Dict) -> Image.Image:
  lines = [
    f'{summary["dataset"]}: eval split, {summary["input_size"]}px '
    'model, scored at original resolution'
  ]
  if summary['metrics']:
    lines.append(f'SavedModel mean IoU {summary["metrics"]["mean_iou"]:.4f}')
  for kind, scores in summary['metrics_tflite'].items():
    if scores:
      lines.append(f'TFLite {kind} mean IoU {scores["mean_iou"]:.4f}')
  picture = Image.new('RGB', (480, 8 + 16 * len(lines)), 'white')
  draw = ImageDraw.Draw(picture)
  for i, line in enumerate(lines):
    draw.text((4, 4 + 16 * i), line, fill='black')
  return picture


def _stack(pictures) -> Image.Image:
  canvas = Image.new(
    'RGB',
    (max(p.width for p in pictures), sum(p.height for p in pictures)),
    'white',
  )
  y = 0
  for picture in pictures:
    canvas.paste(picture, (0, y))
    y += picture.height
  return canvas
