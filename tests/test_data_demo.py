"""data.demo: deterministic, exact, and read by the real Supervisely reader."""

import filecmp
import io
import os

import numpy as np
from PIL import Image
import pytest

from data import config as data_config
from data import demo
from data import features
from data.readers import supervisely


def _files(root):
  return sorted(
    os.path.relpath(os.path.join(d, f), root)
    for d, _, names in os.walk(root)
    for f in names
  )


def test_same_seed_same_bytes_and_existing_project_is_reused(tmp_path):
  first = demo.generate_demo_project(str(tmp_path / 'a'), num_images=6)
  second = demo.generate_demo_project(str(tmp_path / 'b'), num_images=6)
  names = _files(first)
  assert names == _files(second)
  assert any(n.startswith('ds1/img/') for n in names)
  assert any(n.startswith('ds2/ann/') for n in names)
  match, mismatch, errors = filecmp.cmpfiles(
    first, second, names, shallow=False
  )
  assert not mismatch and not errors
  before = {n: os.stat(os.path.join(first, n)).st_mtime_ns for n in names}
  demo.generate_demo_project(first, num_images=6)
  assert before == {
    n: os.stat(os.path.join(first, n)).st_mtime_ns for n in names
  }


def test_other_seed_gives_other_images(tmp_path):
  a = demo.generate_demo_project(str(tmp_path / 'a'), num_images=2, seed=0)
  b = demo.generate_demo_project(str(tmp_path / 'b'), num_images=2, seed=1)
  images_a = [n for n in _files(a) if '/img/' in n]
  images_b = [n for n in _files(b) if '/img/' in n]
  assert len(images_a) == len(images_b) == 2
  for name_a, name_b in zip(images_a, images_b, strict=True):
    assert not filecmp.cmp(
      os.path.join(a, name_a), os.path.join(b, name_b), shallow=False
    )


def test_reader_recovers_the_painted_label_map_exactly():
  kinds = set()
  for index in range(12):
    rng = np.random.default_rng([0, index])
    image, annotation, _, label_map = demo.render_example(rng)
    height, width = image.shape[:2]
    mask, _ = supervisely.render_annotation(
      annotation,
      height,
      width,
      f'demo-{index}',
      {c['title']: c['shape'] for c in demo.META['classes']},
    )
    np.testing.assert_array_equal(mask, label_map)
    kinds |= {o['geometryType'] for o in annotation['objects']}
    assert 0.02 < (label_map == 1).mean() < 0.9
  assert kinds == {'bitmap', 'polygon'}


def test_generated_project_goes_through_the_reader(tmp_path, features_of):
  root = demo.generate_demo_project(str(tmp_path), num_images=4)
  project = supervisely.find_project(root)
  reader = supervisely.SuperviselySource(
    project, data_config.build('people', project)
  )
  items = supervisely.list_items(project)
  assert len(items) == 4
  for item in items:
    example, _ = reader.read(item)
    feature = features_of(example)
    with open(item.image_path, 'rb') as f:
      assert feature[features.IMAGE_ENCODED].bytes_list.value[0] == f.read()
    mask = np.asarray(
      Image.open(io.BytesIO(feature[features.MASK_ENCODED].bytes_list.value[0]))
    )
    assert set(np.unique(mask)) <= {0, 1, 255} and (mask == 1).any()


def test_background_styles_make_another_setting(tmp_path):
  default = demo.generate_demo_project(str(tmp_path / 'a'), num_images=3)
  checks = demo.generate_demo_project(
    str(tmp_path / 'b'), num_images=3, backgrounds=('checks',)
  )
  with open(os.path.join(default, demo.MANIFEST)) as f:
    assert 'backgrounds' not in f.read()  # Old demo projects stay valid.
  with open(os.path.join(checks, demo.MANIFEST)) as f:
    assert '"backgrounds": ["checks"]' in f.read()
  images = [
    [os.path.join(root, n) for n in _files(root) if '/img/' in n]
    for root in (default, checks)
  ]
  for a, b in zip(*images, strict=True):
    assert not filecmp.cmp(a, b, shallow=False)
  with pytest.raises(ValueError, match=r"backgrounds=\('sky',\): need"):
    demo.generate_demo_project(str(tmp_path / 'c'), 3, backgrounds=('sky',))
