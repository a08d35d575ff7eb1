"""Pictures of masks: class colours, overlays, side-by-side grids."""

from typing import List, Sequence

import numpy as np
from PIL import Image
from PIL import ImageDraw

from data import features

_IGNORE_COLOR = (255, 255, 255)
_STRIP_ROWS = 256


def class_colors(num_classes: int) -> np.ndarray:
  """The PASCAL VOC colour map (devkit's bit-interleaving), [C, 3] uint8.

  Class 1 (person in the people datasets) is dark red, 15 (VOC's person)
  pink; VOC users recognise the colours of their masks.
  """
  colors = np.zeros((num_classes, 3), np.uint8)
  for class_id in range(num_classes):
    value, shift = class_id, 7
    while value:
      for channel in range(3):
        colors[class_id, channel] |= ((value >> channel) & 1) << shift
      value >>= 3
      shift -= 1
  return colors


def colorize(mask: np.ndarray, num_classes: int) -> np.ndarray:
  """uint8 [H, W] class ids (255 = ignore, white) -> RGB [H, W, 3]."""
  colors = class_colors(num_classes)
  rgb = colors[np.minimum(mask, num_classes - 1)]
  rgb[mask == features.IGNORE_LABEL] = _IGNORE_COLOR
  return rgb


def overlay(
  image: np.ndarray, mask: np.ndarray, num_classes: int, alpha: float = 0.55
) -> np.ndarray:
  """The image with every non-background class tinted in its colour.

  Blended in strips of rows: a 12-megapixel photo then needs a few MB of
  floats at a time rather than 0.5 GB (batch prediction's --overlays).
  """
  out = np.empty_like(image)
  for top in range(0, image.shape[0], _STRIP_ROWS):
    rows = slice(top, top + _STRIP_ROWS)
    tinted = colorize(mask[rows], num_classes).astype(np.float32)
    strip = image[rows].astype(np.float32)
    blend = strip * (1 - alpha) + tinted * alpha
    out[rows] = (
      np.where((mask[rows] != 0)[..., None], blend, strip)
      .round()
      .astype(np.uint8)
    )
  return out


def grid(
  rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str], cell: int = 160
) -> Image.Image:
  """Images scaled to `cell` px high, one row per list, titled columns."""
  header = 18
  scaled = [[_fit(image, cell) for image in row] for row in rows]
  widths = [
    max(image.width for image in column) for column in zip(*scaled, strict=True)
  ]
  canvas = Image.new('RGB', (sum(widths), header + cell * len(rows)), 'white')
  draw = ImageDraw.Draw(canvas)
  x = 0
  for width, title in zip(widths, titles, strict=True):
    draw.text((x + 4, 3), title, fill='black')
    x += width
  for r, row in enumerate(scaled):
    x = 0
    for width, image in zip(widths, row, strict=True):
      canvas.paste(image, (x, header + r * cell))
      x += width
  return canvas


def bar_chart(values: List[tuple], width: int = 480) -> Image.Image:
  """Horizontal bars of (name, value in [0, 1] or None); None is 'n/a'."""
  row, label_width = 18, 130
  canvas = Image.new('RGB', (width, row * len(values) + 6), 'white')
  draw = ImageDraw.Draw(canvas)
  for i, (name, value) in enumerate(values):
    y = 3 + i * row
    draw.text((4, y + 2), name[:20], fill='black')
    if value is None:
      draw.text((label_width, y + 2), 'n/a (absent)', fill='gray')
      continue
    length = int((width - label_width - 60) * value)
    draw.rectangle(
      [label_width, y + 2, label_width + length, y + row - 3],
      fill=(40, 110, 190),
    )
    draw.text((label_width + length + 6, y + 2), f'{value:.3f}', fill='black')
  return canvas


def _fit(image: np.ndarray, height: int) -> Image.Image:
  picture = Image.fromarray(image)
  width = max(1, round(picture.width * height / picture.height))
  return picture.resize((width, height), Image.NEAREST)
