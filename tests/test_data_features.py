"""data.features: the foreground buckets the Evaluator slices by."""

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
def test_foreground_bucket_edges(fraction, bucket):
  assert features.foreground_bucket(fraction) == bucket
  assert bucket in features.FOREGROUND_BUCKETS


@pytest.mark.parametrize('fraction', [-0.01, 1.01, float('nan')])
def test_foreground_bucket_refuses_values_outside_0_1(fraction):
  with pytest.raises(ValueError, match='outside'):
    features.foreground_bucket(fraction)
