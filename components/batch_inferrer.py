"""BatchInferrer: masks for a folder of photos with the model just pushed.

It runs after MobilePusher on the PushedModel artifact, so ML Metadata
records which pushed model each set of masks came from. When the model was
pushed (the artifact's `pushed` property), it runs the job of
`python -m pipeline.batch_predict` (components.batch_inference) with the
pushed SavedModel over `input_dir`, on the pipeline's Beam options, and
writes into its SegmentationMasks artifact: masks/, predictions.jsonl,
errors.jsonl. When nothing was pushed (no blessing, or the int8 gate), it
writes nothing and records why in `skipped_reason`.
"""

from absl import logging
import apache_beam as beam
from tfx import v1 as tfx

from components import batch_inference
from components.artifacts import SegmentationMasks
from data import images


@tfx.dsl.components.component(use_beam=True)
def BatchInferrer(  # pylint: disable=invalid-name
  pushed_model: tfx.dsl.components.InputArtifact[
    tfx.types.standard_artifacts.PushedModel
  ],
  masks: tfx.dsl.components.OutputArtifact[SegmentationMasks],
  input_dir: tfx.dsl.components.Parameter[str],
  max_image_pixels: tfx.dsl.components.Parameter[
    int
  ] = images.DEFAULT_MAX_IMAGE_PIXELS,
  input_fingerprint: tfx.dsl.components.Parameter[str] = '',
  code_version: tfx.dsl.components.Parameter[str] = '',
  beam_pipeline: tfx.dsl.components.BeamComponentParameter[
    beam.Pipeline
  ] = None,
) -> None:
  """Masks of every photo under input_dir, or a recorded skip."""
  # Only parts of the cache key (pipeline.pipeline, pipeline.code_version).
  del input_fingerprint, code_version
  if not pushed_model.get_int_custom_property('pushed'):
    reason = 'nothing was pushed: ' + (
      pushed_model.get_string_custom_property('not_pushed_reason')
      or 'no blessed model'
    )
    logging.warning('BatchInferrer skipped: %s', reason)
    masks.set_string_custom_property('skipped_reason', reason)
    return
  job = batch_inference.Job(
    model=pushed_model.uri,
    input=input_dir,
    output_dir=masks.uri,
    max_image_pixels=max_image_pixels,
  )
  job.check()
  with beam_pipeline as pipeline:
    _ = pipeline | batch_inference.PredictMasks(job)
  counts = batch_inference.count_lines(job)
  errors = sum(counts['errors'].values())
  masks.set_int_custom_property('num_masks', counts['masks'])
  masks.set_int_custom_property('num_errors', errors)
  logging.info(
    'BatchInferrer: %d masks of %s in %s, %d photos not read',
    counts['masks'],
    input_dir,
    masks.uri,
    errors,
  )
