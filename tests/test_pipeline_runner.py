"""pipeline_runner.py: bad input ends in one error line before any work."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*flags):
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, 'pipeline_runner.py'), *flags],
      cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('flags,message', [
    (['--dataset=coco'], 'flag --dataset=coco: value should be one of'),
    (['--dataset=voc'], '--data_root is required with --dataset=voc'),
    (['--dataset=people', '--data_root=/no/such/dir'],
     '--data_root=/no/such/dir: no such directory'),
    (['--output_dir=/proc/forbidden'], '--output_dir=/proc/forbidden is not '
     'writable'),
    (['--input_size=100'], 'input_size=100'),
    (['--output_stride=4'], 'output_stride=4'),
    (['--train_steps=-5'], 'train_steps=-5'),
    (['--aspp=maybe'], 'flag --aspp=maybe'),
    (['--output_dir=gs://bucket/runs'], 'runner=local needs a local folder'),
    (['--runner=vertex', '--dataset=people', f'--data_root={ROOT}'],
     'runner=vertex needs the container image (--image)'),
    (['--runner=vertex', '--image=gcr.io/p/i:1'],
     'runner=vertex needs a real dataset'),
])
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, flags, message):
  if not any(f.startswith('--output_dir') for f in flags):
    flags = flags + [f'--output_dir={tmp_path}']
  completed = run(*flags)
  assert completed.returncode == 2
  lines = completed.stderr.strip().splitlines()
  assert len(lines) == 1, completed.stderr
  assert lines[0].startswith('error: ') and message in lines[0]
  assert 'Loading TFX' not in completed.stdout


def test_help_lists_the_flags():
  completed = run('--helpshort')
  assert completed.returncode == 1  # absl's convention for --help
  for flag in ('--dataset', '--data_root', '--output_dir', '--backbone',
               '--input_size', '--train_steps', '--batch_size', '--runner',
               '--beam_pipeline_args', '--preset'):
    assert flag in completed.stdout
