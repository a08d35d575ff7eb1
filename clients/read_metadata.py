"""Prints the TFLite Model Metadata of TFLite files as JSON, as MediaPipe does.

Runs in the clients venv (clients/__init__.py). Usage:

  read_metadata.py model.tflite [...]

prints {path: {"metadata": ..., "activation": ..., "associated_files": ...}}:
the metadata as MediaPipe's displayer renders it, the activation of the
image segmenter's custom metadata by name (flatbuffers leave a default
value out of the JSON) and the names of the packed associated files.
"""

import argparse
import json

from mediapipe.tasks.metadata import (
  image_segmenter_metadata_schema_py_generated as segmenter_fb,
)
from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_fb
from mediapipe.tasks.python.metadata import metadata
from mediapipe.tasks.python.metadata.metadata_writers import image_segmenter


def describe(model: bytes) -> dict:
  displayer = metadata.MetadataDisplayer.with_model_buffer(model)
  subgraph = metadata_fb.ModelMetadata.GetRootAs(
    metadata.get_metadata_buffer(model)
  ).SubgraphMetadata(0)
  activations = [
    image_segmenter.Activation(
      segmenter_fb.ImageSegmenterOptions.GetRootAs(
        custom.DataAsNumpy().tobytes()
      ).Activation()
    ).name
    for custom in (
      subgraph.CustomMetadata(i) for i in range(subgraph.CustomMetadataLength())
    )
    if custom.Name().decode() == 'SEGMENTER_METADATA'
  ]
  return {
    'metadata': json.loads(displayer.get_metadata_json()),
    'activation': activations[0] if activations else None,
    'associated_files': displayer.get_packed_associated_file_list(),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('models', nargs='+', help='.tflite files')
  args = parser.parse_args()
  described = {}
  for path in args.models:
    with open(path, 'rb') as f:
      described[path] = describe(f.read())
  print(json.dumps(described, indent=2))


if __name__ == '__main__':
  main()
