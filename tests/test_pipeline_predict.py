"""pipeline.predict: what it reads and writes, with a stand-in segmenter."""

import os

import numpy as np
from PIL import Image
import pytest

from data import problems
from pipeline import predict
from tests.fixtures import hostile


def _halves(image):
  """Class 1 on the right half: a segmenter whose output is known."""
  ids = np.zeros(image.shape[:2], np.int64)
  ids[:, image.shape[1] // 2 :] = 1
  return ids


def test_same_stems_in_different_folders_get_distinct_outputs(tmp_path):
  paths = []
  for folder, size in (('a', (10, 12)), ('b', (20, 8)), ('c', (6, 6))):
    os.mkdir(tmp_path / folder)
    path = str(tmp_path / folder / 'photo.png')
    Image.fromarray(np.zeros(size + (3,), np.uint8)).save(path)
    paths.append(path)
  out = str(tmp_path / 'out')
  written = predict.predict_files(_halves, ['bg', 'fg'], paths, out)
  assert [os.path.basename(p) for p in written] == [
    'photo_overlay.png',
    'photo_mask.png',
    'photo-2_overlay.png',
    'photo-2_mask.png',
    'photo-3_overlay.png',
    'photo-3_mask.png',
  ]
  # Each mask is its own input's, at that input's size.
  for mask_path, size in zip(
    written[1::2], ((10, 12), (20, 8), (6, 6)), strict=True
  ):
    mask = np.asarray(Image.open(mask_path))
    assert mask.shape == size
    np.testing.assert_array_equal(mask, _halves(np.zeros(size)))


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
  values = np.array([[0, 256, 32768, 65535]], np.uint16)
  path = str(tmp_path / 'deep.png')
  Image.fromarray(values).save(path)
  photo = predict.read_photo(path, 10**6)
  assert photo.dtype == np.uint8 and photo.shape == (1, 4, 3)
  np.testing.assert_array_equal(photo[..., 0], [[0, 1, 128, 255]])
  np.testing.assert_array_equal(photo[..., 0], photo[..., 2])


def test_special_files_and_huge_images_are_refused(tmp_path):
  os.mkfifo(tmp_path / 'pipe.png')
  with pytest.raises(problems.BadExample, match='named pipe'):
    predict.read_photo(str(tmp_path / 'pipe.png'), 10**6)
  (tmp_path / 'huge.png').write_bytes(hostile.header_bomb_png(13_000, 13_000))
  with pytest.raises(problems.BadExample) as error:
    predict.read_photo(str(tmp_path / 'huge.png'), 40_000_000)
  assert error.value.problem == problems.IMAGE_TOO_LARGE
  with pytest.raises(problems.BadExample, match='no such file'):
    predict.read_photo(str(tmp_path / 'none.png'), 10**6)
