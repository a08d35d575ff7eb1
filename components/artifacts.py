"""Names shared by the DAG, the components and the run summary, declared once.

The pipeline (pipeline.pipeline) gives its components these ids, the run
summary (pipeline.summary) finds their outputs by them, and the Pusher and
TFLiteExport write and copy these files. A component renamed in one place
only fails loudly: the summary refuses a run that lacks a component it reads
(pipeline.summary.RunOutputs), and tests compare the DAG's ids with these.

Also the artifact type this project adds to TFX's standard ones.
"""

from tfx.types import artifact

from data import labels as labels_lib

# Component ids in the DAG.
EXAMPLE_GEN = 'ExampleGen'
STATISTICS_GEN = 'StatisticsGen'
SCHEMA_GEN = 'SchemaGen'
EXAMPLE_VALIDATOR = 'ExampleValidator'
TRANSFORM = 'Transform'
TRAINER = 'Trainer'
MODEL_RESOLVER = 'latest_blessed_model_resolver'
EVALUATOR = 'Evaluator'
TFLITE_EXPORT = 'TFLiteExport'
PUSHER = 'MobilePusher'
# Only in runs with --infer_input.
BATCH_INFERRER = 'BatchInferrer'
COMPONENT_IDS = (
  EXAMPLE_GEN,
  STATISTICS_GEN,
  SCHEMA_GEN,
  EXAMPLE_VALIDATOR,
  TRANSFORM,
  TRAINER,
  MODEL_RESOLVER,
  EVALUATOR,
  TFLITE_EXPORT,
  PUSHER,
)

# Output keys the summary reads (TFX's standard components name the first
# five; ours are the output parameters of components.tflite_export and
# components.pusher).
EXAMPLES = 'examples'
STATISTICS = 'statistics'
MODEL = 'model'
EVALUATION = 'evaluation'
BLESSING = 'blessing'
TFLITE_MODEL = 'tflite_model'
PUSHED_MODEL = 'pushed_model'

# Files of a TFLiteModel artifact. Kind (the key in metrics.json and in the
# run summary) -> TFLite file.
TFLITE_FILES = {
  'float': 'model.tflite',
  'fp16': 'model_fp16.tflite',
  'int8': 'model_int8.tflite',
}
FROZEN_GRAPH_FILE = 'frozen_model.pb'
METADATA_FILE = 'metadata.json'
METRICS_FILE = 'metrics.json'
CONVERTER_LOG_FILE = 'converter.log'
# What MobilePusher copies from the TFLiteModel beside the SavedModel.
PUBLISHED_FILES = (
  *TFLITE_FILES.values(),
  FROZEN_GRAPH_FILE,
  labels_lib.LABELS_FILE,
  METADATA_FILE,
  METRICS_FILE,
)
# What MobilePusher writes into a pushed version itself.
SOURCE_FILE = 'pushed_from.json'  # Which Trainer output it holds.
MODEL_CARD_FILE = 'model_card.md'


class TFLiteModel(artifact.Artifact):
  """A folder with model.tflite (float), model_fp16.tflite,
  model_int8.tflite, frozen_model.pb, labels.txt, metadata.json and
  metrics.json (model.metrics.Scores of the three TFLite files on the eval
  split).

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
