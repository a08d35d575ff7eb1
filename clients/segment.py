"""Segments images with MediaPipe Tasks' ImageSegmenter and with LiteRT.

Runs in the clients venv (clients/__init__.py): these are the runtimes apps
ship, so the tests check the project's TFLite files through them. Usage:

  segment.py --images=images.npz --output=results.npz model.tflite [...]

images.npz holds `photo_<i>` (uint8 [H, W, 3], any size, what an app hands
MediaPipe) and `resized_<i>` (uint8 [S, S, 3], the model's input). For model
number m and image i, results.npz holds
  mediapipe_category/<m>/<i>    uint8 [H, W]: ImageSegmenter's category mask
  mediapipe_confidence/<m>/<i>  float32 [H, W, C]: its confidence masks
  mediapipe_labels/<m>          str [C]: the class names it read from the file
  litert_class_ids/<m>/<i>      int32 [S, S]: LiteRT's `class_ids` output,
                                with its default XNNPACK delegate
  litert_builtin_class_ids/<m>/<i>  the same with LiteRT's builtin kernels
                                only (the kernels tf.lite 2.16 runs for int8)
MediaPipe takes the photo and resizes it itself; LiteRT takes the resized
image. MediaPipe crashes (SIGSEGV) on a model without segmentation metadata,
which is one reason this runs in a subprocess.
"""

import argparse

from ai_edge_litert import interpreter as litert
import mediapipe as mp
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core import base_options
import numpy as np


def mediapipe_masks(model_path: str, photos):
  """(labels, [(category mask, confidence masks)] of each photo)."""
  options = vision.ImageSegmenterOptions(
    base_options=base_options.BaseOptions(model_asset_path=model_path),
    running_mode=vision.RunningMode.IMAGE,
    output_category_mask=True,
    output_confidence_masks=True,
  )
  with vision.ImageSegmenter.create_from_options(options) as segmenter:
    results = []
    for photo in photos:
      result = segmenter.segment(
        mp.Image(
          image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(photo)
        )
      )
      results.append(
        (
          result.category_mask.numpy_view().copy(),
          np.stack(
            [mask.numpy_view() for mask in result.confidence_masks], axis=-1
          ),
        )
      )
    return segmenter.labels, results


def litert_class_ids(model_path: str, images, resolver):
  run = litert.Interpreter(
    model_path=model_path, experimental_op_resolver_type=resolver
  ).get_signature_runner()
  return [run(image=image[None])['class_ids'][0] for image in images]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--images', required=True, help='input .npz')
  parser.add_argument('--output', required=True, help='output .npz')
  parser.add_argument('models', nargs='+', help='.tflite files')
  args = parser.parse_args()
  with np.load(args.images) as images:
    count = sum(name.startswith('photo_') for name in images.files)
    photos = [images[f'photo_{i}'] for i in range(count)]
    resized = [images[f'resized_{i}'] for i in range(count)]
  results = {}
  for m, path in enumerate(args.models):
    labels, masks = mediapipe_masks(path, photos)
    results[f'mediapipe_labels/{m}'] = np.array(labels)
    for i, (category, confidence) in enumerate(masks):
      results[f'mediapipe_category/{m}/{i}'] = category
      results[f'mediapipe_confidence/{m}/{i}'] = confidence
    for name, resolver in (
      ('litert_class_ids', litert.OpResolverType.AUTO),
      (
        'litert_builtin_class_ids',
        litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
      ),
    ):
      for i, class_ids in enumerate(litert_class_ids(path, resized, resolver)):
        results[f'{name}/{m}/{i}'] = class_ids
  np.savez_compressed(args.output, **results)


if __name__ == '__main__':
  main()
