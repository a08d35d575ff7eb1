"""components.model_card: every number of the card comes from its facts."""

import dataclasses
import os

import pytest

from components import model_card
from components.evaluation import SliceScores
from model import metrics
from model.config import ModelConfig
from model.config import TrainConfig

LABELS = ['background', 'person', 'cat']


def _facts(**changes):
  scores = metrics.Scores(
    mean_iou=0.7531,
    per_class_iou={'background': 0.9412, 'person': 0.565, 'cat': None},
    pixel_accuracy=0.95,
    mean_boundary_iou=0.4123,
    per_class_boundary_iou={'background': 0.51, 'person': 0.3146, 'cat': None},
    label_pixels={'background': 900, 'person': 100, 'cat': 0},
    images=12,
    void_images=0,
  )
  empty = SliceScores(
    0, None, dict.fromkeys(LABELS), None, dict.fromkeys(LABELS)
  )
  values = dict(
    version='1700000000',
    dataset='supervisely',
    model=ModelConfig(
      backbone='mobilenet_v3_small', head='lraspp', num_classes=3
    ),
    params=123456,
    # Values where a rounding off by one unit shows: 98.75 M, 1.05 KB.
    madds=98_750_000,
    file_bytes={'model.tflite': 2048, 'model_int8.tflite': 1076},
    labels=LABELS,
    num_examples={'train': 100, 'eval': 12},
    sources={'train': {'ds1': 60, 'ds2': 40}, 'eval': {'ds1': 12}},
    train=dataclasses.asdict(TrainConfig(train_steps=1234, batch_size=16)),
    metrics=scores,
    metrics_by_slice={
      'source': {
        'ds1': SliceScores(
          12,
          0.7531,
          scores.per_class_iou,
          0.4123,
          scores.per_class_boundary_iou,
        ),
        'ds2': empty,
      },
      'foreground_fraction': {
        '[0, 0.05)': SliceScores(
          3, 0.2222, scores.per_class_iou, 0.1111, scores.per_class_boundary_iou
        ),
        '[0.05, 0.25)': empty,
        '[0.25, 1]': SliceScores(
          9, 0.8888, scores.per_class_iou, 0.5555, scores.per_class_boundary_iou
        ),
      },
    },
    metrics_tflite={
      'float': dataclasses.replace(scores, mean_iou=0.7529),
      'fp16': dataclasses.replace(scores, mean_iou=0.7528),
      'int8': dataclasses.replace(scores, mean_iou=0.7012),
    },
  )
  values.update(changes)
  return model_card.ModelCardFacts(**values)


def test_card_sections_carry_the_facts():
  card = model_card.render(_facts())
  for section in (
    '## Model',
    '## Data',
    '## Training recipe',
    '## Metrics',
    '## How to use it',
    '## Limitations',
  ):
    assert section in card
  assert '| backbone | mobilenet_v3_small x1.0 |' in card
  assert 'LR-ASPP' in card
  assert '| parameters | 123,456 |' in card
  assert '| multiply-adds per image | 98.8 M |' in card
  assert '| `model_int8.tflite` | 1.1 KB |' in card
  assert '| train | 100 | ds1 (60), ds2 (40) |' in card
  assert '| steps | 1234 |' in card and '| batch | 16 |' in card
  assert '| SavedModel | 0.7531 | 0.4123 |' in card
  assert '| `model_int8.tflite` | 0.7012 | 0.4123 |' in card
  assert '| person | 0.5650 | 0.3146 | 100 |' in card
  assert '| cat | n/a | n/a | 0 |' in card
  assert '| source = ds2 | 0 | n/a | n/a |' in card
  assert 'ImageSegmenter' in card and "model_asset_path='model_fp16" in card
  assert 'nan' not in card.lower()


def test_limitations_name_worst_slices_classes_and_absences():
  card = model_card.render(_facts())
  limitations = card.split('## Limitations')[1]
  assert 'Worst classes by IoU: person (0.5650), background (0.9412).' in (
    limitations
  )
  assert limitations.index('foreground_fraction = [0, 0.05) (0.2222)') < (
    limitations.index('source = ds1 (0.7531)')
  )
  assert 'class cat: no pixel of it in the eval split' in limitations
  assert 'slice source=ds2: no eval example falls in it' in limitations


def test_a_model_without_scores_says_so():
  card = model_card.render(
    _facts(metrics=None, metrics_by_slice={}, metrics_tflite={})
  )
  assert (
    '(see Limitations).\n\nThe Evaluator wrote no scores for this model.'
    '\n\n## How to use it'
  ) in card
  assert card.endswith('## Limitations\n\nNone found in the eval split.\n')


def test_the_whole_card_of_the_facts():
  # tests/fixtures/model_card.md, read line by line against _facts(): each
  # number is one of them (98,750,000 multiply-adds: 98.8 M; 1076 bytes:
  # 1.1 KB), the defaults of TrainConfig, or the card's fixed text.
  with open(
    os.path.join(os.path.dirname(__file__), 'fixtures', 'model_card.md')
  ) as f:
    assert model_card.render(_facts()) == f.read()


@pytest.mark.parametrize(
  'aspp,decoder,head',
  [
    (True, True, 'DeepLabV3+ (ASPP, decoder)'),
    (False, False, 'DeepLabV3+ (1x1 conv instead of ASPP, no decoder)'),
  ],
)
def test_the_head_row_says_what_the_deeplab_head_holds(aspp, decoder, head):
  config = ModelConfig(
    num_classes=3, aspp=aspp, decoder=decoder, output_stride=8
  )
  card = model_card.render(_facts(model=config))
  assert f'| head | {head} |\n| output stride | 8 |\n' in card


def test_a_split_without_sources_and_training_without_augmentation():
  card = model_card.render(
    _facts(
      sources={'train': {'ds1': 100}},
      train=dataclasses.asdict(TrainConfig(train_steps=9, augment=False)),
    )
  )
  assert '| eval | 12 | not recorded |\n| train | 100 | ds1 (100) |\n' in card
  assert '| augmentation | none |\n' in card
