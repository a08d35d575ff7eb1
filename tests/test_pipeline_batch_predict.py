"""pipeline.batch_predict: the CLI on hostile photos, in worker processes."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from data import problems
from tests.fixtures import hostile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args, timeout=600):
  return subprocess.run(
    [sys.executable, '-m', 'pipeline.batch_predict', *args],
    cwd=ROOT,
    env=dict(os.environ, PYTHONPATH=ROOT),
    capture_output=True,
    text=True,
    timeout=timeout,
  )


def test_help_says_which_options_go_to_beam():
  completed = _cli('--help', timeout=120)
  assert completed.returncode == 0, completed.stderr
  text = ' '.join(completed.stdout.split())
  assert 'goes to Beam as a pipeline option' in text
  for option in ('--runner', '--temp_location', '--setup_file', '--verbose'):
    assert option in text


def test_a_missing_model_is_one_error_line(tmp_path):
  completed = _cli(
    f'--model={tmp_path}', f'--input={tmp_path}', f'--output_dir={tmp_path}'
  )
  assert completed.returncode == 2
  assert completed.stderr.strip().splitlines() == [
    f'error: --model={tmp_path}: neither a .tflite file nor a SavedModel '
    'folder (no saved_model.pb)'
  ]


@pytest.mark.slow
def test_hostile_photos_are_named_and_odd_ones_segmented_quietly(
  tmp_path, small_pushed_model
):
  from components import inference
  from data import images

  photos = str(tmp_path / 'photos')
  expected = hostile.photo_folder(photos, str(tmp_path / 'outside'))
  out = str(tmp_path / 'out')
  # In worker processes, which must be quiet too (TF_CPP_MIN_LOG_LEVEL and
  # PYTHONWARNINGS reach them); Beam options pass through.
  completed = _cli(
    f'--model={small_pushed_model}',
    f'--input={photos}',
    f'--output_dir={out}',
    '--overlays',
    '--direct_running_mode=multi_processing',
    '--direct_num_workers=2',
  )
  assert completed.returncode == 0, completed.stderr
  assert completed.stderr == ''  # No warnings, no TensorFlow C++ lines.
  bad = {name: kind for name, kind in expected.items() if kind}
  good = sorted(name for name, kind in expected.items() if not kind)
  assert completed.stdout.splitlines()[0] == (
    f'{len(good)} masks in {out}/masks, described in predictions.jsonl'
  )
  with open(os.path.join(out, 'errors.jsonl'), encoding='utf-8') as f:
    errors = [json.loads(line) for line in f]
  # Each refused photo once, by name; a non-UTF-8 name \x-escaped.
  assert sorted(os.path.relpath(e['input'], photos) for e in errors) == sorted(
    problems.printable(name) for name in bad
  )
  assert {
    os.path.relpath(e['input'], photos): e['problem'] for e in errors
  } == {problems.printable(name): kind for name, kind in bad.items()}
  with open(os.path.join(out, 'predictions.jsonl'), encoding='utf-8') as f:
    lines = {
      os.path.relpath(line['input'], photos): line
      for line in map(json.loads, f)
    }
  assert sorted(lines) == good
  model = inference.load_model(small_pushed_model)
  for name in good:
    with open(os.path.join(photos, name), 'rb') as f:
      photo = images.read_photo(f.read(), name, 10**8)
    stem = os.path.splitext(name)[0]
    with Image.open(os.path.join(out, 'masks', stem + '.png')) as mask:
      mask = np.asarray(mask)
    with Image.open(os.path.join(out, 'overlays', stem + '.png')) as tinted:
      assert tinted.size == mask.shape[::-1] and tinted.mode == 'RGB'
    assert (
      mask.shape
      == photo.shape[:2]
      == (
        lines[name]['height'],
        lines[name]['width'],
      )
    )
    # Batches of 8 and of 1 may round differently in the last float bit.
    assert np.mean(mask == inference.segment(model, photo)) >= 0.999, name
  # Shown upright: stored 40 x 60, the EXIF tag turns it to 60 x 40.
  assert lines['odd/rotated.jpg']['height'] == 60
  assert lines['big.jpg']['height'] == 3000


@pytest.mark.slow
def test_a_tflite_job_defaults_to_a_worker_per_core_quietly_within_bound(
  tmp_path, small_pushed_model, max_tree_rss
):
  """With a .tflite file and no Beam options: worker processes that hold no
  TensorFlow, tflite_runtime's XNNPACK line off stderr (it ignores
  TF_CPP_MIN_LOG_LEVEL), the hostile folder within the memory bound of the
  whole process tree; --verbose brings the line back."""
  from bench import process_tree

  photos = str(tmp_path / 'photos')
  expected = hostile.photo_folder(photos, str(tmp_path / 'outside'))
  out = str(tmp_path / 'out')
  measured = process_tree.run(
    [
      sys.executable,
      '-m',
      'pipeline.batch_predict',
      f'--model={small_pushed_model}/model.tflite',
      f'--input={photos}',
      f'--output_dir={out}',
    ],
    cwd=ROOT,
    env=dict(os.environ, PYTHONPATH=ROOT),
    timeout=600,
  )
  assert measured.returncode == 0, measured.stderr
  assert measured.stderr == ''
  assert measured.peak_rss < max_tree_rss, measured.peak_rss / 2**20
  good = sum(1 for kind in expected.values() if not kind)
  assert measured.stdout.splitlines()[0].startswith(f'{good} masks in ')
  # Without the quiet settings a test before may have left in os.environ.
  env = {
    k: v
    for k, v in os.environ.items()
    if k not in ('TF_CPP_MIN_LOG_LEVEL', 'PYTHONWARNINGS')
  }
  verbose = subprocess.run(
    [
      sys.executable,
      '-m',
      'pipeline.batch_predict',
      f'--model={small_pushed_model}/model.tflite',
      f'--input={photos}/big.jpg',
      f'--output_dir={tmp_path / "verbose"}',
      '--verbose',
    ],
    cwd=ROOT,
    env=dict(env, PYTHONPATH=ROOT),
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert verbose.returncode == 0, verbose.stderr
  assert 'XNNPACK' in verbose.stderr
