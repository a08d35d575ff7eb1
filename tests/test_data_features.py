"""data.features: the foreground buckets the Evaluator slices on."""

import pytest

from data import features


@pytest.mark.parametrize(
  'fraction,bucket',
  [
    (0.0, '[0, 0.05)'),
    (0.0499, '[0, 0.05)'),
    (0.05, '[0.05, 0.25)'),
    (0.2499, '[0.05, 0.25)'),
    (0.25, '[0.25, 1]'),
    (1.0, '[0.25, 1]'),
  ],
)
def test_foreground_bucket_bounds(fraction, bucket):
  assert features.foreground_bucket(fraction) == bucket
  assert bucket in features.FOREGROUND_BUCKETS


def test_foreground_bucket_refuses_fractions_outside_0_1():
  for bad in (-0.1, 1.01, float('nan')):
    with pytest.raises(ValueError, match='must be in'):
      features.foreground_bucket(bad)
