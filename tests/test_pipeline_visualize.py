"""pipeline.visualize: VOC colours, overlays that leave background alone."""

import numpy as np

from pipeline import visualize
from tests.fixtures import voc_replica


def test_voc_colour_map():
  colors = visualize.class_colors(21)
  assert tuple(colors[0]) == (0, 0, 0)
  assert tuple(colors[1]) == (128, 0, 0)
  assert tuple(colors[2]) == (0, 128, 0)
  assert tuple(colors[15]) == (192, 128, 128)  # VOC person
  assert len({tuple(c) for c in colors}) == 21
  # Against the devkit port the VOC test fixtures use.
  np.testing.assert_array_equal(
    visualize.class_colors(256), voc_replica.voc_colormap()
  )


def test_overlay_tints_classes_and_keeps_background_pixels():
  image = np.full((4, 5, 3), 100, np.uint8)
  mask = np.zeros((4, 5), np.uint8)
  mask[1, 1] = 1
  mask[2, 2] = 255
  out = visualize.overlay(image, mask, 2, alpha=0.5)
  assert (out[0, 0] == 100).all()
  np.testing.assert_array_equal(out[1, 1], [114, 50, 50])  # 100/2 + 128/2
  np.testing.assert_array_equal(out[2, 2], [178, 178, 178])  # white: ignored


def test_grid_and_chart_sizes():
  rows = [[np.zeros((10, 20, 3), np.uint8)] * 3] * 2
  picture = visualize.grid(rows, ['a', 'b', 'c'], cell=30)
  assert picture.size == (3 * 60, 18 + 2 * 30)
  chart = visualize.bar_chart([('x', 0.5), ('y', None)])
  assert chart.size[1] == 2 * 18 + 6
