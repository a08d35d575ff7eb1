"""Boundary IoU (Cheng et al., CVPR 2021), counted per class and image.

Region IoU hardly moves when an outline is wrong, because a mask's interior
dominates its area. Boundary IoU scores only the pixels near each mask's
contour. As the paper's reference code (`boundary_iou/utils/
boundary_utils.py`, `mask_to_boundary`) defines it, for one image:

- d = max(1, round(0.02 x the image diagonal)): the paper's 2% dilation
  ratio (Section 4, chosen there for COCO-sized images);
- a mask's boundary is the mask minus its erosion by a 3x3 kernel applied d
  times, the mask padded with one pixel of 0 first, so the image border
  counts as boundary;
- for class c, G = (label == c) and P = (prediction == c); the intersection
  and the union of their boundaries are counted over the pixels whose label
  is not the ignore label.

model.metrics sums these counts over a split, as it does the confusion
matrix, and scores them once.
"""

import math

import numpy as np
from scipy import ndimage

from data import features

# The paper's dilation ratio: the boundary band is 2% of the diagonal.
DILATION_RATIO = 0.02


def boundary_width(height: int, width: int) -> int:
  """d, the band's width in pixels, as the reference code rounds it."""
  return max(1, int(round(DILATION_RATIO * math.hypot(height, width))))


def mask_boundary(mask: np.ndarray, width: int) -> np.ndarray:
  """The pixels of a bool mask within `width` pixels of its contour.

  Eroding d times with a 3x3 kernel, outside the image counted as 0, is
  one erosion by a (2d+1)x(2d+1) square, which scipy computes in two
  separable passes.
  """
  mask = np.asarray(mask, bool)
  eroded = ndimage.minimum_filter(
    mask.astype(np.uint8), size=2 * width + 1, mode='constant', cval=0
  )
  return mask & ~eroded.astype(bool)


def boundary_counts(
  labels: np.ndarray, predictions: np.ndarray, num_classes: int
) -> np.ndarray:
  """[2, num_classes]: boundary intersections (row 0) and unions (row 1).

  Ignore-label pixels are left out of both boundaries. A class in neither
  mask has empty boundaries and is skipped.
  """
  labels = np.asarray(labels)
  predictions = np.asarray(predictions)
  if labels.shape != predictions.shape or labels.ndim != 2:
    raise ValueError(
      f'boundary IoU needs two masks of one 2-D shape; got labels '
      f'{labels.shape} and predictions {predictions.shape}'
    )
  width = boundary_width(*labels.shape)
  valid = labels != features.IGNORE_LABEL
  counts = np.zeros((2, num_classes), np.int64)
  present = np.union1d(np.unique(labels[valid]), np.unique(predictions))
  for c in present[present < num_classes]:
    # G holds no ignore-label pixel, so only P's boundary needs masking.
    label_edge = mask_boundary(labels == c, width)
    prediction_edge = mask_boundary(predictions == c, width) & valid
    counts[0, c] = np.count_nonzero(label_edge & prediction_edge)
    counts[1, c] = np.count_nonzero(label_edge | prediction_edge)
  return counts
