"""TensorFlow's bilinear resizes of components.preprocessing, in numpy.

`resize_image` and `class_ids_at` compute what `preprocessing.resize_image`
and `preprocessing.class_ids_at` compute (tf.image.resize, bilinear, half-pixel
centres, no antialiasing), step for step in float32, so that a process can
segment photos with a .tflite file without importing TensorFlow: a Beam
worker of the batch job then holds about 0.1 GB instead of 0.6 GB
(docs/beam.md). The tests compare both with TensorFlow's on many sizes.

The class ids are computed in strips of rows, a class at a time: the
probabilities of a 12-megapixel photo, upsampled at once, would take
C x 48 MB.
"""

from typing import Tuple

import numpy as np

# Output pixels (rows x width) per strip of `class_ids_at`.
_STRIP_ELEMENTS = 1 << 20


def _weights(
  in_size: int, out_size: int
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(lower index, upper index, weight of the upper) per output position.

  As TensorFlow's ResizeBilinear with half-pixel centres computes them, in
  float32: source = (i + 0.5) * in/out - 0.5, clamped to the image.
  """
  scale = np.float32(in_size) / np.float32(out_size)
  source = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale
  source -= np.float32(0.5)
  floor = np.floor(source)
  lower = np.maximum(floor, 0).astype(np.intp)
  upper = np.minimum(np.ceil(source), in_size - 1).astype(np.intp)
  return lower, upper, (source - floor).astype(np.float32)


def _resize_plane(
  plane: np.ndarray,
  rows: Tuple[np.ndarray, np.ndarray, np.ndarray],
  columns: Tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
  """float32 [len(rows), len(columns)] of one channel `plane` [H, W]."""
  top_row, bottom_row, row_weight = rows
  left, right, column_weight = columns

  def across(row: np.ndarray) -> np.ndarray:
    # In place, each step rounded to float32 as TensorFlow's
    # left + (right - left) * weight is.
    pixels = np.take(plane, row, axis=0)
    pixels_left = np.take(pixels, left, axis=1).astype(np.float32, copy=False)
    lerped = np.take(pixels, right, axis=1).astype(np.float32, copy=False)
    lerped -= pixels_left
    lerped *= column_weight
    lerped += pixels_left
    return lerped

  top = across(top_row)
  lerped = across(bottom_row)
  lerped -= top
  lerped *= row_weight[:, None]
  lerped += top
  return lerped


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [H, W, 3] -> uint8 [size, size, 3], as the Transform graph does."""
  height, width = image.shape[:2]
  rows, columns = _weights(height, size), _weights(width, size)
  resized = np.stack(
    [
      _resize_plane(image[:, :, channel], rows, columns)
      for channel in range(image.shape[2])
    ],
    axis=-1,
  )
  return np.round(np.clip(resized, 0.0, 255.0)).astype(np.uint8)


def class_ids_at(probabilities: np.ndarray, height: int, width: int):
  """float [S, S, C] -> int32 class ids [height, width]: the argmax of the
  probabilities upsampled bilinearly (preprocessing.class_ids_at).

  Channel by channel, keeping the best score so far: numpy's argmax along a
  short last axis costs more than the upsampling itself. A later class
  wins only with a strictly higher score, so ties go to the first class,
  as with an argmax.
  """
  in_height, in_width, classes = probabilities.shape
  planes = np.moveaxis(probabilities, -1, 0)
  rows = _weights(in_height, height)
  columns = _weights(in_width, width)
  ids = np.empty((height, width), np.int32)
  strip = max(1, _STRIP_ELEMENTS // width)
  for start in range(0, height, strip):
    part = tuple(weights[start : start + strip] for weights in rows)
    best = _resize_plane(planes[0], part, columns)
    strip_ids = np.zeros(best.shape, np.int32)
    for class_id in range(1, classes):
      score = _resize_plane(planes[class_id], part, columns)
      higher = score > best
      strip_ids[higher] = class_id
      np.maximum(best, score, out=best)
    ids[start : start + strip] = strip_ids
  return ids
