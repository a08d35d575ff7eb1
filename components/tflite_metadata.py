"""TFLite Model Metadata for image segmentation, in every exported file.

MediaPipe Tasks' ImageSegmenter (one C++ graph behind its Android, iOS and
Python APIs) needs this metadata to load a segmenter: without it, it crashes.
MediaPipe's own metadata writer records what MediaPipe reads (input
normalization, the labels file, the output activation). It needs a protobuf
the TFX stack cannot share, so it runs in the clients venv:
clients/write_metadata.py says what the metadata holds and why.
"""

import os
import tempfile
from typing import Dict

import clients


def add_metadata(
  models: Dict[str, bytes], labels_path: str
) -> Dict[str, bytes]:
  """The same TFLite models ({key: flatbuffer}), with metadata added.

  `labels_path` is a local labels.txt; it is packed into each file as is.
  """
  with tempfile.TemporaryDirectory() as scratch:
    paths = {
      key: os.path.join(scratch, f'{index}.tflite')
      for index, key in enumerate(models)
    }
    for key, path in paths.items():
      with open(path, 'wb') as f:
        f.write(models[key])
    clients.run(
      'write_metadata.py', [f'--labels={labels_path}', *paths.values()]
    )
    with_metadata = {}
    for key, path in paths.items():
      with open(path, 'rb') as f:
        with_metadata[key] = f.read()
    return with_metadata
