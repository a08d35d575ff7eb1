"""The DAG, in one function that takes every setting from a RunConfig.

ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform ->
Trainer -> (latest blessed model) Resolver -> Evaluator, and TFLiteExport ->
MobilePusher [-> BatchInferrer, with infer_input]. With `init_from`, an
Importer brings the parent model in as a Model artifact, the Trainer's
base_model, so ML Metadata links every fine-tuned model to the model it
started from. Runners (pipeline_runner.py) only choose an orchestrator.
"""

import dataclasses
import hashlib
import json
import os

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components import artifacts
from components import evaluation
from components import iou_metric
from components import parent_model
from components import signatures
from components import training
from components.batch_inferrer import BatchInferrer
from components.example_gen import create_example_gen
from components.pusher import MobilePusher
from components.tflite_export import TFLiteExport
from data import features
from data import files
from pipeline import lineage
from pipeline import vertex
from pipeline.code_version import source_fingerprint
from pipeline.config import RunConfig

# Dotted paths: Beam workers and pipeline containers import the same code.
PREPROCESSING_FN = 'components.preprocessing.preprocessing_fn'
RUN_FN = 'components.training.run_fn'
PARENT_IMPORTER = 'ParentModelImporter'
# Custom properties of the imported parent artifact (pipeline.summary).
PARENT_PATH = 'init_from'
PARENT_TRAINER_MODEL = 'trainer_model'
PARENT_RUN = 'pipeline_run'
PARENT_LABELS = 'labels'


def create_pipeline(config: RunConfig) -> tfx.dsl.Pipeline:
  """The pipeline of a run, every setting taken from `config`."""
  code_version = source_fingerprint()
  example_gen = create_example_gen(
    config.data, code_version=code_version
  ).with_id(artifacts.EXAMPLE_GEN)
  examples = example_gen.outputs[artifacts.EXAMPLES]
  statistics_gen = tfx.components.StatisticsGen(examples=examples).with_id(
    artifacts.STATISTICS_GEN
  )
  statistics = statistics_gen.outputs[artifacts.STATISTICS]
  schema_gen = tfx.components.SchemaGen(
    statistics=statistics, infer_feature_shape=True
  ).with_id(artifacts.SCHEMA_GEN)
  example_validator = tfx.components.ExampleValidator(
    statistics=statistics,
    schema=schema_gen.outputs['schema'],
  ).with_id(artifacts.EXAMPLE_VALIDATOR)
  transform = tfx.components.Transform(
    examples=examples,
    schema=schema_gen.outputs['schema'],
    preprocessing_fn=PREPROCESSING_FN,
    custom_config={
      'input_size': config.model.input_size,
      'code_version': code_version,
    },
  ).with_id(artifacts.TRANSFORM)
  trainer_custom_config = {
    **training.custom_config(
      config.model, config.train, config.data.labels, config.checkpoint_dir
    ),
    'code_version': code_version,
  }
  trainer_class = tfx.components.Trainer
  if config.vertex_training:
    # The same run_fn, as a Vertex AI Training job on its own machines.
    trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer
    trainer_custom_config.update(vertex.training_custom_config(config))
  parent = parent_importer(config)
  trainer = trainer_class(
    base_model=parent.outputs['result'] if parent else None,
    run_fn=RUN_FN,
    examples=transform.outputs['transformed_examples'],
    transform_graph=transform.outputs['transform_graph'],
    schema=schema_gen.outputs['schema'],
    train_args=tfx.proto.TrainArgs(num_steps=config.train.train_steps),
    eval_args=tfx.proto.EvalArgs(num_steps=0),
    custom_config=trainer_custom_config,
  ).with_id(artifacts.TRAINER)
  model = trainer.outputs[artifacts.MODEL]
  model_resolver = tfx.dsl.Resolver(
    strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
    model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
    model_blessing=tfx.dsl.Channel(
      type=tfx.types.standard_artifacts.ModelBlessing
    ),
  ).with_id(artifacts.MODEL_RESOLVER)
  evaluator = tfx.components.Evaluator(
    examples=examples,
    model=model,
    baseline_model=model_resolver.outputs[artifacts.MODEL],
    example_splits=[features.EVAL_SPLIT],
    eval_config=eval_config(config),
  ).with_id(artifacts.EVALUATOR)
  tflite_export = TFLiteExport(
    model=model,
    examples=examples,
    code_version=code_version,
  ).with_id(artifacts.TFLITE_EXPORT)
  pusher = MobilePusher(
    model=model,
    model_blessing=evaluator.outputs[artifacts.BLESSING],
    tflite_model=tflite_export.outputs[artifacts.TFLITE_MODEL],
    model_evaluation=evaluator.outputs[artifacts.EVALUATION],
    statistics=statistics,
    push_destination=config.serving_dir,
    dataset=config.data.format,
    train_config=json.dumps(dataclasses.asdict(config.train)),
    code_version=code_version,
    max_int8_mean_iou_drop=config.gate.max_int8_mean_iou_drop,
  ).with_id(artifacts.PUSHER)

  inferrers = []
  if config.infer_input:
    inferrers.append(
      BatchInferrer(
        pushed_model=pusher.outputs[artifacts.PUSHED_MODEL],
        input_dir=config.infer_input,
        max_image_pixels=config.data.max_image_pixels,
        input_fingerprint=photos_fingerprint(config.infer_input),
        code_version=code_version,
      ).with_id(artifacts.BATCH_INFERRER)
    )

  return tfx.dsl.Pipeline(
    pipeline_name=config.pipeline_name,
    pipeline_root=config.pipeline_root,
    components=[
      example_gen,
      statistics_gen,
      schema_gen,
      example_validator,
      transform,
      *([parent] if parent else []),
      trainer,
      model_resolver,
      evaluator,
      tflite_export,
      pusher,
      *inferrers,
    ],
    enable_cache=True,
    metadata_connection_config=metadata_connection_config(config),
    beam_pipeline_args=list(config.beam_pipeline_args),
  )


def parent_importer(config: RunConfig):
  """The Importer of config.train.init_from as a Model artifact, or None.

  Its properties name the path given, the Trainer output the parent came
  from, the run that trained it and its labels; pipeline.summary reads them
  back from ML Metadata.
  """
  if not config.train.init_from:
    return None
  parent = parent_model.find(config.train.init_from)
  properties = {
    PARENT_PATH: parent.path,
    PARENT_LABELS: json.dumps(list(parent.labels)),
  }
  if parent.trainer_model:
    properties[PARENT_TRAINER_MODEL] = parent.trainer_model
    run = lineage.trainer_run(parent.trainer_model)
    if run:
      properties[PARENT_RUN] = run
  return tfx.dsl.Importer(
    source_uri=parent.artifact_uri,
    artifact_type=tfx.types.standard_artifacts.Model,
    custom_properties=properties,
  ).with_id(PARENT_IMPORTER)


def photos_fingerprint(folder: str) -> str:
  """sha256 of the names, sizes and mtimes under a local folder, for the
  cache: add or change a photo and BatchInferrer runs again. '' for URLs,
  whose masks the cache keeps for as long as the model is the same."""
  if files.is_url(folder):
    return ''
  digest = hashlib.sha256()
  for path in files.walk(folder):
    status = os.lstat(path)
    digest.update(os.fsencode(os.path.relpath(path, folder)))
    digest.update(f'{status.st_size} {status.st_mtime_ns}'.encode())
  return digest.hexdigest()[:16]


def metadata_connection_config(config: RunConfig):
  """The run's ML Metadata store: SQLite in output_dir for the local runner.

  None for Vertex AI Pipelines, which keeps its own ML Metadata.
  """
  if config.runner != 'local':
    return None
  return tfx.orchestration.metadata.sqlite_metadata_connection_config(
    config.metadata_path
  )


def eval_config(config: RunConfig) -> tfma.EvalConfig:
  """mIoU and boundary IoU on the eval split, overall and per slice, gated.

  The model is evaluated through its serving signature (tf_generic: no Keras
  revival needed); the metric reads the original masks from the raw
  examples. Blessing needs, on the whole split, mIoU and mean boundary IoU
  at or above their bounds, and mIoU at most max_mean_iou_decrease below
  the last blessed model's. The slices (evaluation.SLICE_FEATURES) are
  reported, not gated.
  """
  region = tfma.MetricThreshold(
    value_threshold=tfma.GenericValueThreshold(
      lower_bound={'value': config.gate.min_mean_iou}
    ),
    change_threshold=tfma.GenericChangeThreshold(
      direction=tfma.MetricDirection.HIGHER_IS_BETTER,
      absolute={'value': -config.gate.max_mean_iou_decrease},
    ),
  )
  edges = tfma.MetricThreshold(
    value_threshold=tfma.GenericValueThreshold(
      lower_bound={'value': config.gate.min_mean_boundary_iou}
    )
  )
  metric_config = json.dumps({'class_names': list(config.data.labels)})
  return tfma.EvalConfig(
    model_specs=[
      tfma.ModelSpec(
        signature_name=signatures.SERVING_DEFAULT,
        model_type=tfma.TF_GENERIC,
      )
    ],
    slicing_specs=[tfma.SlicingSpec()]
    + [
      tfma.SlicingSpec(feature_keys=[key])
      for key in evaluation.SLICE_FEATURES.values()
    ],
    metrics_specs=[
      tfma.MetricsSpec(
        metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          tfma.MetricConfig(
            class_name=iou_metric.SegmentationIoU.__name__,
            module=iou_metric.__name__,
            config=metric_config,
            threshold=region,
          ),
          tfma.MetricConfig(
            class_name=iou_metric.SegmentationBoundaryIoU.__name__,
            module=iou_metric.__name__,
            config=metric_config,
            threshold=edges,
          ),
        ],
      )
    ],
  )
