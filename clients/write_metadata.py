"""Writes TFLite Model Metadata for image segmentation into TFLite files.

Runs in the clients venv (clients/__init__.py), with MediaPipe's own
metadata writer: MediaPipe Tasks' ImageSegmenter refuses, or crashes on, a
model without it, and only MediaPipe's writer records the output activation
MediaPipe reads. Usage:

  write_metadata.py --labels=labels.txt model.tflite [model_int8.tflite ...]

rewrites each file in place. What the metadata says, for the project's
contract (model/export.py):
- input `image`: RGB, normalization mean 0 / std 1, i.e. raw 0-255 pixels
  (the model normalizes inside; MediaPipe feeds a uint8 input raw anyway);
- output 0 `class_ids`: a plain feature tensor (MediaPipe ignores it);
- output 1 `probabilities`: the segmentation masks, with the labels as the
  associated file `labels.txt` (byte for byte the given file) and activation
  NONE, since the softmax is already inside the model. MediaPipe reads the
  last output, so its confidence masks are these probabilities.
"""

import argparse

from mediapipe.tasks.python.metadata.metadata_writers import image_segmenter
from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

_NAME = 'mobile-deeplab segmenter'
_DESCRIPTION = 'DeepLab-V3+ / LR-ASPP on MobileNet, from mobile-deeplab-tfx.'


def with_metadata(model: bytes, labels_path: str) -> bytes:
  writer = metadata_writer.MetadataWriter(model)
  writer.add_general_info(_NAME, _DESCRIPTION)
  writer.add_image_input(
    norm_mean=[0.0],
    norm_std=[1.0],
    name='image',
    description='uint8 RGB [1, S, S, 3]: the photo resized to S x S '
    '(bilinear); the model normalizes it.',
  )
  writer.add_custom_metadata(
    image_segmenter.ImageSegmenterOptionsMd(image_segmenter.Activation.NONE)
  )
  writer.add_feature_output(
    'class_ids', 'int32 [1, S, S]: the most likely class of each pixel.'
  )
  writer.add_segmentation_output(
    metadata_writer.Labels().add_from_file(labels_path),
    name='probabilities',
    description='float32 [1, S, S, C]: softmax over the classes.',
  )
  populated, _ = writer.populate()
  return bytes(populated)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument(
    '--labels',
    required=True,
    help='labels.txt: one class name per line, in id order',
  )
  parser.add_argument('models', nargs='+', help='.tflite files, rewritten')
  args = parser.parse_args()
  for path in args.models:
    with open(path, 'rb') as f:
      model = with_metadata(f.read(), args.labels)
    with open(path, 'wb') as f:
      f.write(model)


if __name__ == '__main__':
  main()
