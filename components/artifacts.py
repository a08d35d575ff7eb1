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


class SegmentationMasks(artifact.Artifact):
  """A folder of masks predicted for a folder of photos, and their records.

  masks/<photo path relative to the input, extension removed>.png,
  predictions.jsonl and errors.jsonl, as components.batch_inference writes
  them. Custom properties: num_masks, num_errors, or skipped_reason.
  """

  TYPE_NAME = 'mobile_deeplab.SegmentationMasks'
