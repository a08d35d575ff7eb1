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


@pytest.mark.parametrize('fraction', [0.001, 0.5, 0.999])
def test_an_eval_fraction_of_one_bucket_up_to_all_but_one_is_taken(fraction):
  """1,000 hash buckets: 0.001 gives eval one, 0.999 leaves train one."""
  assert source.check_eval_fraction(fraction) == fraction


@pytest.mark.parametrize('fraction', [0.0, 0.0004, 0.9996, 1.0, float('nan')])
def test_an_eval_fraction_that_empties_a_split_is_refused(fraction):
  with pytest.raises(ValueError) as error:
    source.check_eval_fraction(fraction)
  assert str(error.value) == (
    f'eval_fraction={fraction}: must be in [0.001, 0.999] so that both '
    'train and eval get images'
  )
