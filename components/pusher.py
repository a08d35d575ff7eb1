"""MobilePusher: publishes a blessed model for servers and phones, atomically.

TFX's stock Pusher copies a SavedModel when the Evaluator blessed it. A
mobile product ships more (the TFLite files and labels) and has one more
gate: the int8 model may not lose more than `max_int8_mean_iou_drop` mIoU
against the float TFLite model. The version folder is assembled under a
hidden staging name and renamed into place at the end, so a crash never
leaves a partial folder that looks like a version.

Layout of a pushed version `<push_destination>/<version>/`, which TF Serving
serves as it is (--model_base_path=<push_destination>):
  saved_model.pb, variables/, assets.extra/
                      SavedModel (serving_default on tf.Example, serving_images)
  model.tflite        float TFLite    } each with TFLite Model Metadata for
  model_fp16.tflite   float16 weights } image segmentation (MediaPipe's
  model_int8.tflite   full-int8       } ImageSegmenter loads them)
  frozen_model.pb     TF1 frozen graph (same input and outputs)
  labels.txt          class names, one per line, in class-id order
  metadata.json       input size/type, outputs, labels, frozen graph tensors
  metrics.json        scores (model.metrics.Scores: IoU and boundary IoU)
                      of the three TFLite models on the eval split
  model_card.md       what the model is, its data, recipe and scores
                      overall, per class and per slice (components.model_card)
  pushed_from.json    the Trainer output it came from (no duplicate pushes)

File names are components.artifacts'.
"""

import dataclasses
import json
import os
import time
from typing import Callable, Optional

from absl import logging
import tensorflow as tf
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.utils import io_utils
from tfx.utils import path_utils

from components import artifacts
from components import evaluation
from components import model_card
from components import model_io
from components.artifacts import TFLiteModel
from data import features
from model import metrics
from model import profile

_STAGING_PREFIX = '.staging-'


@tfx.dsl.components.component
def MobilePusher(  # pylint: disable=invalid-name
  model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
  model_blessing: tfx.dsl.components.InputArtifact[
    tfx.types.standard_artifacts.ModelBlessing
  ],
  tflite_model: tfx.dsl.components.InputArtifact[TFLiteModel],
  model_evaluation: tfx.dsl.components.InputArtifact[
    tfx.types.standard_artifacts.ModelEvaluation
  ],
  statistics: tfx.dsl.components.InputArtifact[
    tfx.types.standard_artifacts.ExampleStatistics
  ],
  pushed_model: tfx.dsl.components.OutputArtifact[
    tfx.types.standard_artifacts.PushedModel
  ],
  push_destination: tfx.dsl.components.Parameter[str],
  dataset: tfx.dsl.components.Parameter[str],
  train_config: tfx.dsl.components.Parameter[str],
  max_int8_mean_iou_drop: tfx.dsl.components.Parameter[float] = 0.05,
  code_version: tfx.dsl.components.Parameter[str] = '',
) -> None:
  """Pushes when both gates pass; records why not otherwise.

  `dataset` (a data.datasets name) and `train_config` (TrainConfig as JSON)
  are for the model card.
  """
  del code_version  # Only part of the cache key (pipeline.code_version).
  reason = refusal_reason(model_blessing, tflite_model, max_int8_mean_iou_drop)
  if reason:
    logging.warning('Model not pushed: %s', reason)
    pushed_model.set_int_custom_property('pushed', 0)
    pushed_model.set_string_custom_property('not_pushed_reason', reason)
    return

  final_dir = find_pushed(push_destination, model.uri)
  if final_dir:
    logging.info('This model is already pushed as %s', final_dir)
  else:
    serving_dir = path_utils.serving_model_path(model.uri)

    def card(version: str) -> str:
      return model_card.render(
        card_facts(
          version,
          serving_dir,
          tflite_model.uri,
          model_evaluation.uri,
          statistics.uri,
          dataset,
          json.loads(train_config),
        )
      )

    final_dir = push_version(
      serving_dir, tflite_model.uri, push_destination, model.uri, card
    )
    logging.info('Pushed the model to %s', final_dir)
  io_utils.copy_dir(final_dir, pushed_model.uri)
  pushed_model.set_int_custom_property('pushed', 1)
  pushed_model.set_string_custom_property('pushed_destination', final_dir)
  pushed_model.set_string_custom_property(
    'pushed_version', os.path.basename(final_dir)
  )


def find_pushed(destination: str, model_uri: str) -> Optional[str]:
  """The version folder already holding the Trainer output `model_uri`.

  A rerun whose Evaluator blesses the same model again (it now has a
  baseline to compare with) must not publish a duplicate version.
  """
  for name in sorted(_list(destination), reverse=True):
    source = os.path.join(destination, name, artifacts.SOURCE_FILE)
    if name.isdigit() and fileio.exists(source):
      with fileio.open(source) as f:
        if json.load(f).get('model') == model_uri:
          return os.path.join(destination, name)
  return None


def push_version(
  serving_dir: str,
  tflite_dir: str,
  destination: str,
  model_uri: str,
  card: Callable[[str], str],
) -> str:
  """Publishes a new version folder (see module doc); returns its path.

  The version is the Unix time in seconds (TF Serving's convention), bumped
  past any version already there. `card(version)` is its model card.
  """
  names = _list(destination)
  for name in names:  # Left by a push that crashed.
    if name.startswith(_STAGING_PREFIX):
      fileio.rmtree(os.path.join(destination, name))
  existing = [int(name) for name in names if name.isdigit()]
  version = str(max([int(time.time())] + [v + 1 for v in existing]))
  final_dir = os.path.join(destination, version)
  staging_dir = os.path.join(destination, _STAGING_PREFIX + version)
  io_utils.copy_dir(serving_dir, staging_dir)
  for filename in artifacts.PUBLISHED_FILES:
    fileio.copy(
      os.path.join(tflite_dir, filename), os.path.join(staging_dir, filename)
    )
  with fileio.open(os.path.join(staging_dir, artifacts.SOURCE_FILE), 'w') as f:
    f.write(json.dumps({'model': model_uri}))
  with fileio.open(
    os.path.join(staging_dir, artifacts.MODEL_CARD_FILE), 'w'
  ) as f:
    f.write(card(version))
  fileio.rename(staging_dir, final_dir)
  return final_dir


def card_facts(
  version: str,
  serving_dir: str,
  tflite_dir: str,
  evaluation_uri: str,
  statistics_uri: str,
  dataset: str,
  train: dict,
) -> model_card.ModelCardFacts:
  """The model card's facts, from the run's artifacts."""
  config, labels = model_io.load_config(serving_dir)
  size = profile.profile(dataclasses.replace(config, backbone_weights=None))
  statistics = evaluation.split_statistics(statistics_uri)
  with fileio.open(os.path.join(tflite_dir, artifacts.METRICS_FILE)) as f:
    tflite_scores = json.load(f)
  files = [*artifacts.TFLITE_FILES.values(), artifacts.FROZEN_GRAPH_FILE]
  return model_card.ModelCardFacts(
    version=version,
    dataset=dataset,
    model=config,
    params=size['params'],
    madds=size['madds'],
    file_bytes={
      name: tf.io.gfile.stat(os.path.join(tflite_dir, name)).length
      for name in files
    },
    labels=labels,
    num_examples={
      split: stats.num_examples for split, stats in statistics.items()
    },
    sources={
      split: evaluation.value_counts(stats, features.SOURCE_KEY)
      for split, stats in statistics.items()
    },
    train=train,
    metrics=evaluation.evaluator_metrics(evaluation_uri, labels),
    metrics_by_slice=evaluation.slice_metrics(
      evaluation_uri, labels, evaluation.all_sources(statistics)
    ),
    metrics_tflite={
      kind: metrics.Scores.from_json(tflite_scores[kind])
      if tflite_scores.get(kind)
      else None
      for kind in artifacts.TFLITE_FILES
    },
  )


def _list(directory: str):
  if not fileio.exists(directory):
    return []
  return [name.rstrip('/') for name in fileio.listdir(directory)]


def refusal_reason(
  model_blessing, tflite_model, max_int8_mean_iou_drop: float
) -> str:
  """'' when the model may be pushed, else a sentence saying why not."""
  if not model_blessing.get_int_custom_property('blessed'):
    return (
      'the Evaluator did not bless it (mean IoU or mean boundary IoU under '
      'its bound, or mean IoU worse than the last blessed model); see its '
      'evaluation'
    )
  with fileio.open(os.path.join(tflite_model.uri, artifacts.METRICS_FILE)) as f:
    scores = json.load(f)
  float_iou = scores['float'][metrics.MEAN_IOU]
  int8_iou = scores['int8'][metrics.MEAN_IOU]
  if float_iou is None or int8_iou is None:
    return (
      'the TFLite models have no mean IoU: the eval split has no labelled pixel'
    )
  drop = float_iou - int8_iou
  if drop > max_int8_mean_iou_drop:
    return (
      f'the int8 TFLite model lost {drop:.4f} mean IoU against the '
      f'float one (allowed: {max_int8_mean_iou_drop})'
    )
  return ''
