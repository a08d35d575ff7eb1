"""components.batch_inference: the Beam job's listing, masks and reruns.

Masks are compared with the SavedModel's serving_images signature and with
the TFLite file's own prediction, computed here photo by photo. The fast
tests run the job on a committed tiny TFLite file
(tests/fixtures/tiny_segmenter), the slow ones on a trained model.
"""

import json
import os

import apache_beam as beam
from apache_beam.ml.inference import base
import numpy as np
from PIL import Image
import pytest

from components import batch_inference
from data import problems
from pipeline import visualize
from tests.fixtures import tiny_model


def _photo(path, height, width, seed=0):
  """A smooth photo with structure (noise would not segment in bands)."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width]
  base = (np.sin(x / (7 + seed)) + np.cos(y / 5)) * 60 + 128
  image = np.stack([base, base[::-1], base[:, ::-1]], -1)
  image = image + rng.normal(0, 8, image.shape)
  pixels = np.clip(image, 0, 255).astype(np.uint8)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(pixels).save(path)
  return pixels


def _run(job, tint=None, beam_args=('--direct_running_mode=in_memory',)):
  with beam.Pipeline(argv=list(beam_args)) as pipeline:
    _ = pipeline | batch_inference.PredictMasks(job, tint)


def _lines(output_dir, name):
  with open(os.path.join(output_dir, name), encoding='utf-8') as f:
    return [json.loads(line) for line in f]


def _mask(output_dir, stem):
  path = os.path.join(output_dir, batch_inference.MASKS_DIR, stem + '.png')
  with Image.open(path) as image:
    assert image.mode == 'L'
    return np.asarray(image)


# --- Listing: no model, no TensorFlow ---------------------------------------


def test_folder_walk_takes_photo_names_and_reports_directories(tmp_path):
  for name in ('a.jpg', 'sub/b.PNG', 'sub/deeper/c.jpeg', 'notes.txt'):
    os.makedirs(os.path.dirname(tmp_path / 'in' / name), exist_ok=True)
    (tmp_path / 'in' / name).write_bytes(b'x')
  os.mkdir(tmp_path / 'in' / 'x.jpg')
  job = batch_inference.Job('m.tflite', str(tmp_path / 'in'), 'out')
  listed = {
    os.fsdecode(p): os.fsdecode(s) for p, s in batch_inference.list_photos(job)
  }
  root = str(tmp_path / 'in')
  assert listed == {
    os.path.join(root, 'a.jpg'): 'a',
    os.path.join(root, 'sub', 'b.PNG'): os.path.join('sub', 'b'),
    os.path.join(root, 'sub', 'deeper', 'c.jpeg'): os.path.join(
      'sub', 'deeper', 'c'
    ),
    os.path.join(root, 'x.jpg'): 'x',
  }


def test_glob_is_relative_to_its_fixed_folder_and_stems_stay_distinct(
  tmp_path,
):
  for name in ('a/x.jpg', 'a/x.png', 'b/y.jpg', 'b/z.txt'):
    os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
    (tmp_path / name).write_bytes(b'x')
  job = batch_inference.Job('m.tflite', str(tmp_path / '*' / '*.*g'), 'o')
  assert job.root() == str(tmp_path)
  assert sorted(
    os.fsdecode(s) for _, s in batch_inference.list_photos(job)
  ) == [
    os.path.join('a', 'x.jpg'),
    os.path.join('a', 'x.png'),
    os.path.join('b', 'y'),
  ]
  one = batch_inference.Job('m.tflite', str(tmp_path / 'b' / 'y.jpg'), 'o')
  assert list(batch_inference.list_photos(one)) == [
    (os.fsencode(tmp_path / 'b' / 'y.jpg'), b'y')
  ]


@pytest.mark.parametrize(
  'setting, good, bad',
  [
    ('batch_size', (1, 1024), (0, 1025)),
    ('max_image_pixels', (1, 2**31), (0, 2**31 + 1)),
  ],
)
def test_settings_are_checked_at_both_ends(setting, good, bad):
  for value in good:
    job = batch_inference.Job('m.tflite', 'in', 'out', **{setting: value})
    assert getattr(job, setting) == value
  for value in bad:
    with pytest.raises(ValueError, match=f'^{setting}={value}: must be 1 to'):
      batch_inference.Job('m.tflite', 'in', 'out', **{setting: value})


def test_missing_models_and_inputs_are_refused_before_any_work(tmp_path):
  tflite = str(tmp_path / 'm.tflite')
  with pytest.raises(ValueError, match=f'^--model={tflite}: no such file$'):
    batch_inference.Job(tflite, str(tmp_path), 'out').check()
  with pytest.raises(
    ValueError,
    match=f'^--model={tmp_path}: neither a .tflite file nor a SavedModel '
    r'folder \(no saved_model.pb\)$',
  ):
    batch_inference.Job(str(tmp_path), str(tmp_path), 'out').check()
  (tmp_path / 'saved_model.pb').write_bytes(b'')
  batch_inference.Job(str(tmp_path), str(tmp_path), 'out').check()
  (tmp_path / 'm.tflite').write_bytes(b'')
  with pytest.raises(ValueError, match='--input=.*none: no such folder'):
    batch_inference.Job(tflite, str(tmp_path / 'none'), 'out').check()
  # A glob need not exist as a path: its matches are listed later.
  batch_inference.Job(tflite, str(tmp_path / 'none' / '*.jpg'), 'o').check()


@pytest.mark.parametrize(
  'given, root',
  [
    ('in/p*.jpg', 'in'),  # The wildcard inside a name: its folder.
    ('photosX/*.jpg', 'photosX'),
    ('*.jpg', '.'),
    ('a/b/*/c/*.png', 'a/b'),
    ('photo.jpg', '.'),
    ('in/photo.jpg', 'in'),
  ],
)
def test_root_of_a_glob_or_a_file(given, root):
  assert batch_inference.Job('m.tflite', given, 'out').root() == root


def test_root_of_a_folder_drops_its_trailing_slash(tmp_path):
  folder = tmp_path / 'inX'
  folder.mkdir()
  for given in (str(folder), str(folder) + '/'):
    assert batch_inference.Job('m.tflite', given, 'o').root() == str(folder)
  assert batch_inference.Job('m.tflite', '/', 'o').root() == '/'


def test_bucket_paths_are_relative_to_the_bucket_folder():
  # A gs:// listing needs Google Cloud Storage; the path arithmetic does not.
  assert (
    batch_inference._relative('gs://b/in/sub/p.jpg', 'gs://b/in') == 'sub/p.jpg'
  )
  assert batch_inference._relative('gs://b/p.jpg', 'gs://b') == 'p.jpg'


# --- The job on a committed tiny TFLite file ---------------------------------


def test_job_writes_each_photo_s_mask_overlay_and_lines(tmp_path):
  # Names with spaces and letters beyond ASCII keep them, in the outputs'
  # paths and in the .jsonl files (rather than JSON escapes).
  sizes = {'one': (45, 70), 'sub/two': (16, 16), 'sub/deep/été 3': (33, 90)}
  photos = {
    stem: _photo(str(tmp_path / 'in' / (stem + '.png')), *size, seed=i)
    for i, (stem, size) in enumerate(sizes.items())
  }
  # A photo without the second class still lists it, at 0.
  blue = np.zeros((20, 30, 3), np.uint8)
  blue[..., 2] = 200
  Image.fromarray(blue).save(tmp_path / 'in' / 'blue.png')
  photos['blue'] = blue
  # Two of one kind are counted as two; a listed file gone when read is
  # missing.
  broken = [tmp_path / 'in' / 'sub' / n for n in ('broken.jpg', 'brisé.jpg')]
  for path in broken:
    path.write_bytes(b'not a jpeg')
  os.symlink(tmp_path / 'in' / 'nowhere.jpg', tmp_path / 'in' / 'gone.jpg')
  out = str(tmp_path / 'out')
  job = batch_inference.Job(
    tiny_model.TFLITE, str(tmp_path / 'in'), out, batch_size=2
  )
  _run(job, tint=visualize.overlay)
  lines = {line['input']: line for line in _lines(out, 'predictions.jsonl')}
  assert len(lines) == len(photos)
  for stem, photo in photos.items():
    want = tiny_model.class_ids(photo)
    assert (0 < want.mean() < 1) != (stem == 'blue'), stem
    np.testing.assert_array_equal(_mask(out, stem), want)
    overlay = os.path.join(out, 'overlays', stem + '.png')
    with Image.open(overlay) as image:
      np.testing.assert_array_equal(
        np.asarray(image), visualize.overlay(photo, want, 2)
      )
    path = str(tmp_path / 'in' / (stem + '.png'))
    assert lines[path] == {
      'input': path,
      'mask': os.path.join(out, 'masks', stem + '.png'),
      'overlay': overlay,
      'height': photo.shape[0],
      'width': photo.shape[1],
      'class_fractions': {
        'background': round(float(np.mean(want == 0)), 6),
        'person': round(float(np.mean(want == 1)), 6),
      },
    }
  assert lines[str(tmp_path / 'in' / 'blue.png')]['class_fractions'] == {
    'background': 1.0,
    'person': 0.0,
  }
  for name in ('errors.jsonl', 'predictions.jsonl'):
    with open(os.path.join(out, name), encoding='utf-8') as f:
      assert 'bris\\u' not in f.read()
  with open(os.path.join(out, 'predictions.jsonl'), encoding='utf-8') as f:
    assert 'été 3.png' in f.read()
  errors = sorted(_lines(out, 'errors.jsonl'), key=lambda e: e['input'])
  assert [(e['input'], e['problem']) for e in errors] == [
    (str(tmp_path / 'in' / 'gone.jpg'), problems.MISSING_IMAGE),
    *((str(path), problems.CORRUPT_IMAGE) for path in sorted(broken)),
  ]
  assert all(e['detail'].startswith('cannot decode') for e in errors[1:])
  assert batch_inference.count_lines(job) == {
    'masks': 4,
    'errors': {problems.CORRUPT_IMAGE: 2, problems.MISSING_IMAGE: 1},
  }


def test_a_photo_that_changed_before_its_overlay_is_an_errors_line(tmp_path):
  """The overlay reads the photo a second time: one that has become
  unreadable or gone since the first read gives an errors line and no
  file, rather than failing the job."""
  folder = tmp_path / 'in'
  folder.mkdir()
  (folder / 'corrupt.png').write_bytes(b'not a png')
  out = tmp_path / 'out'
  job = batch_inference.Job(tiny_model.TFLITE, str(folder), str(out))
  write = batch_inference._WriteMask(job, visualize.overlay)
  write.setup()
  scores = base.PredictionResult(None, np.zeros((16, 16, 2), np.float32))
  for name, problem in (
    ('corrupt.png', problems.CORRUPT_IMAGE),
    ('gone.png', problems.MISSING_IMAGE),
  ):
    path = str(folder / name)
    (output,) = write.process(((path, name[:-4], 5, 7), scores))
    assert output.tag == 'errors'
    line = json.loads(output.value)
    assert (line['input'], line['problem']) == (path, problem)
  assert not out.exists()


@pytest.mark.parametrize('tint', [None, visualize.overlay])
def test_rerun_skips_done_photos_and_overwrite_recomputes(tmp_path, tint):
  for i in range(3):
    _photo(str(tmp_path / 'in' / f'p{i}.jpg'), 40, 50 + i, seed=i)
  out = str(tmp_path / 'out')
  job = batch_inference.Job(tiny_model.TFLITE, str(tmp_path / 'in'), out)
  _run(job, tint)
  first = sorted(_lines(out, 'predictions.jsonl'), key=lambda x: x['input'])
  assert all(('overlay' in line) == bool(tint) for line in first)
  masks = [os.path.join(out, 'masks', f'p{i}.png') for i in range(3)]
  for mask in masks:
    os.utime(mask, (1, 1))
  os.remove(masks[2])
  if tint:  # With overlays, a photo is done once both files exist.
    os.remove(os.path.join(out, 'overlays', 'p0.png'))
  _run(job, tint)
  assert os.stat(masks[1]).st_mtime == 1  # Skipped, not written again.
  assert os.path.isfile(masks[2])  # Redone.
  assert (os.stat(masks[0]).st_mtime > 1) == bool(tint)
  second = sorted(_lines(out, 'predictions.jsonl'), key=lambda x: x['input'])
  assert second == first
  _run(
    batch_inference.Job(
      tiny_model.TFLITE, str(tmp_path / 'in'), out, overwrite=True
    ),
    tint,
  )
  assert os.stat(masks[1]).st_mtime > 1


# --- The job on a small model -----------------------------------------------


@pytest.mark.slow
def test_masks_are_serving_images_and_tflite_predictions_at_photo_size(
  tmp_path, small_pushed_model
):
  import tensorflow as tf

  from components.tflite_runner import TFLiteSegmenter

  sizes = {'one': (45, 70), 'sub/two': (64, 64), 'sub/deep/three': (33, 90)}
  photos = {
    stem: _photo(str(tmp_path / 'in' / (stem + '.png')), *size, seed=i)
    for i, (stem, size) in enumerate(sizes.items())
  }
  serve = tf.saved_model.load(small_pushed_model).signatures['serving_images']
  with open(os.path.join(small_pushed_model, 'model.tflite'), 'rb') as f:
    tflite = TFLiteSegmenter(f.read())
  for model, expected in (
    (
      small_pushed_model,
      lambda p: serve(images=tf.constant(p[None]))['class_ids'][0].numpy(),
    ),
    (os.path.join(small_pushed_model, 'model.tflite'), tflite.segment),
  ):
    out = str(tmp_path / os.path.basename(model))
    job = batch_inference.Job(model, str(tmp_path / 'in'), out, batch_size=2)
    _run(job)
    lines = {line['input']: line for line in _lines(out, 'predictions.jsonl')}
    assert len(lines) == 3 and not _lines(out, 'errors.jsonl')
    for stem, photo in photos.items():
      mask = _mask(out, stem)
      want = expected(photo)
      assert mask.shape == photo.shape[:2]
      assert 0 < want.mean() < 1, 'the model should see two classes'
      assert np.mean(mask == want) >= 0.999, model
      line = lines[str(tmp_path / 'in' / (stem + '.png'))]
      assert line['mask'] == os.path.join(out, 'masks', stem + '.png')
      assert (line['height'], line['width']) == photo.shape[:2]
      assert line['class_fractions'] == pytest.approx(
        {'background': np.mean(mask == 0), 'person': np.mean(mask == 1)},
        abs=1e-6,
      )


_JOB_IN_A_FRESH_PROCESS = """
import sys
import apache_beam as beam
from components import batch_inference
job = batch_inference.Job({model!r}, {photos!r}, {out!r})
with beam.Pipeline(argv=['--direct_running_mode=in_memory']) as pipeline:
  _ = pipeline | batch_inference.PredictMasks(job, None)
print(sorted(m for m in sys.modules if m.split('.')[0] in
             ('tensorflow', 'tf_keras', 'tfx', 'tensorflow_transform')))
"""


def test_a_tflite_job_runs_without_tensorflow(tmp_path):
  """Workers with a .tflite file import no TensorFlow (0.6 GB each): the
  whole job, run in a fresh process, leaves no TensorFlow module loaded,
  and its mask is the one computed by hand."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  model = tiny_model.TFLITE
  photo = _photo(str(tmp_path / 'in' / 'a.png'), 61, 83)
  out = str(tmp_path / 'out')
  code = _JOB_IN_A_FRESH_PROCESS.format(
    model=model, photos=str(tmp_path / 'in'), out=out
  )
  completed = subprocess.run(
    [sys.executable, '-c', code],
    capture_output=True,
    text=True,
    timeout=300,
    check=True,
  )
  assert completed.stdout.strip().splitlines()[-1] == '[]'
  np.testing.assert_array_equal(_mask(out, 'a'), tiny_model.class_ids(photo))
