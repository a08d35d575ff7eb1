"""data.readers.source: the reader contract and the hash split, Beam-free."""

import subprocess
import sys

import pytest

from data.readers import source


def test_the_contract_imports_neither_beam_nor_tensorflow():
  code = (
    'import sys\n'
    'from data.readers import source\n'
    'print(sorted(m for m in sys.modules if m.split(".")[0] in '
    '("apache_beam", "tensorflow", "tfx")))'
  )
  result = subprocess.run(
    [sys.executable, '-c', code], capture_output=True, text=True, check=True
  )
  assert result.stdout.strip() == '[]'


def test_is_eval_is_the_layouts_hash_split():
  names = [f'img{i}.png' for i in range(400)]
  layout = source.Layout('/d', ((source.ALL, '*'),), ())
  (_, train), (_, eval_) = layout.output_hash_buckets(0.25)
  assert (train, eval_) == (750, 250)
  in_eval = [n for n in names if source.is_eval(n, 0.25)]
  assert in_eval == [
    n for n in names if source.hash_bucket(n, source.HASH_BUCKETS) >= 750
  ]
  assert 60 < len(in_eval) < 140


def test_several_input_splits_must_be_train_and_eval():
  layout = source.Layout('/d', (('train', 'a'), ('test', 'b')), ())
  with pytest.raises(ValueError, match="input splits \\['train', 'test'\\]"):
    layout.output_hash_buckets(0.1)
