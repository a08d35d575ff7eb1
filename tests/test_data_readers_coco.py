"""data.readers.coco: COCO instances -> semantic masks, checked against the
COCO API (pycocotools) pixel for pixel, and hostile files refused by name."""

import copy
import io
import json
import os

import numpy as np
from PIL import Image
from pycocotools import coco as coco_api
from pycocotools import mask as coco_mask
import pytest

from data import config as data_config
from data import convert
from data import features
from data import labels
from data import problems
from data.readers import coco
from tests.fixtures import layouts

_IN_MEMORY = ['--direct_running_mode=in_memory']
CATEGORIES = [
  {'id': 1, 'name': 'person', 'supercategory': 'person'},
  {'id': 3, 'name': 'car', 'supercategory': 'vehicle'},
  {'id': 18, 'name': 'dog', 'supercategory': 'animal'},
  {'id': 5, 'name': 'airplane', 'supercategory': 'vehicle'},
  {'id': 63, 'name': 'couch', 'supercategory': 'furniture'},
]


def _png(height, width, seed):
  rng = np.random.default_rng(seed)
  out = io.BytesIO()
  Image.fromarray(rng.integers(0, 255, (height, width, 3), np.uint8)).save(
    out, 'PNG'
  )
  return out.getvalue()


def _polygon(rng, height, width, parts=1):
  shapes = []
  for _ in range(parts):
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 9))))
    radius = rng.uniform(2, max(height, width) / 2, angles.size)
    shapes.append(
      np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
      .ravel()
      .round(2)
      .tolist()
    )
  return shapes


def _rle(rng, height, width, compressed, corner=False):
  mask = np.zeros((height, width), np.uint8)
  top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
  if corner:  # Foreground from the first pixel: counts start with 0.
    top, left = 0, 0
  mask[top : top + height // 2, left : left + width // 2] = 1
  encoded = coco_mask.encode(np.asfortranarray(mask))
  if compressed:
    return {'size': [height, width], 'counts': encoded['counts'].decode()}
  flat = mask.ravel(order='F')
  changes = np.flatnonzero(np.diff(flat)) + 1
  counts = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
  if flat[0]:
    counts = [0] + counts
  return {'size': [height, width], 'counts': counts}


def write_coco(root, split='val2017', images=6, seed=0, edit=None):
  """A COCO folder: images of several instances each (polygons of one and
  several parts, compressed and uncompressed RLE, one or two crowds,
  overlaps of one class and of two, an image without annotations,
  annotations without bbox or area). Returns the annotation file's path."""
  rng = np.random.default_rng(seed)
  os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
  os.makedirs(os.path.join(root, split), exist_ok=True)
  data = {'images': [], 'annotations': [], 'categories': CATEGORIES}
  ann_id = 100
  for index in range(images):
    height, width = int(rng.integers(20, 48)), int(rng.integers(20, 48))
    name = f'{index:012d}.png'
    with open(os.path.join(root, split, name), 'wb') as f:
      f.write(_png(height, width, index))
    image_id = 1000 + index
    data['images'].append(
      {'id': image_id, 'file_name': name, 'height': height, 'width': width}
    )
    if index == images - 1:
      continue  # No annotation: all background.
    for k in range(int(rng.integers(2, 7))):
      category = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]['id']
      crowd = int(k in (0, 2) and index % 2 == 0)
      if crowd or k == 1:
        segmentation = _rle(
          rng, height, width, bool(index % 3), corner=index == 0 and k == 1
        )
      else:
        segmentation = _polygon(rng, height, width, parts=1 + k % 2)
      ann = {
        'id': ann_id,
        'image_id': image_id,
        'category_id': category,
        'iscrowd': crowd,
        'segmentation': segmentation,
      }
      if k % 2:
        ann.update(area=1.0, bbox=[0, 0, 1, 1])
      data['annotations'].append(ann)
      ann_id += 1
  if edit:
    edit(data)
  path = os.path.join(root, 'annotations', f'instances_{split}.json')
  with open(path, 'w') as f:
    json.dump(data, f)
  return path


def reference_mask(api, image_id, class_of):
  """The documented rule, computed from pycocotools' own instance masks."""
  info = api.imgs[image_id]
  shape = (info['height'], info['width'])
  painted = {}
  crowd = np.zeros(shape, bool)
  for ann in api.imgToAnns[image_id]:
    class_id = class_of.get(api.cats[ann['category_id']]['name'], 0)
    if not class_id:
      continue
    pixels = api.annToMask(ann).astype(bool)
    if ann['iscrowd']:
      crowd |= pixels
    else:
      painted[class_id] = painted.get(class_id, np.zeros(shape, bool)) | pixels
  count = sum(m.astype(int) for m in painted.values()) if painted else 0
  mask = np.zeros(shape, np.uint8)
  for class_id, pixels in painted.items():
    mask[pixels] = class_id
  mask[np.asarray(count) > 1] = 255
  mask[crowd & (np.asarray(count) == 0)] = 255
  return mask


def _read_all(root, names, **fields):
  config = data_config.DataConfig('coco', root, names, **fields)
  layout = coco.layout(config)
  source = coco.CocoSource(layout.input_base, config)
  out = {}
  for split, pattern in layout.input_splits:
    keys, _ = source.list_keys(pattern)
    for key in keys:
      result = next(source.read_all(key))
      out.setdefault(split, []).append(result)
  return out


@pytest.fixture
def coco_root(tmp_path):
  root = str(tmp_path / 'coco')
  write_coco(root, 'train2017', images=8, seed=1)
  write_coco(root, 'val2017', images=6, seed=2)
  return root


@pytest.mark.parametrize(
  'names,class_of',
  [
    (labels.PEOPLE_CLASSES, {'person': 1}),
    # COCO-to-VOC: airplane -> aeroplane, couch -> sofa, equal names kept.
    (
      labels.VOC_CLASSES,
      {
        'person': labels.VOC_CLASSES.index('person'),
        'car': labels.VOC_CLASSES.index('car'),
        'dog': labels.VOC_CLASSES.index('dog'),
        'airplane': labels.VOC_CLASSES.index('aeroplane'),
        'couch': labels.VOC_CLASSES.index('sofa'),
      },
    ),
    (('background', 'car', 'dog'), {'car': 1, 'dog': 2}),
    # COCO's own names: mapped to VOC's only for the VOC label set.
    (('background', 'airplane', 'couch'), {'airplane': 1, 'couch': 2}),
  ],
)
def test_every_mask_matches_the_rule_on_pycocotools_masks(
  coco_root, names, class_of
):
  read = _read_all(coco_root, names)
  assert sorted(read) == ['eval', 'train']
  checked = 0
  for split, folder in (('train', 'train2017'), ('eval', 'val2017')):
    path = os.path.join(coco_root, 'annotations', f'instances_{folder}.json')
    api = coco_api.COCO(path)
    by_name = {}
    for example, notes in read[split]:
      assert notes == {}
      by_name[example.filename] = example
      assert example.source == folder
    assert len(by_name) == len(api.imgs)  # Every image is an example.
    for image_id, info in api.imgs.items():
      example = by_name[f'{folder}/{info["file_name"]}']
      got = np.asarray(Image.open(io.BytesIO(example.mask_png)))
      expected = reference_mask(api, image_id, class_of)
      np.testing.assert_array_equal(got, expected, err_msg=str(image_id))
      checked += 1
  assert checked == 14


def test_the_fixture_holds_every_case_the_rule_names(coco_root):
  """Overlaps of two classes, crowd-only pixels, two crowds on an image and
  an empty image occur."""
  api = coco_api.COCO(
    os.path.join(coco_root, 'annotations', 'instances_train2017.json')
  )
  masks = [
    reference_mask(api, i, {'person': 1, 'car': 2, 'dog': 3, 'couch': 4})
    for i in api.imgs
  ]
  assert any((m == 255).any() for m in masks)
  assert sum(not m.any() for m in masks) >= 1
  # Two crowds on one image, each with pixels of its own: their union is
  # ignored, not the last one alone nor their intersection.
  crowds = {}
  for ann in api.anns.values():
    if ann['iscrowd']:
      crowds.setdefault(ann['image_id'], []).append(api.annToMask(ann) > 0)
  assert any(
    len(c) == 2 and (c[0] & ~c[1]).any() and (c[1] & ~c[0]).any()
    for c in crowds.values()
  )
  kinds = {
    type(a['segmentation']).__name__
    + (
      type(a['segmentation']['counts']).__name__
      if isinstance(a['segmentation'], dict)
      else ''
    )
    for a in api.anns.values()
  }
  assert kinds == {'list', 'dictstr', 'dictlist'}
  assert any(
    isinstance(a['segmentation'], dict) and a['segmentation']['counts'][0] == 0
    for a in api.anns.values()
  )


def test_class_map_merges_categories(coco_root):
  read = _read_all(
    coco_root,
    labels.PEOPLE_CLASSES,
    class_map=(('dog', 'person'), ('car', 'person')),
  )
  api = coco_api.COCO(
    os.path.join(coco_root, 'annotations', 'instances_val2017.json')
  )
  for example, _ in read['eval']:
    image_id = int(os.path.splitext(example.filename.split('/')[1])[0]) + 1000
    expected = reference_mask(api, image_id, {'person': 1, 'dog': 1, 'car': 1})
    got = np.asarray(Image.open(io.BytesIO(example.mask_png)))
    np.testing.assert_array_equal(got, expected)


def test_convert_writes_coco_records_with_the_slicing_features(
  coco_root, tmp_path
):
  out = str(tmp_path / 'out')
  report = convert.convert(
    data_config.build('coco', coco_root, labels='people'),
    out,
    beam_args=_IN_MEMORY,
  )
  assert report['output_splits'] == {'train': 8, 'eval': 6}
  assert report['in'] == report['written'] == 14
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  records = [
    tf.train.Example.FromString(r.numpy())
    for r in tf.data.TFRecordDataset(
      tf.io.gfile.glob(os.path.join(out, 'eval-*')), compression_type='GZIP'
    )
  ]
  assert len(records) == 6
  for record in records:
    feature = record.features.feature
    assert feature[features.SOURCE_KEY].bytes_list.value == [b'val2017']
    mask = tf.io.decode_png(
      feature[features.MASK_ENCODED].bytes_list.value[0]
    ).numpy()[..., 0]
    labelled = mask != 255
    fraction = (
      float(np.count_nonzero(mask[labelled])) / labelled.sum()
      if labelled.any()
      else 0.0
    )
    (got,) = feature[features.FOREGROUND_FRACTION_KEY].float_list.value
    assert got == pytest.approx(fraction, abs=1e-6)
    assert feature[features.FOREGROUND_BUCKET_KEY].bytes_list.value == [
      features.foreground_bucket(got).encode()
    ]


def test_layout_needs_one_file_per_split_and_its_images(tmp_path):
  root = str(tmp_path)
  write_coco(root, 'val2017', images=2)
  config = data_config.DataConfig('coco', root, labels.PEOPLE_CLASSES)
  with pytest.raises(FileNotFoundError, match='instances_train'):
    coco.layout(config)
  write_coco(root, 'train2017', images=2)
  os.rename(os.path.join(root, 'train2017'), os.path.join(root, 'other'))
  with pytest.raises(FileNotFoundError, match='needs its images in train2017/'):
    coco.layout(config)


def test_every_file_of_the_dataset_is_in_the_fingerprint(tmp_path):
  # ExampleGen runs again when one of them changes (components.example_gen).
  root = str(tmp_path)
  write_coco(root, 'train2017', images=2)
  write_coco(root, 'val2017', images=2)
  config = data_config.DataConfig('coco', root, labels.PEOPLE_CLASSES)
  assert layouts.unfingerprinted_files(coco.layout(config)) == set()


# Hostile annotation files: each edit breaks one image (or the file), and the
# problem names the file and, where there is one, the annotation id.
def _first_ann(data):
  return next(a for a in data['annotations'] if a['image_id'] == 1000)


def _set(**values):
  def edit(data):
    _first_ann(data).update(values)

  return edit


def _image_sized_rle(counts):
  """An edit giving the first annotation an RLE of its image's size."""

  def edit(data):
    image = data['images'][0]
    _first_ann(data).update(
      segmentation={'size': [image['height'], image['width']], 'counts': counts}
    )

  return edit


HOSTILE = [
  (
    'rle_runs',
    _set(segmentation={'size': None, 'counts': [1, 2]}),
    problems.WRONG_TYPE,
    'annotation id 100',
  ),
  (
    'rle_sum',
    _image_sized_rle([3, 4]),
    problems.BAD_ANNOTATION,
    'RLE runs sum to 7 pixels',
  ),
  (
    'rle_string',
    _image_sized_rle('not rle {}'),
    problems.BAD_ANNOTATION,
    'outside the 64',
  ),
  (
    'polygon_nan',
    _set(segmentation=[[1, 1, float('nan'), 5, 9, 9]]),
    problems.NON_FINITE,
    'annotation id 100: segmentation[0][2] is nan',
  ),
  (
    'polygon_inf',
    _set(segmentation=[[1, 1, 1e400, 5, 9, 9]]),
    problems.NON_FINITE,
    'is inf',
  ),
  (
    'polygon_two_points',
    _set(segmentation=[[1, 1, 5, 5]]),
    problems.BAD_ANNOTATION,
    'has 2 point(s); a polygon needs 3',
  ),
  (
    'polygon_type',
    _set(segmentation=[['1', 1, 5, 5, 9, 9]]),
    problems.WRONG_TYPE,
    'segmentation[0][0] is a string',
  ),
  ('iscrowd', _set(iscrowd='yes'), problems.WRONG_TYPE, "iscrowd is 'yes'"),
  (
    'segmentation_type',
    _set(segmentation='polygon'),
    problems.WRONG_TYPE,
    'segmentation is str, expected a list of polygons or an RLE object',
  ),
  (
    'size_mismatch',
    lambda d: d['images'][0].update(width=d['images'][0]['width'] + 1),
    problems.SIZE_MISMATCH,
    'image id 1000 is',
  ),
  (
    'declared_too_large',
    lambda d: d['images'][0].update(width=60000, height=60000),
    problems.IMAGE_TOO_LARGE,
    'image id 1000 declares 60000x60000 = 3600000000 pixels',
  ),
  (
    'rle_too_large',
    _set(segmentation={'size': [60000, 60000], 'counts': 'a'}),
    problems.IMAGE_TOO_LARGE,
    'the RLE declares 60000x60000',
  ),
  (
    'category',
    _set(category_id=999),
    problems.UNKNOWN_CLASS,
    'category_id 999',
  ),
  (
    'orphan',
    lambda d: d['annotations'].append(dict(_first_ann(d), id=555, image_id=77)),
    problems.MISSING_IMAGE,
    'annotation id 555 is of image id 77, which the file does not list in '
    'images',
  ),
  (
    'image_entry_type',
    lambda d: d['images'].insert(0, 'x.jpg'),
    problems.WRONG_TYPE,
    'images[0] is a string, expected an object',
  ),
  (
    'image_id_type',
    lambda d: d['images'].insert(0, dict(d['images'][0], id='1000')),
    problems.WRONG_TYPE,
    'images[0].id is a string, expected a number',
  ),
  (
    'annotation_entry_type',
    lambda d: d['annotations'].insert(0, 7),
    problems.WRONG_TYPE,
    'annotations[0] is a number, expected an object',
  ),
  (
    'annotation_image_id_type',
    lambda d: d['annotations'].insert(
      0, dict(_first_ann(d), id=556, image_id='1000')
    ),
    problems.WRONG_TYPE,
    'annotations[0] (id 556).image_id is a string, expected a number',
  ),
  (
    'category_id_type',
    _set(category_id='1'),
    problems.WRONG_TYPE,
    'annotation id 100: category_id is a string, expected a number',
  ),
  (
    'file_name_type',
    lambda d: d['images'][0].update(file_name=5),
    problems.WRONG_TYPE,
    'image id 1000: file_name is a number, expected a string',
  ),
  (
    'height_type',
    lambda d: d['images'][0].update(height='20'),
    problems.WRONG_TYPE,
    'image id 1000: height is a string, expected a number',
  ),
  (
    'missing_image',
    lambda d: d['images'][0].update(file_name='gone.png'),
    problems.MISSING_IMAGE,
    'train2017/gone.png',
  ),
  (
    'corrupt_image',
    lambda d: d['images'][0].update(
      file_name='../annotations/instances_val2017.json'
    ),
    problems.CORRUPT_IMAGE,
    'annotations/instances_val2017.json: corrupt_image',
  ),
  (
    'no_segmentation',
    lambda d: _first_ann(d).pop('segmentation'),
    problems.BAD_ANNOTATION,
    'annotation id 100 has no segmentation',
  ),
  (
    'rle_size_of_3',
    _set(segmentation={'size': [4, 4, 4], 'counts': [64]}),
    problems.WRONG_TYPE,
    'annotation id 100: segmentation.size has 3 values, expected [h, w]',
  ),
  (
    'rle_size_type',
    _set(segmentation={'size': ['4', 4], 'counts': [16]}),
    problems.WRONG_TYPE,
    'annotation id 100: segmentation.size is a string, expected a number',
  ),
  (
    'rle_of_another_size',
    _set(segmentation={'size': [4, 5], 'counts': [20]}),
    problems.SIZE_MISMATCH,
    'annotation id 100: the RLE is 4x5 (HxW), the image ',
  ),
  (
    'rle_counts_type',
    _image_sized_rle(5),
    problems.WRONG_TYPE,
    'annotation id 100: segmentation.counts is a number',
  ),
  (
    'rle_count_negative',
    _image_sized_rle([-1, 2]),
    problems.OUT_OF_RANGE,
    'annotation id 100: segmentation.counts[0] is -1',
  ),
  (
    'duplicate_id',
    lambda d: d['images'].append(dict(d['images'][1], id=1000)),
    problems.BAD_ANNOTATION,
    "image id 1000 is listed 2 times (file_name '000000000000.png')",
  ),
  (
    'escape',
    lambda d: d['images'][0].update(file_name='../../../etc/passwd'),
    problems.OUTSIDE_ROOT,
    'outside the data root',
  ),
]


@pytest.mark.parametrize(
  'edit,problem,detail',
  [case[1:] for case in HOSTILE],
  ids=[case[0] for case in HOSTILE],
)
def test_hostile_annotations_are_bad_examples_naming_them(
  tmp_path, edit, problem, detail
):
  root = str(tmp_path / 'coco')
  write_coco(root, 'train2017', images=3, seed=5, edit=edit)
  write_coco(root, 'val2017', images=2, seed=6)
  read = _read_all(root, labels.PEOPLE_CLASSES, max_image_pixels=10**8)
  bad = [r for r in read['train'] if isinstance(r, problems.BadExample)]
  # Both images of a duplicated id are bad: which one its annotations
  # belong to cannot be known.
  assert len(bad) == (2 if 'listed 2 times' in detail else 1), bad
  assert bad[0].problem == problem
  assert detail in str(bad[0])
  # The annotation file, or the image file it names.
  assert bad[0].path.startswith(
    (os.path.join(root, 'annotations'), os.path.join(root, 'train2017'))
  )
  # The other images are read.
  assert len(read['train']) - 1 >= 2


def _categories(*entries):
  return json.dumps(
    {'images': [], 'annotations': [], 'categories': list(entries)}
  ).encode()


@pytest.mark.parametrize(
  'edit',
  [
    lambda d: d['images'].insert(0, 'x.jpg'),
    lambda d: d['annotations'].insert(0, 7),
    lambda d: d['annotations'].insert(
      0, dict(_first_ann(d), id=555, image_id=77)
    ),
  ],
  ids=['image_entry', 'annotation_entry', 'orphan_annotation'],
)
def test_a_bad_entry_costs_only_itself(tmp_path, edit):
  good = {}
  for name, change in (('clean', None), ('hostile', edit)):
    root = str(tmp_path / name)
    write_coco(root, 'train2017', images=3, seed=5, edit=change)
    write_coco(root, 'val2017', images=2, seed=6)
    read = _read_all(root, labels.VOC_CLASSES)['train']
    good[name] = _masks_by_file(
      r for r in read if not isinstance(r, problems.BadExample)
    )
  assert len(good['clean']) == 3
  # Annotations drawn (airplane, couch, dog), not all background.
  foreground = [_class_ids(png).any() for png in good['clean'].values()]
  assert sum(foreground) == 2
  assert good['hostile'] == good['clean']


@pytest.mark.parametrize(
  'content,problem,detail',
  [
    (b'{"images": [{"id": 1, "file_', problems.BAD_ANNOTATION, 'JSON'),
    (
      b'[1, 2, 3]',
      problems.WRONG_TYPE,
      'the file is a list, expected an object',
    ),
    (
      b'{"images": {}, "categories": []}',
      problems.WRONG_TYPE,
      'images is an object, expected a list',
    ),
    (
      b'{"images": [], "annotations": 5, "categories": []}',
      problems.WRONG_TYPE,
      'annotations is a number, expected a list',
    ),
    (
      b'{"images": [], "annotations": [], "categories": {}}',
      problems.WRONG_TYPE,
      'categories is an object, expected a list',
    ),
    (
      _categories(5),
      problems.WRONG_TYPE,
      'categories[0] is a number, expected an object',
    ),
    (
      _categories({'id': '1', 'name': 'person'}),
      problems.WRONG_TYPE,
      'categories[0].id is a string, expected a number',
    ),
    (
      _categories({'id': 1, 'name': 5}),
      problems.WRONG_TYPE,
      'categories[0].name is a number, expected a string',
    ),
    (
      _categories({'id': 0, 'name': 'person'}, {'id': 0, 'name': 'rider'}),
      problems.BAD_ANNOTATION,
      "categories[1]: category id 0 is also 'person'",
    ),
  ],
)
def test_an_unreadable_annotation_file_is_one_bad_example(
  tmp_path, content, problem, detail
):
  root = str(tmp_path / 'coco')
  write_coco(root, 'train2017', images=2)
  path = write_coco(root, 'val2017', images=2)
  with open(path, 'wb') as f:
    f.write(content)
  read = _read_all(root, labels.PEOPLE_CLASSES)
  (bad,) = read['eval']
  assert bad.problem == problem and bad.path == path
  assert detail in bad.detail


def test_images_that_are_symlinks_out_or_fifos_are_refused(tmp_path):
  root = str(tmp_path / 'coco')
  write_coco(root, 'train2017', images=3)
  write_coco(root, 'val2017', images=2)
  outside = tmp_path / 'secret.png'
  outside.write_bytes(_png(20, 20, 0))
  first = os.path.join(root, 'train2017', f'{0:012d}.png')
  second = os.path.join(root, 'train2017', f'{1:012d}.png')
  os.remove(first)
  os.symlink(outside, first)
  os.remove(second)
  os.mkfifo(second)
  read = _read_all(root, labels.PEOPLE_CLASSES)
  bad = {
    r.path: r.problem
    for r in read['train']
    if isinstance(r, problems.BadExample)
  }
  assert bad == {first: problems.OUTSIDE_ROOT, second: problems.NOT_A_FILE}


def _without_bbox_or_area(data):
  for ann in data['annotations']:
    ann.pop('bbox', None)
    ann.pop('area', None)


def _without_iscrowd_0(data):
  for ann in data['annotations']:
    if ann['iscrowd'] == 0:
      del ann['iscrowd']


def _ids_from_0(data):
  # Whole numbers from 0 are ids, as pycocotools takes them.
  data['categories'] = [
    dict(c, id=0) if c['id'] == 3 else c for c in data['categories']
  ]
  first = data['images'][0]['id']
  data['images'][0]['id'] = 0
  for ann in data['annotations']:
    ann['image_id'] = 0 if ann['image_id'] == first else ann['image_id']
    ann['category_id'] = 0 if ann['category_id'] == 3 else ann['category_id']


@pytest.mark.parametrize(
  'edit', [_without_bbox_or_area, _without_iscrowd_0, _ids_from_0]
)
def test_valid_oddities_read_as_the_plain_file(tmp_path, edit):
  good = {}
  for name, change in (('plain', None), ('odd', edit)):
    root = str(tmp_path / name)
    write_coco(root, 'train2017', images=5, seed=3, edit=change)
    write_coco(root, 'val2017', images=2, edit=lambda d: d.pop('annotations'))
    read = _read_all(root, labels.VOC_CLASSES)
    assert not [
      r
      for r in read['train'] + read['eval']
      if isinstance(r, problems.BadExample)
    ]
    # A file without `annotations`: its images are all background.
    for example, _ in read['eval']:
      assert not _class_ids(example.mask_png).any()
    good[name] = _masks_by_file(read['train'])
    copy.deepcopy(read)  # Examples are plain data.
  assert good['odd'] == good['plain']
  # The edits touch annotations that are drawn: cars, and plain instances.
  assert sum(_class_ids(m).any() for m in good['plain'].values()) == 4


def _masks_by_file(results):
  """{filename: mask PNG} of (example, notes) results."""
  return {example.filename: example.mask_png for example, _ in results}


def _class_ids(mask_png):
  return np.asarray(Image.open(io.BytesIO(mask_png)))


@pytest.mark.slow
def test_hostile_coco_converts_within_the_memory_bound(
  tmp_path, run_measured, max_tree_rss
):
  """A 100,000-vertex polygon is converted; sizes declared over the limit
  (image and RLE), NaN and a missing image are counted, not crashed on;
  the whole process tree stays under the bound."""
  root = str(tmp_path / 'coco')
  angles = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
  outline = np.stack(
    [20 + 15 * np.cos(angles), 20 + 15 * np.sin(angles)], 1
  ).ravel()

  def edit(data):
    first = _first_ann(data)
    first.update(segmentation=[outline.round(3).tolist()], iscrowd=0)
    data['images'][1].update(width=60000, height=60000)
    data['annotations'].append(
      dict(
        first,
        id=900,
        image_id=1002,
        segmentation={'size': [50000, 50000], 'counts': [2_500_000_000]},
      )
    )
    data['annotations'].append(
      dict(first, id=901, image_id=1003, segmentation=[[1, 2, float('nan')]])
    )
    data['images'].append(dict(data['images'][0], id=1, file_name='gone.png'))

  write_coco(root, 'train2017', images=6, seed=3, edit=edit)
  write_coco(root, 'val2017', images=3, seed=4)
  out = str(tmp_path / 'out')
  result = run_measured(
    [
      '--format=coco',
      f'--data_root={root}',
      '--labels=people',
      f'--output_dir={out}',
      '--skip_bad_examples',
    ]
  )
  assert result.returncode == 0, result.stderr[-2000:]
  with open(os.path.join(out, 'ingest_report.json')) as f:
    report = json.load(f)
  assert report['in'] == 10
  assert report['in'] == report['written'] + report['skipped']
  assert {k: v['count'] for k, v in report['problems'].items()} == {
    problems.IMAGE_TOO_LARGE: 2,
    problems.NON_FINITE: 1,
    problems.MISSING_IMAGE: 1,
  }
  assert result.peak_rss < max_tree_rss, result.peak_rss / 2**20
