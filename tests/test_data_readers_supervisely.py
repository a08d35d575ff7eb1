"""data.supervisely: current and legacy projects decode to exact masks.

Masks are checked against the replica builders' known pixels, and against
the official SDK's own drawings (tests/fixtures/supervisely_sdk, committed
oracle fixtures; see the section at the end).
"""

import base64
import collections
import io
import json
import os
import re
import subprocess
import zlib

import numpy as np
from PIL import Image
import pytest

import clients
from data import config as data_config
from data import features
from data import labels
from data import problems
from data.readers import source
from data.readers import supervisely
from tests.fixtures import hostile
from tests.fixtures import png_flavours
from tests.fixtures import supervisely_replica as replica


def _reader(project):
  return supervisely.SuperviselySource(
    project, data_config.build('people', project)
  )


def _read_all(project):
  reader = _reader(project)
  return {
    item.filename: reader.read(item) for item in supervisely.list_items(project)
  }


@pytest.mark.parametrize(
  'legacy,stem_names', [(False, False), (True, False), (True, True)]
)
def test_project_decodes_to_expected_masks(
  tmp_path, legacy, stem_names, mask_of, features_of
):
  project, expected = replica.standard_project(
    str(tmp_path / 'p'), legacy=legacy, stem_names=stem_names
  )
  examples = _read_all(project)
  assert sorted(examples) == ['ds1/a.png', 'ds1/b.jpg', 'ds2/c.png']
  for filename, (example, notes) in examples.items():
    np.testing.assert_array_equal(mask_of(example), expected[filename])
    assert notes == {}
    feature = features_of(example)
    with open(os.path.join(project, filename.replace('/', '/img/')), 'rb') as f:
      assert feature[features.IMAGE_ENCODED].bytes_list.value[0] == f.read()
    assert feature[features.IMAGE_FILENAME].bytes_list.value == [
      filename.encode()
    ]
    height, width = expected[filename].shape
    assert feature[features.IMAGE_HEIGHT].int64_list.value == [height]
    assert feature[features.IMAGE_WIDTH].int64_list.value == [width]
    assert feature[features.IMAGE_CHANNELS].int64_list.value == [3]
    assert feature[features.MASK_FORMAT].bytes_list.value == [b'png']
    # The dataset folder is the source.
    assert feature[features.SOURCE_KEY].bytes_list.value == [
      filename.split('/')[0].encode()
    ]
    mask = expected[filename]
    labelled = mask != 255
    fraction = np.sum(labelled & (mask != 0)) / max(1, np.sum(labelled))
    assert feature[features.FOREGROUND_FRACTION_KEY].float_list.value[
      0
    ] == pytest.approx(fraction, abs=1e-6)
    assert feature[features.FOREGROUND_BUCKET_KEY].bytes_list.value == [
      features.foreground_bucket(fraction).encode()
    ]
  fmt = features_of(examples['ds1/b.jpg'][0])[features.IMAGE_FORMAT]
  assert fmt.bytes_list.value == [b'jpeg']
  assert set(np.unique(expected['ds1/b.jpg'])) == {0, 1, 255}


def test_legacy_objects_with_type_field(tmp_path, mask_of):
  project, expected = replica.standard_project(str(tmp_path / 'p'), legacy=True)
  path = os.path.join(project, 'ds1', 'ann', 'b.jpg.json')
  with open(path) as f:
    ann = json.load(f)
  ann['objects'] = replica.legacy_typed(ann['objects'])
  with open(path, 'w') as f:
    json.dump(ann, f)
  example, _ = _read_all(project)['ds1/b.jpg']
  np.testing.assert_array_equal(mask_of(example), expected['ds1/b.jpg'])


def test_find_project_accepts_parent_folder(tmp_path):
  project, _ = replica.standard_project(str(tmp_path / 'Supervisely Person'))
  assert supervisely.find_project(str(tmp_path)) == project
  # Dataset folders hold no meta.json; nor does a parent of one folder
  # without it.
  lone = tmp_path / 'parent'
  (lone / 'child').mkdir(parents=True)
  for root in (tmp_path / 'Supervisely Person' / 'ds1', lone):
    with pytest.raises(FileNotFoundError) as error:
      supervisely.find_project(str(root))
    assert str(error.value) == (
      f'{root}: not a Supervisely project: expected meta.json in it or in '
      'exactly one of its sub-folders'
    )


@pytest.mark.parametrize('kind', ['L', 'RGBA', '1', 'P'])
def test_bitmap_flavours_decode_to_the_same_mask(kind):
  mask = np.zeros((5, 7), bool)
  mask[1:4, 2:6] = True
  mask[0, 0] = True
  got = supervisely.decode_bitmap(
    replica.bitmap_data(mask, kind), 'x.json', 5, 7
  )
  np.testing.assert_array_equal(got, mask)


def test_uncompressed_png_bitmap_is_accepted():
  mask = np.eye(4, dtype=bool)
  data = base64.b64encode(replica.png_bytes(mask.astype(np.uint8) * 9, 'L'))
  np.testing.assert_array_equal(
    supervisely.decode_bitmap(data.decode(), 'x.json', 4, 4), mask
  )


@pytest.mark.parametrize(
  'data,message',
  [
    ('not base64 !!!', 'not base64'),
    (
      base64.b64encode(zlib.compress(b'not a png')).decode(),
      'cannot decode bitmap',
    ),
    (
      base64.b64encode(
        zlib.compress(
          replica.png_bytes(np.full((3, 3, 3), 255, np.uint8), 'RGB')
        )
      ).decode(),
      'mode RGB without transparency',
    ),
  ],
)
def test_undecodable_bitmaps_are_bad_bitmap(data, message):
  with pytest.raises(problems.BadExample, match=message) as error:
    supervisely.decode_bitmap(data, 'ds1/ann/x.png.json', 10, 10)
  assert error.value.problem == problems.BAD_BITMAP
  assert error.value.path == 'ds1/ann/x.png.json'


def test_every_png_flavour_reads_as_the_supervisely_sdk_reads_it(tmp_path):
  """The SDK's rule on OpenCV itself (clients venv) is the oracle."""
  flavours = png_flavours.every_flavour(np.random.default_rng(5), 6, 9)
  np.savez(
    tmp_path / 'pngs.npz',
    **{f'png_{n}': np.frombuffer(f.png, np.uint8) for n, f in flavours.items()},
  )
  subprocess.run(
    [
      clients.python(),
      os.path.join(os.path.dirname(__file__), 'fixtures', 'opencv_bitmap.py'),
      str(tmp_path / 'pngs.npz'),
      str(tmp_path / 'masks.npz'),
    ],
    check=True,
    timeout=120,
  )
  sdk = np.load(tmp_path / 'masks.npz')
  outcomes = collections.Counter()
  for name, flavour in flavours.items():
    data = base64.b64encode(zlib.compress(flavour.png)).decode()
    read_by_sdk = f'mask_{name}' in sdk.files
    if flavour.depth == 16 and flavour.colour != png_flavours.GRAY:
      # PIL keeps the high byte of these samples: refused, not misread.
      assert _bitmap_refusal(data) == (
        'x.json: bad_bitmap: a 16-bit colour or gray-alpha bitmap PNG: it '
        'would be read from the high byte of each sample only; save it with '
        '8 bits per sample'
      )
      outcomes['16-bit: refused here', read_by_sdk] += 1
    elif read_by_sdk:
      np.testing.assert_array_equal(
        supervisely.decode_bitmap(data, 'x.json', 6, 9),
        sdk[f'mask_{name}'],
        err_msg=name,
      )
      outcomes['read alike'] += 1
    else:
      assert re.fullmatch(
        'x.json: bad_bitmap: bitmap PNG has mode (RGB|P) without '
        'transparency; expected an alpha channel or a single channel',
        _bitmap_refusal(data),
      )
      outcomes['refused by both'] += 1
  # Gray at 5 depths x 3 tRNS kinds, RGB8 and palettes with tRNS (2 + 4 x
  # 2), gray-alpha 8 and RGBA 8; RGB8 and the 4 palettes without tRNS.
  assert outcomes == {
    'read alike': 27,
    'refused by both': 5,
    ('16-bit: refused here', True): 4,
    ('16-bit: refused here', False): 1,
  }


def _bitmap_refusal(data):
  with pytest.raises(problems.BadExample) as error:
    supervisely.decode_bitmap(data, 'x.json', 6, 9)
  assert error.value.problem == problems.BAD_BITMAP
  assert error.value.path == 'x.json'
  return str(error.value)


def test_bitmap_data_inflates_to_at_most_what_an_image_sized_png_can_need():
  # 8 bytes a pixel (16-bit RGBA), a filter byte a row, 64 KB for chunks.
  limit = 40 * (8 * 48 + 1) + (1 << 16)
  at_limit = base64.b64encode(zlib.compress(b'\0' * limit)).decode()
  with pytest.raises(problems.BadExample, match='cannot decode bitmap'):
    supervisely.decode_bitmap(at_limit, 'x.json', 40, 48)
  over = base64.b64encode(zlib.compress(b'\0' * (limit + 1))).decode()
  with pytest.raises(problems.BadExample) as error:
    supervisely.decode_bitmap(over, 'x.json', 40, 48)
  assert error.value.problem == problems.BITMAP_TOO_LARGE
  assert str(error.value) == (
    'x.json: bitmap_too_large: bitmap data inflates past 80,936 bytes, '
    'more than a bitmap of the image size 40x48 can hold; it was not '
    'inflated further'
  )


def test_bitmap_base64_with_line_breaks_reads_as_the_sdk_reads_it():
  # Python's default base64 decoding, the SDK's, skips them.
  mask = np.eye(5, 7, dtype=bool)
  data = replica.bitmap_data(mask)
  wrapped = '\n'.join(data[i : i + 76] for i in range(0, len(data), 76))
  assert '\n' in wrapped
  np.testing.assert_array_equal(
    supervisely.decode_bitmap(wrapped, 'x.json', 5, 7), mask
  )


def test_polygon_and_bitmap_outside_image_are_clipped_and_noted():
  ann = {
    'objects': [
      replica.polygon_object([(-5, -5), (6, -5), (6, 3), (-5, 3)]),
      replica.bitmap_object(np.ones((4, 4), bool), (8, 6)),
    ]
  }
  mask, notes = supervisely.render_annotation(ann, 8, 10, 'a.json', {})
  expected = np.zeros((8, 10), np.uint8)
  expected[0:4, 0:7] = 1
  expected[6:8, 8:10] = 1
  np.testing.assert_array_equal(mask, expected)
  assert notes == {problems.CLIPPED_POLYGON: 1, problems.CLIPPED_BITMAP: 1}


@pytest.mark.parametrize(
  'origin',
  [(x, y) for x in (-7, -2, 0, 4, 9, 12) for y in (-6, -1, 0, 3, 7, 9)],
)
def test_a_bitmap_lands_at_its_origin_cut_to_the_image(origin):
  x, y = origin
  bitmap = np.random.default_rng([x + 10, y + 10]).random((5, 6)) < 0.6
  bitmap[0, 0] = bitmap[-1, -1] = True
  ann = {'objects': [replica.bitmap_object(bitmap, origin)]}
  mask, notes = supervisely.render_annotation(ann, 8, 10, 'a.json', {})
  expected = np.zeros((8, 10), np.uint8)
  clipped = False
  for (row, column), value in np.ndenumerate(bitmap):
    inside = 0 <= y + row < 8 and 0 <= x + column < 10
    if inside:
      expected[y + row, x + column] = value
    clipped |= bool(value) and not inside
  np.testing.assert_array_equal(mask, expected)
  assert notes == ({problems.CLIPPED_BITMAP: 1} if clipped else {})


def test_later_objects_are_drawn_on_top():
  square = [(0, 0), (5, 0), (5, 5), (0, 5)]
  ann = {
    'objects': [
      replica.polygon_object(square, title='neutral'),
      replica.polygon_object([(2, 2), (7, 2), (7, 7), (2, 7)]),
    ]
  }
  mask, _ = supervisely.render_annotation(ann, 8, 8, 'a.json', {})
  assert mask[1, 1] == 255 and mask[3, 3] == 1 and mask[7, 7] == 1


# --- Bad input: every case names the file and the problem. ---------------


def _one_item(project, filename):
  return next(
    i for i in supervisely.list_items(project) if i.filename == filename
  )


def _read(project, filename):
  return _reader(project).read(_one_item(project, filename))


def _ann_path(project, filename):
  dataset, name = filename.split('/')
  return os.path.join(project, dataset, 'ann', name + '.json')


def _write_objects(project, filename, objects):
  """Replaces the annotation of `filename` by these objects; its path."""
  path = _ann_path(project, filename)
  with open(path, 'w') as f:
    json.dump({'size': _SIZE, 'objects': objects}, f)
  return path


def _expect_bad(project, filename, problem, path, message):
  with pytest.raises(problems.BadExample) as error:
    _read(project, filename)
  assert message in str(error.value) or re.search(message, str(error.value))
  assert error.value.problem == problem
  assert error.value.path == path
  assert path in str(error.value)


@pytest.fixture
def project(tmp_path):
  return replica.standard_project(str(tmp_path / 'p'))[0]


def test_truncated_annotation_json(project):
  path = _ann_path(project, 'ds1/a.png')
  with open(path) as f:
    text = f.read()
  with open(path, 'w') as f:
    f.write(text[: len(text) // 2])
  _expect_bad(
    project, 'ds1/a.png', problems.BAD_ANNOTATION, path, 'not valid JSON'
  )


_SIZE = {'height': 40, 'width': 48}


def _poly(points, **extra):
  return {
    'size': _SIZE,
    'objects': [
      {
        'classTitle': 'person_poly',
        'geometryType': 'polygon',
        'points': {'exterior': points, **extra},
      }
    ],
  }


def _bitmap(data='eJw=', origin=(0, 0)):
  return {
    'size': _SIZE,
    'objects': [
      {
        'classTitle': 'person_bmp',
        'geometryType': 'bitmap',
        'bitmap': {'data': data, 'origin': origin},
      }
    ],
  }


_BITMAP = {'geometryType': 'bitmap'}


def _compressed(png):
  return base64.b64encode(zlib.compress(png)).decode()


def _gif():
  out = io.BytesIO()
  Image.new('L', (4, 4)).save(out, 'GIF')
  return out.getvalue()


_TRIANGLE = [[1, 1], [5, 5], [1, 5]]


_MALFORMED = [
  ([], problems.WRONG_TYPE, 'the top level is a list, expected an object'),
  ({'objects': []}, problems.BAD_ANNOTATION, 'has no "size"'),
  (
    {'size': _SIZE, 'objects': {}},
    problems.WRONG_TYPE,
    'objects is an object, expected a list',
  ),
  (
    _poly([[1, 1], [5, 5]], interior=[]),
    problems.BAD_ANNOTATION,
    'objects[0].points.exterior has 2 points; a polygon needs at least 3',
  ),
  (
    {'size': _SIZE, 'objects': [{'classTitle': 'person_poly'}]},
    problems.BAD_ANNOTATION,
    'objects[0] has no "points"',
  ),
  (
    {
      'size': _SIZE,
      'objects': [{'classTitle': 'person_poly', 'points': [_TRIANGLE]}],
    },
    problems.WRONG_TYPE,
    'objects[0].points is a list, expected an object',
  ),
  (
    _poly(_TRIANGLE, interior=[_TRIANGLE, [[1, 1], [2, 2]]]),
    problems.BAD_ANNOTATION,
    'objects[0].points.interior[1] has 2 points; a polygon needs at least 3',
  ),
  (
    _poly([[1, 'a'], [5, 5], [1, 5]]),
    problems.WRONG_TYPE,
    'objects[0].points.exterior[0][1] is a string, expected a number',
  ),
  (
    _bitmap(origin='top-left'),
    problems.WRONG_TYPE,
    'objects[0].bitmap.origin[0] is a string, expected [x, y]',
  ),
  (
    _poly([[1, 1], [5, 5]])
    | {'objects': [{'classTitle': 'person_poly', 'geometryType': 'rectangle'}]},
    problems.BAD_ANNOTATION,
    "objects[0] has geometry 'rectangle'",
  ),
  (
    {'size': _SIZE, 'objects': [{'classTitle': 'person_bmp'} | _BITMAP]},
    problems.BAD_ANNOTATION,
    'objects[0] has no "bitmap"',
  ),
  (
    {
      'size': _SIZE,
      'objects': [{'classTitle': 'person_bmp', 'bitmap': 'eJw='} | _BITMAP],
    },
    problems.WRONG_TYPE,
    'objects[0].bitmap is a string, expected an object',
  ),
  (
    _bitmap(data=5),
    problems.WRONG_TYPE,
    'objects[0].bitmap.data is a number, expected a string',
  ),
  (
    _bitmap(_compressed(_gif())),
    problems.BAD_BITMAP,
    'the bitmap is GIF, not a PNG',
  ),
  (
    _bitmap(_compressed(hostile.png_with_bad_crc(np.ones((4, 4), np.uint8)))),
    problems.BAD_BITMAP,
    r'cannot decode bitmap: .* \(a broken PNG chunk: its CRC or length\)$',
  ),
  (
    _bitmap(
      _compressed(hostile.png_from_scanlines(4, 4, 8, 0, False, b'\0' * 10))
    ),
    problems.BAD_BITMAP,
    'cannot decode bitmap: its pixel data ends after 10 of the 20 bytes',
  ),
  (  # Rows of filter type 7, which PNG does not have.
    _bitmap(
      _compressed(
        hostile.png_from_scanlines(4, 4, 8, 0, False, b'\7\0\0\0\0' * 4)
      )
    ),
    problems.BAD_BITMAP,
    'cannot decode bitmap: unrecognized data stream contents',
  ),
  (
    _bitmap(_compressed(hostile.header_bomb_png(41, 8))),
    problems.BITMAP_TOO_LARGE,
    'a bitmap of 41x8 (HxW) on an image of 40x48',
  ),
  (
    _bitmap(_compressed(hostile.header_bomb_png(8, 49))),
    problems.BITMAP_TOO_LARGE,
    'a bitmap of 8x49 (HxW) on an image of 40x48',
  ),
  # What Python's json accepts and used to crash the reader.
  (
    '{"size": {"height": Infinity, "width": 48}, "objects": []}',
    problems.NON_FINITE,
    'the file holds Infinity',
  ),
  (
    json.dumps(_bitmap()).replace('[0, 0]', '[NaN, 0]'),
    problems.NON_FINITE,
    'the file holds NaN',
  ),
  (
    json.dumps(_bitmap()).replace('[0, 0]', '[0, -Infinity]'),
    problems.NON_FINITE,
    'the file holds -Infinity',
  ),
  (
    json.dumps(_poly(_TRIANGLE)).replace('[5, 5]', '[5, ' + '9' * 400 + ']'),
    problems.OUT_OF_RANGE,
    'objects[0].points.exterior[1][1] is a 400-digit number',
  ),
  (
    json.dumps(_poly(_TRIANGLE)).replace('[5, 5]', '[5, 1e400]'),
    problems.NON_FINITE,
    'objects[0].points.exterior[1][1] overflows to inf',
  ),
  (
    _poly(_TRIANGLE, interior=5),
    problems.WRONG_TYPE,
    'objects[0].points.interior is a number, expected a list',
  ),
  (
    {'size': _SIZE, 'objects': [{'classTitle': ['person_poly']}]},
    problems.WRONG_TYPE,
    'objects[0].classTitle is a list, expected a string',
  ),
  (
    {'size': {'height': '40', 'width': 48}, 'objects': []},
    problems.WRONG_TYPE,
    'size.height is a string, expected a number',
  ),
  (
    '{"size": ' + '[' * 100_000 + ']' * 100_000 + '}',
    problems.JSON_TOO_DEEP,
    'nested too deeply',
  ),
  (
    _poly([[i % 48, i % 40] for i in range(60_000)]),
    problems.TOO_MANY_VERTICES,
    'objects[0].points.exterior has 60000 points; at most 10000',
  ),
  (
    _bitmap(base64.b64encode(zlib.compress(b'\0' * (50 << 20), 9)).decode()),
    problems.BITMAP_TOO_LARGE,
    'bitmap data inflates past',
  ),
  (
    _bitmap(
      base64.b64encode(
        zlib.compress(hostile.header_bomb_png(13000, 13000))
      ).decode()
    ),
    problems.BITMAP_TOO_LARGE,
    'a bitmap of 13000x13000 (HxW) on an image of 40x48',
  ),
]


@pytest.mark.parametrize(
  'ann,problem,message',
  _MALFORMED,
  # Plain ids: ids holding a regex's backslashes are not found again when
  # mutmut's workers pass them back to pytest (exit 4, "not found").
  ids=[f'{problem}-{i}' for i, (_, problem, _) in enumerate(_MALFORMED)],
)
def test_malformed_annotations(project, ann, problem, message):
  path = _ann_path(project, 'ds1/a.png')
  with open(path, 'w') as f:
    f.write(ann if isinstance(ann, str) else json.dumps(ann))
  _expect_bad(project, 'ds1/a.png', problem, path, message)


def test_many_polygons_are_bounded_in_all(project):
  path = _ann_path(project, 'ds1/a.png')
  ring = [[i % 48, i % 40] for i in range(9_000)]
  with open(path, 'w') as f:
    json.dump({'size': _SIZE, 'objects': _poly(ring)['objects'] * 12}, f)
  _expect_bad(
    project,
    'ds1/a.png',
    problems.TOO_MANY_VERTICES,
    path,
    'more than 100000 vertices in all',
  )


def test_holes_count_towards_the_vertex_limit(project):
  hole = [[i % 48, i % 40] for i in range(9_000)]
  objects = _poly(_TRIANGLE, interior=[hole])['objects'] * 12
  path = _write_objects(project, 'ds1/a.png', objects)
  _expect_bad(
    project,
    'ds1/a.png',
    problems.TOO_MANY_VERTICES,
    path,
    'more than 100000 vertices in all',
  )


def test_fractional_points_are_truncated_as_the_sdk_truncates_them(
  project, mask_of
):
  """The SDK reads points with np.array(...).astype(int): 40.99 is 40, and
  -0.7 is 0, inside the image (nothing is clipped)."""
  path = _ann_path(project, 'ds1/a.png')
  read = []
  for exterior, hole in [
    (
      [[-0.7, 1.5], [40.99, 6.2], [12.5, 35.7]],
      [[14.8, 12.1], [22.9, 12.6], [17.2, 20.9]],
    ),
    ([[0, 1], [40, 6], [12, 35]], [[14, 12], [22, 12], [17, 20]]),
  ]:
    with open(path, 'w') as f:
      json.dump(_poly(exterior, interior=[hole]), f)
    example, notes = _read(project, 'ds1/a.png')
    read.append((mask_of(example), notes))
  np.testing.assert_array_equal(read[0][0], read[1][0])
  assert 200 < (read[1][0] > 0).sum() < 40 * 48 / 2
  assert read[0][1] == read[1][1] == {}


def test_bitmap_that_does_not_decode(project):
  path = _ann_path(project, 'ds1/b.jpg')
  with open(path) as f:
    ann = json.load(f)
  ann['objects'][1]['bitmap']['data'] = base64.b64encode(
    zlib.compress(b'garbage')
  ).decode()
  with open(path, 'w') as f:
    json.dump(ann, f)
  _expect_bad(
    project, 'ds1/b.jpg', problems.BAD_BITMAP, path, 'cannot decode bitmap'
  )


def test_unknown_class(project):
  path = _ann_path(project, 'ds1/a.png')
  with open(path) as f:
    ann = json.load(f)
  ann['objects'][0]['classTitle'] = 'dog'
  with open(path, 'w') as f:
    json.dump(ann, f)
  _expect_bad(project, 'ds1/a.png', problems.UNKNOWN_CLASS, path, "'dog'")


def test_annotation_size_differs_from_image(project):
  path = _ann_path(project, 'ds1/a.png')
  with open(path) as f:
    ann = json.load(f)
  ann['size'] = {'height': 41, 'width': 48}
  with open(path, 'w') as f:
    json.dump(ann, f)
  _expect_bad(
    project,
    'ds1/a.png',
    problems.SIZE_MISMATCH,
    path,
    'annotation size 41x48 .* 40x48',
  )


def test_corrupt_and_truncated_images(project):
  path = os.path.join(project, 'ds1', 'img', 'b.jpg')
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[: len(data) // 2])
  _expect_bad(project, 'ds1/b.jpg', problems.CORRUPT_IMAGE, path, 'decode')
  with open(path, 'wb') as f:
    f.write(b'this is not an image')
  _expect_bad(project, 'ds1/b.jpg', problems.CORRUPT_IMAGE, path, 'decode')


def test_image_without_annotation_and_annotation_without_image(project):
  os.remove(_ann_path(project, 'ds1/a.png'))
  image = os.path.join(project, 'ds1', 'img', 'a.png')
  _expect_bad(
    project, 'ds1/a.png', problems.MISSING_MASK, image, 'no annotation'
  )
  os.remove(os.path.join(project, 'ds2', 'img', 'c.png'))
  _expect_bad(
    project,
    'ds2/c.png',
    problems.MISSING_IMAGE,
    _ann_path(project, 'ds2/c.png'),
    'no image c.png',
  )


# --- Against the official SDK, pixel for pixel. ----------------------------
# tests/fixtures/supervisely_sdk was written by
# tests/fixtures/make_supervisely_sdk_fixtures.py with the `supervisely` SDK
# (versions in VERSIONS.json): a project whose annotations hold random
# polygons (self-intersecting, with holes, partly outside the image), bitmaps
# and neutral regions, and the masks the SDK itself draws after loading each
# annotation file. The SDK is not needed here.

SDK_ROOT = os.path.join(
  os.path.dirname(__file__), 'fixtures', 'supervisely_sdk'
)
SDK_PROJECT = os.path.join(SDK_ROOT, 'project')
SDK_ITEMS = supervisely.list_items(SDK_PROJECT)


def _has_outside_polygon(ann_path):
  with open(ann_path) as f:
    ann = json.load(f)
  height, width = ann['size']['height'], ann['size']['width']
  return any(
    o['geometryType'] == 'polygon'
    and any(
      not (0 <= x < width and 0 <= y < height)
      for x, y in o['points']['exterior']
    )
    for o in ann['objects']
  )


def test_sdk_fixture_covers_the_hard_cases():
  assert len(SDK_ITEMS) == 24
  kinds = {'polygon': 0, 'bitmap': 0, 'hole': 0, 'neutral': 0}
  for item in SDK_ITEMS:
    with open(item.ann_path) as f:
      for obj in json.load(f)['objects']:
        kinds[obj['geometryType']] += 1
        kinds['hole'] += bool(obj.get('points', {}).get('interior'))
        kinds['neutral'] += obj['classTitle'] == 'neutral'
  assert min(kinds.values()) >= 2, kinds
  outside = sum(_has_outside_polygon(i.ann_path) for i in SDK_ITEMS)
  assert 5 <= outside < len(SDK_ITEMS)


@pytest.mark.parametrize('item', SDK_ITEMS, ids=lambda i: i.filename)
def test_mask_equals_the_sdk_drawing(item, mask_of):
  example, notes = _reader(SDK_PROJECT).read(item)
  got = mask_of(example)
  expected = np.asarray(
    Image.open(os.path.join(SDK_ROOT, 'masks', item.dataset, item.image_name))
  )
  np.testing.assert_array_equal(got, expected)
  assert bool(notes.get(problems.CLIPPED_POLYGON)) == _has_outside_polygon(
    item.ann_path
  )


# --- Hostile project folders ---------------------------------------------


def test_hostile_files_in_a_project_are_each_reported(tmp_path, project):
  img = os.path.join(project, 'ds1', 'img')
  ann = os.path.join(project, 'ds1', 'ann')
  (tmp_path / 'secret.png').write_bytes(b'outside the root')
  os.symlink(str(tmp_path / 'secret.png'), os.path.join(img, 'evil.png'))
  os.mkfifo(os.path.join(img, 'pipe.png'))
  os.mkdir(os.path.join(img, 'folder.jpg'))
  for name in ('evil.png', 'pipe.png', 'folder.jpg'):
    with open(os.path.join(ann, name + '.json'), 'w') as f:
      json.dump({'size': _SIZE, 'objects': []}, f)
  tif = os.path.join(img, 'scan.tif')
  Image.fromarray(replica.noise_image(40, 48)).save(tif)
  with open(os.path.join(ann, 'scan.tif.json'), 'w') as f:
    json.dump({'size': _SIZE, 'objects': []}, f)
  latin = os.fsdecode(b'caf\xe9.png')
  with open(os.path.join(img, 'a.png'), 'rb') as f:
    png = f.read()
  with open(os.path.join(img, latin), 'wb') as f:
    f.write(png)
  with open(os.path.join(ann, latin + '.json'), 'w') as f:
    json.dump({'size': _SIZE, 'objects': []}, f)
  reader = _reader(project)
  outcomes = {}
  for item in supervisely.list_items(project):
    try:
      reader.read(item)
      outcomes[item.image_name] = 'ok'
    except problems.BadExample as e:
      outcomes[item.image_name] = e.problem
  assert outcomes == {
    'a.png': 'ok',
    'b.jpg': 'ok',
    'c.png': 'ok',
    'evil.png': problems.OUTSIDE_ROOT,
    'pipe.png': problems.NOT_A_FILE,
    'folder.jpg': problems.NOT_A_FILE,
    'scan.tif': problems.UNSUPPORTED_IMAGE,
    latin: problems.BAD_FILE_NAME,
  }


def test_a_dataset_folder_without_img_is_refused_by_name(tmp_path, project):
  os.rename(
    os.path.join(project, 'ds2', 'img'), os.path.join(project, 'ds2', 'images')
  )
  with pytest.raises(FileNotFoundError) as error:
    supervisely.layout(data_config.build('people', project))
  assert str(error.value) == (
    f'{os.path.join(project, "ds2")}: a Supervisely dataset folder holds '
    "img/ and ann/, but this one has ['ann', 'images']; rename its image "
    'folder to img/'
  )


def test_the_layout_is_the_whole_project_hashed_into_splits(project):
  """Only dataset folders are checked: not files (README.md sorts before
  them), nor hidden folders (a tool's .thumbs/images/)."""
  config = data_config.build('people', project)
  open(os.path.join(project, 'README.md'), 'w').close()
  os.makedirs(os.path.join(project, '.thumbs', 'images'))
  assert supervisely.layout(config) == source.Layout(
    project, (('all', 'meta.json'),), ('meta.json', '*/img/*', '*/ann/*')
  )
  # A dataset folder with annotations/ but no img/ is refused, after them.
  os.makedirs(os.path.join(project, 'ds9', 'annotations'))
  with pytest.raises(
    FileNotFoundError, match=r"this one has \['annotations'\]"
  ):
    supervisely.layout(config)


def test_a_label_set_gives_person_its_id_there(
  tmp_path, people_project, mask_of
):
  project = people_project(str(tmp_path / 'p'), 4)
  own = _reader(project)
  as_voc = supervisely.SuperviselySource(
    project, data_config.build('people', project, labels='voc')
  )
  person = labels.VOC_CLASSES.index('person')
  for item in own.list_keys('meta.json')[0]:
    mask, _ = own.read(item)
    renamed, _ = as_voc.read(item)
    want = mask_of(mask)
    assert (want == 1).any()
    np.testing.assert_array_equal(
      mask_of(renamed), np.where(want == 1, person, want)
    )
    assert renamed.source == item.dataset


_META_EXPECTED = '; expected {"classes": [{"title": ..., "shape": ...}, ...]}'


@pytest.mark.parametrize(
  'text,error',
  [
    (
      '{"classes": [',
      'bad_annotation: not valid JSON (truncated?): Expecting value: line 1 '
      'column 14 (char 13)',
    ),
    ('[]', 'wrong_json_type: meta.json is a list, expected an object'),
    (
      '{"classes": {}}',
      'wrong_json_type: classes is an object, expected a list',
    ),
    (
      '{"classes": [3]}',
      'wrong_json_type: classes[0] is a number, expected an object',
    ),
    (
      '{"classes": [{"title": 5}]}',
      'wrong_json_type: classes[0].title is a number, expected a string',
    ),
    (
      '{"classes": [{"title": "a", "shape": NaN}]}',
      'non_finite_number: the file holds NaN, which is not a number: JSON '
      'numbers must be finite',
    ),
  ],
  ids=['truncated', 'list', 'classes', 'class', 'title', 'nan'],
)
def test_a_malformed_meta_json_fails_naming_the_file(tmp_path, text, error):
  (tmp_path / 'meta.json').write_text(text)
  with pytest.raises(ValueError) as raised:
    supervisely.read_shapes(str(tmp_path))
  assert str(raised.value) == f'{tmp_path}/meta.json: {error}{_META_EXPECTED}'


def test_meta_json_without_classes_or_shapes_reads_as_empty(tmp_path):
  meta = tmp_path / 'meta.json'
  meta.write_text('{}')
  assert supervisely.read_shapes(str(tmp_path)) == {}
  meta.write_text(
    '{"classes": [{"title": "a"}, {"title": "b", "shape": "bitmap"}]}'
  )
  assert supervisely.read_shapes(str(tmp_path)) == {'a': '', 'b': 'bitmap'}


def test_a_polygon_is_clipped_only_past_the_last_pixel(project):
  """Columns 0..47 and rows 0..39 are inside a 48 x 40 image: a vertex at
  x = 48 or y = 40 is outside, and the repair is counted."""
  path = _ann_path(project, 'ds1/a.png')
  notes = []
  for corner in ([47, 39], [48, 39], [47, 40]):
    with open(path, 'w') as f:
      json.dump(_poly([[0, 0], [corner[0], 0], corner]), f)
    notes.append(_read(project, 'ds1/a.png')[1])
  assert notes == [{}, {'clipped_polygon': 1}, {'clipped_polygon': 1}]


def test_an_objects_geometry_is_its_type_then_its_classes_then_its_fields(
  project, mask_of
):
  """Current objects name it (geometryType), legacy ones may (type);
  otherwise meta.json's shape for the class decides, and without one, a
  "bitmap" field."""
  path = _ann_path(project, 'ds1/a.png')
  blob = np.zeros((3, 4), bool)
  blob[1:, 1:3] = True
  bitmap = {'data': replica.bitmap_data(blob), 'origin': [5, 7]}
  want = np.zeros((40, 48), np.uint8)
  want[8:10, 6:8] = 1

  def write(obj):
    with open(path, 'w') as f:
      json.dump({'size': _SIZE, 'objects': [obj]}, f)

  # A legacy `type` overrides the class's polygon shape.
  write({'classTitle': 'person_poly', 'type': 'bitmap', 'bitmap': bitmap})
  np.testing.assert_array_equal(mask_of(_read(project, 'ds1/a.png')[0]), want)
  # Without one, the class's shape: a bitmap class needs its bitmap.
  write({'classTitle': 'person_bmp', 'points': {'exterior': _TRIANGLE}})
  _expect_bad(
    project,
    'ds1/a.png',
    problems.BAD_ANNOTATION,
    path,
    'objects[0] has no "bitmap"',
  )
  write({'classTitle': 'person_bmp', 'geometryType': 5})
  _expect_bad(
    project,
    'ds1/a.png',
    problems.WRONG_TYPE,
    path,
    'objects[0].geometryType is a number, expected a string',
  )
  # A class without a shape: the object's bitmap field decides.
  meta_path = os.path.join(project, 'meta.json')
  with open(meta_path) as f:
    meta = json.load(f)
  for entry in meta['classes']:
    entry.pop('shape')
  with open(meta_path, 'w') as f:
    json.dump(meta, f)
  write({'classTitle': 'person_poly', 'bitmap': bitmap})
  np.testing.assert_array_equal(mask_of(_read(project, 'ds1/a.png')[0]), want)


@pytest.mark.parametrize(
  'ann,problem,detail',
  [
    ({'objects': []}, problems.BAD_ANNOTATION, 'the annotation has no "size"'),
    (
      {'size': [40, 48], 'objects': []},
      problems.WRONG_TYPE,
      'size is a list, expected an object',
    ),
    (
      {'size': _SIZE},
      problems.BAD_ANNOTATION,
      'the annotation has no "objects"',
    ),
    (
      {'size': _SIZE, 'objects': [5]},
      problems.WRONG_TYPE,
      'objects[0] is a number, expected an object',
    ),
  ],
  ids=['no_size', 'size_type', 'no_objects', 'object_type'],
)
def test_a_missing_or_mistyped_size_or_object_is_refused_in_those_words(
  project, ann, problem, detail
):
  path = _ann_path(project, 'ds1/a.png')
  with open(path, 'w') as f:
    json.dump(ann, f)
  with pytest.raises(problems.BadExample) as error:
    _read(project, 'ds1/a.png')
  assert (error.value.problem, error.value.path, error.value.detail) == (
    problem,
    path,
    detail,
  )


def test_the_vertex_limit_counts_every_polygon_up_to_its_bound(project):
  """10 polygons of 10,000 vertices are at the bound of 100,000: read;
  one triangle more is over it."""
  ring = [[i % 48, (i // 48) % 40] for i in range(10_000)]
  objects = _poly(ring)['objects'] * 10
  _write_objects(project, 'ds1/a.png', objects)
  _read(project, 'ds1/a.png')
  path = _write_objects(
    project, 'ds1/a.png', objects + _poly(_TRIANGLE)['objects']
  )
  _expect_bad(
    project,
    'ds1/a.png',
    problems.TOO_MANY_VERTICES,
    path,
    'its polygons have more than 100000 vertices in all',
  )


def test_each_clipped_object_is_counted(project):
  outside = [[-5, 1], [20, 1], [20, 60]]
  blob = {'data': replica.bitmap_data(np.ones((3, 3), bool)), 'origin': [46, 0]}
  objects = (
    _poly(outside)['objects'] * 3
    + [{'classTitle': 'person_bmp', 'geometryType': 'bitmap', 'bitmap': blob}]
    * 2
  )
  _write_objects(project, 'ds1/a.png', objects)
  assert _read(project, 'ds1/a.png')[1] == {
    'clipped_polygon': 3,
    'clipped_bitmap': 2,
  }


def test_a_file_gone_after_listing_is_reported_as_missing(project):
  image = os.path.join(project, 'ds1', 'img', 'a.png')
  item = _one_item(project, 'ds1/a.png')
  os.remove(image)
  with pytest.raises(problems.BadExample) as error:
    _reader(project).read(item)
  assert (error.value.problem, error.value.path) == (
    problems.MISSING_IMAGE,
    image,
  )
  item = _one_item(project, 'ds1/b.jpg')
  os.remove(_ann_path(project, 'ds1/b.jpg'))
  with pytest.raises(problems.BadExample) as error:
    _reader(project).read(item)
  assert (error.value.problem, error.value.path) == (
    problems.MISSING_MASK,
    _ann_path(project, 'ds1/b.jpg'),
  )


def test_an_image_one_pixel_high_is_read_and_a_size_of_zero_is_not(
  project, mask_of
):
  Image.fromarray(replica.noise_image(1, 5)).save(
    os.path.join(project, 'ds1', 'img', 'a.png')
  )
  path = _ann_path(project, 'ds1/a.png')
  with open(path, 'w') as f:
    json.dump({'size': {'height': 1, 'width': 5}, 'objects': []}, f)
  example, _ = _read(project, 'ds1/a.png')
  assert mask_of(example).shape == (1, 5)
  with open(path, 'w') as f:
    json.dump({'size': {'height': 0, 'width': 5}, 'objects': []}, f)
  with pytest.raises(problems.BadExample) as error:
    _read(project, 'ds1/a.png')
  assert error.value.detail.startswith('size.height is 0')


def test_listing_pairs_by_name_or_stem_and_skips_hidden_entries(tmp_path):
  """Hidden folders and files (.thumbs/, .DS_Store) are not data; a
  dataset without ann/ still lists its images; an annotation pairs with
  `<image name>.json` or `<stem>.json`, the stem cut at the last dot."""
  root = tmp_path / 'p'
  for folder in ('ds/img', 'ds/ann', 'bare/img', '.thumbs/img'):
    (root / folder).mkdir(parents=True)
  for name in (
    'ds/img/photo.v2.png',
    'ds/img/.DS_Store',
    'ds/ann/photo.v2.json',
    'ds/ann/orphan.png.json',
    'bare/img/b.png',
    '.thumbs/img/t.png',
  ):
    (root / name).write_bytes(b'')
  project = str(root)
  assert supervisely.list_items(project) == [
    supervisely.Item('bare', 'b.png', f'{project}/bare/img/b.png', None),
    supervisely.Item(
      'ds',
      'photo.v2.png',
      f'{project}/ds/img/photo.v2.png',
      f'{project}/ds/ann/photo.v2.json',
    ),
    supervisely.Item(
      'ds', 'orphan.png', None, f'{project}/ds/ann/orphan.png.json'
    ),
  ]
