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
  metrics.json        mIoU of the three TFLite models on the eval split
  pushed_from.json    the Trainer output it came from (no duplicate pushes)
"""

import json
import os
import time
from typing import Optional

from absl import logging
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.utils import io_utils
from tfx.utils import path_utils

from components import tflite_export
from components.artifacts import TFLiteModel
from model import metrics

_STAGING_PREFIX = '.staging-'
# Which Trainer output a version holds.
SOURCE_FILE = 'pushed_from.json'


@tfx.dsl.components.component
def MobilePusher(  # pylint: disable=invalid-name
  model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
  model_blessing: tfx.dsl.components.InputArtifact[
    tfx.types.standard_artifacts.ModelBlessing
  ],
  tflite_model: tfx.dsl.components.InputArtifact[TFLiteModel],
  pushed_model: tfx.dsl.components.OutputArtifact[
    tfx.types.standard_artifacts.PushedModel
  ],
  push_destination: tfx.dsl.components.Parameter[str],
  max_int8_mean_iou_drop: tfx.dsl.components.Parameter[float] = 0.05,
  code_version: tfx.dsl.components.Parameter[str] = '',
) -> None:
  """Pushes when both gates pass; records why not otherwise."""
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
    final_dir = push_version(
      path_utils.serving_model_path(model.uri),
      tflite_model.uri,
      push_destination,
      model.uri,
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
    source = os.path.join(destination, name, SOURCE_FILE)
    if name.isdigit() and fileio.exists(source):
      with fileio.open(source) as f:
        if json.load(f).get('model') == model_uri:
          return os.path.join(destination, name)
  return None


def push_version(
  serving_dir: str, tflite_dir: str, destination: str, model_uri: str
) -> str:
  """Publishes a new version folder (see module doc); returns its path.

  The version is the Unix time in seconds (TF Serving's convention), bumped
  past any version already there.
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
  for filename in tflite_export.PUBLISHED_FILES:
    fileio.copy(
      os.path.join(tflite_dir, filename), os.path.join(staging_dir, filename)
    )
  with fileio.open(os.path.join(staging_dir, SOURCE_FILE), 'w') as f:
    f.write(json.dumps({'model': model_uri}))
  fileio.rename(staging_dir, final_dir)
  return final_dir


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
      'the Evaluator did not bless it (mean IoU under the bound, or '
      'worse than the last blessed model); see its evaluation'
    )
  with fileio.open(
    os.path.join(tflite_model.uri, tflite_export.METRICS_FILE)
  ) as f:
    scores = json.load(f)
  drop = scores['float'][metrics.MEAN_IOU] - scores['int8'][metrics.MEAN_IOU]
  if drop > max_int8_mean_iou_drop:
    return (
      f'the int8 TFLite model lost {drop:.4f} mean IoU against the '
      f'float one (allowed: {max_int8_mean_iou_drop})'
    )
  return ''
