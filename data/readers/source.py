"""The reader contract: a dataset's layout and the source that reads it.

Light on purpose (no Beam, no TensorFlow): readers, the registry and the
settings import it, and the Beam steps that drive a source (data/ingest.py)
are the only ones that need Beam.
"""

import abc
import dataclasses
import hashlib
import math
from typing import Any, Dict, Iterator, List, Optional, Tuple

from data import example_proto
from data import features
from data import problems

# Fraction of a single-split dataset (Supervisely) that goes to eval by
# default: 10%, the share of Supervisely Person's 5,711 images that gives
# ~570 eval images, enough for a stable mIoU, while keeping 90% for training.
DEFAULT_EVAL_FRACTION = 0.1
# Hash buckets of TFX's output split config; the eval fraction is rounded to
# a multiple of 1/HASH_BUCKETS.
HASH_BUCKETS = 1000
# The input split name of a dataset that is split by hash.
ALL = 'all'


def check_eval_fraction(eval_fraction: float) -> float:
  """The fraction, if it gives both train and eval hash buckets."""
  if not (
    isinstance(eval_fraction, (int, float))
    and math.isfinite(eval_fraction)
    and 0 < round(eval_fraction * HASH_BUCKETS) < HASH_BUCKETS
  ):
    raise ValueError(
      f'eval_fraction={eval_fraction}: must be in [{1 / HASH_BUCKETS}, '
      f'{1 - 1 / HASH_BUCKETS}] so that both train and eval get images'
    )
  return eval_fraction


def hash_bucket(filename: str, total_buckets: int) -> int:
  """Bucket of an example: sha256 of its serialized image/filename feature.

  The rule of TFX's ExampleGen with `partition_feature_name` (tfx/components/
  example_gen/base_example_gen_executor.py, _PartitionFn), so that a split
  made here and one made by stock TFX agree; it depends on the file name
  only, so an image never changes split when others are added or removed.
  """
  digest = hashlib.sha256(example_proto.bytes_feature(filename.encode()))
  return int(digest.hexdigest(), 16) % total_buckets


def is_eval(filename: str, eval_fraction: float) -> bool:
  """Whether the hash split puts image/filename `filename` in eval (the
  last round(eval_fraction * HASH_BUCKETS) buckets), as Layout's does."""
  eval_buckets = round(check_eval_fraction(eval_fraction) * HASH_BUCKETS)
  return hash_bucket(filename, HASH_BUCKETS) >= HASH_BUCKETS - eval_buckets


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where a dataset's files are, as ExampleGen and data.convert need it.

  input_base: the folder every pattern is relative to.
  input_splits: (split name, pattern) pairs; one split named ALL means the
    output is partitioned by hash, several are output splits as they are.
  fingerprint_patterns: globs whose files' names, sizes and mtimes make the
    cache fingerprint: change an image or a mask and ExampleGen runs again.
  """

  input_base: str
  input_splits: Tuple[Tuple[str, str], ...]
  fingerprint_patterns: Tuple[str, ...]

  def output_hash_buckets(
    self, eval_fraction: float
  ) -> Optional[List[Tuple[str, int]]]:
    """[(train, n), (eval, m)] when there is one input split, else None.

    Several input splits must already be exactly train and eval.
    """
    names = [name for name, _ in self.input_splits]
    if len(names) == 1:
      eval_buckets = round(check_eval_fraction(eval_fraction) * HASH_BUCKETS)
      return [
        (features.TRAIN_SPLIT, HASH_BUCKETS - eval_buckets),
        (features.EVAL_SPLIT, eval_buckets),
      ]
    if names != [features.TRAIN_SPLIT, features.EVAL_SPLIT]:
      raise ValueError(
        f'{self.input_base}: input splits {names}; expected '
        f'{[features.TRAIN_SPLIT, features.EVAL_SPLIT]}'
      )
    return None


class Source(abc.ABC):
  """A dataset: which keys an input split has, and how a key becomes an example.

  A reader's constructor takes (input_base, data.config.DataConfig).
  Instances are pickled to Beam workers: keep them to paths and small
  settings, and do the reading in the methods.
  """

  @abc.abstractmethod
  def list_keys(self, split_pattern: str) -> Tuple[List[Any], Dict[str, int]]:
    """(keys, notes) of one input split; notes count e.g. excluded ids."""

  @abc.abstractmethod
  def read(self, key: Any):
    """(example.SegmentationExample, notes) of one key.

    Raises problems.BadExample.
    """

  def read_all(self, key: Any) -> Iterator[Any]:
    """Each example a key holds, as (example, notes) or a BadExample.

    One per key for files of images; a source whose key is a file of many
    examples (a TFRecord shard) overrides this.
    """
    try:
      yield self.read(key)
    except problems.BadExample as e:
      yield e


@dataclasses.dataclass(frozen=True)
class NoOptions:
  """The options of a format that has no settings of its own."""
