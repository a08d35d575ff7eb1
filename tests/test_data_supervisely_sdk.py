"""data.supervisely against the official SDK, pixel for pixel.

tests/fixtures/supervisely_sdk was written by
tests/fixtures/make_supervisely_sdk_fixtures.py with the `supervisely` SDK
(versions in VERSIONS.json): a project whose annotations hold random
polygons (self-intersecting, with holes, partly outside the image), bitmaps
and neutral regions, and the masks the SDK itself draws after loading each
annotation file. The SDK is not needed here.
"""

import json
import os

import numpy as np
from PIL import Image
import pytest

from data import problems
from data import supervisely
from tests.fixtures import parsed

ROOT = os.path.join(os.path.dirname(__file__), 'fixtures', 'supervisely_sdk')
PROJECT = os.path.join(ROOT, 'project')
ITEMS = supervisely.list_items(PROJECT)


def _has_outside_polygon(ann_path):
  with open(ann_path) as f:
    ann = json.load(f)
  height, width = ann['size']['height'], ann['size']['width']
  return any(
      o['geometryType'] == 'polygon' and any(
          not (0 <= x < width and 0 <= y < height)
          for x, y in o['points']['exterior'])
      for o in ann['objects'])


def test_fixture_covers_the_hard_cases():
  assert len(ITEMS) == 24
  kinds = {'polygon': 0, 'bitmap': 0, 'hole': 0, 'neutral': 0}
  for item in ITEMS:
    with open(item.ann_path) as f:
      for obj in json.load(f)['objects']:
        kinds[obj['geometryType']] += 1
        kinds['hole'] += bool(obj.get('points', {}).get('interior'))
        kinds['neutral'] += obj['classTitle'] == 'neutral'
  assert min(kinds.values()) >= 2, kinds
  outside = sum(_has_outside_polygon(i.ann_path) for i in ITEMS)
  assert 5 <= outside < len(ITEMS)


@pytest.mark.parametrize('item', ITEMS, ids=lambda i: i.filename)
def test_mask_equals_the_sdk_drawing(item):
  if _has_outside_polygon(item.ann_path):
    # The SDK crops such polygons with shapely before drawing them.
    pytest.importorskip('shapely')
  example, notes = supervisely.read_example(
      item, supervisely.read_shapes(PROJECT))
  got = parsed.mask_of(example)
  expected = np.asarray(Image.open(
      os.path.join(ROOT, 'masks', item.dataset, item.image_name)))
  np.testing.assert_array_equal(got, expected)
  assert bool(notes.get(problems.CLIPPED_POLYGON)) == _has_outside_polygon(
      item.ann_path)
