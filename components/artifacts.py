"""Artifact types this project adds to TFX's standard ones."""

from tfx.types import artifact


class TFLiteModel(artifact.Artifact):
  """A folder with model.tflite (float), model_fp16.tflite,
  model_int8.tflite, frozen_model.pb, labels.txt, metadata.json and
  metrics.json (mIoU of the three TFLite files on the eval split).

  Its own type, not `Model`, so the latest-blessed-model Resolver and the
  Evaluator never mistake it for a Trainer output.
  """

  TYPE_NAME = 'mobile_deeplab.TFLiteModel'
