"""Masks for a folder or bucket of photos: a Beam job with RunInference.

    input (a folder, walked recursively; a glob; one file; local or gs://)
      | List          one worker lists the input (names only), a Reshuffle
                      spreads the names over the workers
      | Read          through the one door for untrusted bytes (data.guard,
                      data.images): every refusal is an errors.jsonl line
                      with a data.problems kind; the photo, upright, resized
                      to the model's S x S (components.inference)
      | RunInference  batches of S x S images (`ModelHandler` below)
      | Write         class ids at the photo's own size (the argmax of the
                      probabilities upsampled bilinearly, as serving_images
                      and pipeline.predict compute them), a predictions.jsonl
                      line, the mask and optionally the tinted photo

Outputs, under the output folder (local or gs://):
  masks/<path relative to the input, extension removed>.png
      class ids as 8-bit gray levels, at the photo's size after its EXIF
      orientation. Two photos that differ only in their extension (x.jpg,
      x.png) keep it: masks/x.jpg.png and masks/x.png.png.
  overlays/<same>.png   the photo with classes tinted (with a `tint`)
  predictions.jsonl     one line per mask: input, mask, height, width and
                        the fraction of pixels of each class
  errors.jsonl          one line per photo that was not read: input,
                        problem (a data.problems kind), detail

Only S x S images travel between steps and in batches: a 4000x3000 photo is
decoded in Read (and, for an overlay, once more in Write), one at a time.

Reruns skip photos whose mask (and overlay) exists: a file is written whole
or not at all (data.files.write_bytes), so an existing mask is complete; the
photo's predictions line is computed again from its mask. `overwrite`
recomputes every photo. A new model needs a new output folder, or overwrite.

The process that builds the job imports no TensorFlow; the workers import
it only to run a SavedModel (a .tflite file runs in tflite_runtime,
components.inference).
"""

import dataclasses
import io
import json
import os
import posixpath
import re
from typing import (
  Any,
  Callable,
  Dict,
  Iterator,
  List,
  Optional,
  Sequence,
  Tuple,
)

import apache_beam as beam
from apache_beam.io import filesystems
from apache_beam.ml.inference import base
import numpy as np
from PIL import Image

from data import files
from data import guard
from data import images
from data import problems

MASKS_DIR = 'masks'
OVERLAYS_DIR = 'overlays'
PREDICTIONS_FILE = 'predictions.jsonl'
ERRORS_FILE = 'errors.jsonl'
# Photos per model call. On the demo model a call on 8 took 110 ms against
# 8 x 19 ms one by one, and 8 images of 128 x 128 weigh 0.4 MB.
DEFAULT_BATCH_SIZE = 8


def local_beam_args(model: str) -> Tuple[str, ...]:
  """DirectRunner options when the user gives none, by the kind of model.

  A .tflite file's workers hold no TensorFlow (components.inference), about
  0.25 GB each: one process per core, the fastest. A SavedModel's workers
  each hold TensorFlow and the model, about 1 GB on the demo model (0.4 GB
  of it TensorFlow's libraries, counted in every process's RSS), so one
  process with a thread per core shares them, within 1.5 GB: TensorFlow's
  ops, PIL's decoders and zlib release the GIL. bench/batch_predict.py
  measures both (docs/beam.md).
  """
  mode = 'multi_processing' if model.endswith('.tflite') else 'multi_threading'
  return (f'--direct_running_mode={mode}', '--direct_num_workers=0')


_WILDCARD = re.compile(r'[*?[]')
_DONE = 'done'
_ERRORS = 'errors'

# (photo uint8 [H, W, 3], class ids uint8 [H, W], number of classes) ->
# the tinted photo: pipeline.visualize.overlay.
Tint = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Job:
  """What one batch prediction reads and writes.

  Attributes:
    model: a pushed version folder or SavedModel (served through its
      serving_images signature), or a .tflite file (labels.txt beside it).
    input: a folder (every file with a photo extension under it), a glob
      (every match), or one photo.
    output_dir: where masks/, overlays/ and the .jsonl files go.
    max_image_pixels: photos with more pixels are refused before decoding.
    batch_size: photos per model call, 1 to 1024.
    overwrite: recompute photos whose mask a previous run wrote.
  """

  model: str
  input: str
  output_dir: str
  max_image_pixels: int = images.DEFAULT_MAX_IMAGE_PIXELS
  batch_size: int = DEFAULT_BATCH_SIZE
  overwrite: bool = False

  def __post_init__(self):
    if not 1 <= self.max_image_pixels <= 2**31:
      raise ValueError(
        f'max_image_pixels={self.max_image_pixels}: must be 1 to 2^31'
      )
    if not 1 <= self.batch_size <= 1024:
      raise ValueError(f'batch_size={self.batch_size}: must be 1 to 1024')

  def check(self) -> None:
    """ValueError naming a model or input that is not there, before work."""
    if self.model.endswith('.tflite'):
      if not files.exists(self.model):
        raise ValueError(f'--model={self.model}: no such file')
    elif not files.exists(files.join(self.model, 'saved_model.pb')):
      raise ValueError(
        f'--model={self.model}: neither a .tflite file nor a SavedModel '
        'folder (no saved_model.pb)'
      )
    if not (_WILDCARD.search(self.input) or files.exists(self.input)):
      raise ValueError(
        f'--input={self.input}: no such folder or file, and not a glob'
      )

  def root(self) -> str:
    """The folder that output paths are relative to, and reads stay in."""
    if _WILDCARD.search(self.input):
      head = _WILDCARD.split(self.input, maxsplit=1)[0]
      return head[: head.rfind('/') + 1].rstrip('/') or '.'
    if files.is_dir(self.input):
      return self.input.rstrip('/') or '/'
    return os.path.dirname(self.input) or '.'


def list_photos(job: Job) -> Iterator[Tuple[bytes, bytes]]:
  """(path, output stem) of each photo, os.fsencode'd; stems lack extensions.

  Bytes, because names need not be UTF-8 and Beam's coders encode text as
  UTF-8; such a name is refused (an errors line) once read.

  A folder walk takes every entry, directories included, whose name ends
  in a photo extension (data.images.PHOTO_EXTENSIONS, any case), so that a
  directory or pipe named x.jpg is reported rather than passed over; other
  files are not photos. A glob takes every match.
  """
  root = job.root()
  if _WILDCARD.search(job.input):
    paths = files.glob(job.input)
  elif files.is_dir(job.input):
    paths = [
      path
      for path in files.walk(job.input)
      if path.lower().endswith(images.PHOTO_EXTENSIONS)
    ]
  else:
    paths = [job.input]
  relative = [_relative(path, root) for path in paths]
  stems = [os.path.splitext(name)[0] for name in relative]
  shared = {stem for stem in stems if stems.count(stem) > 1}
  for path, name, stem in zip(paths, relative, stems, strict=True):
    yield os.fsencode(path), os.fsencode(name if stem in shared else stem)


def _relative(path: str, root: str) -> str:
  if files.is_url(path):
    return posixpath.relpath(path.split('://', 1)[1], root.split('://', 1)[1])
  return os.path.relpath(path, root)


def output_path(job: Job, folder: str, stem: str) -> str:
  return files.join(job.output_dir, folder, *stem.split(os.sep)) + '.png'


def error_line(error: problems.BadExample) -> str:
  return json.dumps(
    {'input': error.path, 'problem': error.problem, 'detail': error.detail},
    ensure_ascii=False,
  )


class _ReadPhoto(beam.DoFn):
  """(path, stem) as listed -> ((path, stem, H, W), uint8 [S, S, 3])."""

  def __init__(self, job: Job, overlays: bool):
    self._job = job
    self._overlays = overlays

  def setup(self):
    # pylint: disable-next=g-import-not-at-top
    from components import inference

    self._inference = inference
    self._root = guard.DataRoot(self._job.root())
    self._input_size = inference.input_size_of(self._job.model)

  def process(self, element):
    path, stem = map(os.fsdecode, element)
    try:
      guard.check_name(path)
      if not self._job.overwrite and self._done(stem):
        yield beam.pvalue.TaggedOutput(_DONE, (path, stem))
        return
      photo = images.read_photo(
        self._root.read(path, problems.MISSING_IMAGE),
        path,
        self._job.max_image_pixels,
      )
    except problems.BadExample as e:
      yield beam.pvalue.TaggedOutput(_ERRORS, error_line(e))
      return
    height, width = photo.shape[:2]
    resized = self._inference.resize_to(self._input_size, photo)
    yield (path, stem, height, width), resized

  def _done(self, stem: str) -> bool:
    folders = (MASKS_DIR, OVERLAYS_DIR) if self._overlays else (MASKS_DIR,)
    return all(
      files.exists(output_path(self._job, folder, stem)) for folder in folders
    )


class ModelHandler(base.ModelHandler[np.ndarray, np.ndarray, Any]):
  """RunInference's handler for components.inference models.

  One handler for both kinds: a SavedModel's serving_images signature takes
  the whole batch in one call; a .tflite file (batch 1) is run per image.
  """

  def __init__(self, model_path: str, batch_size: int):
    super().__init__()
    self._model_path = model_path
    self._batch_size = batch_size

  def load_model(self):
    # pylint: disable-next=g-import-not-at-top
    from components import inference

    return inference.load_model(self._model_path)

  def run_inference(
    self,
    batch: Sequence[np.ndarray],
    model,
    inference_args: Optional[Dict[str, Any]] = None,
  ) -> Iterator[base.PredictionResult]:
    del inference_args  # This handler takes none.
    probabilities = model.probabilities(np.stack(batch))
    for image, scores in zip(batch, probabilities, strict=True):
      yield base.PredictionResult(example=image, inference=scores)

  def batch_elements_kwargs(self) -> Dict[str, int]:
    return {'min_batch_size': 1, 'max_batch_size': self._batch_size}

  def get_metrics_namespace(self) -> str:
    return 'batch_predict'


class _WriteMask(beam.DoFn):
  """((path, stem, H, W), PredictionResult) -> its predictions line."""

  def __init__(self, job: Job, tint: Optional[Tint]):
    self._job = job
    self._tint = tint

  def setup(self):
    # pylint: disable-next=g-import-not-at-top
    from components import inference

    self._inference = inference
    self._labels = inference.labels_of(self._job.model)
    self._root = guard.DataRoot(self._job.root())

  def process(self, element):
    (path, stem, height, width), result = element
    class_ids = self._inference.class_ids(result.inference, height, width)
    written = {}
    if self._tint is not None:
      try:
        photo = images.read_photo(
          self._root.read(path, problems.MISSING_IMAGE),
          path,
          self._job.max_image_pixels,
        )
      except problems.BadExample as e:  # Changed since it was read.
        yield beam.pvalue.TaggedOutput(_ERRORS, error_line(e))
        return
      tinted = self._tint(photo, class_ids, len(self._labels))
      written['overlay'] = output_path(self._job, OVERLAYS_DIR, stem)
      files.write_bytes(written['overlay'], _png(tinted))
    # The mask last: once it exists, the photo is done (see the docstring).
    mask = output_path(self._job, MASKS_DIR, stem)
    files.write_bytes(mask, _png(class_ids))
    yield prediction_line(path, mask, class_ids, self._labels, written)


class _DescribeDone(beam.DoFn):
  """(path, stem) of a photo a previous run did -> its predictions line."""

  def __init__(self, job: Job, overlays: bool):
    self._job = job
    self._overlays = overlays

  def setup(self):
    # pylint: disable-next=g-import-not-at-top
    from components import inference

    self._labels = inference.labels_of(self._job.model)

  def process(self, element):
    path, stem = element
    mask = output_path(self._job, MASKS_DIR, stem)
    with Image.open(io.BytesIO(files.read_bytes(mask))) as image:
      class_ids = np.asarray(image)
    written = {}
    if self._overlays:
      written['overlay'] = output_path(self._job, OVERLAYS_DIR, stem)
    yield prediction_line(path, mask, class_ids, self._labels, written)


def prediction_line(
  path: str,
  mask: str,
  class_ids: np.ndarray,
  labels: List[str],
  written: Dict[str, str],
) -> str:
  counts = np.bincount(class_ids.ravel(), minlength=len(labels))
  fractions = counts / class_ids.size
  return json.dumps(
    {
      'input': problems.printable(path),
      'mask': mask,
      **written,
      'height': int(class_ids.shape[0]),
      'width': int(class_ids.shape[1]),
      'class_fractions': {
        name: round(float(fraction), 6)
        for name, fraction in zip(labels, fractions, strict=False)
      },
    },
    ensure_ascii=False,
  )


def _png(pixels: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, 'PNG')
  return buffer.getvalue()


class PredictMasks(beam.PTransform):
  """The whole job on a pipeline: writes the outputs the module lists."""

  def __init__(self, job: Job, tint: Optional[Tint] = None):
    super().__init__()
    self._job = job
    self._tint = tint

  def expand(self, begin):
    job, overlays = self._job, self._tint is not None
    read = (
      begin
      | 'Input' >> beam.Create([job])
      | 'List' >> beam.FlatMap(list_photos)
      | 'Spread' >> beam.Reshuffle()
      | 'Read'
      >> beam.ParDo(_ReadPhoto(job, overlays)).with_outputs(
        _DONE, _ERRORS, main='photos'
      )
    )
    written = (
      read.photos
      | 'RunInference'
      >> base.RunInference(
        base.KeyedModelHandler(ModelHandler(job.model, job.batch_size))
      )
      | 'Write'
      >> beam.ParDo(_WriteMask(job, self._tint)).with_outputs(
        _ERRORS, main='lines'
      )
    )
    done = read[_DONE] | 'DescribeDone' >> beam.ParDo(
      _DescribeDone(job, overlays)
    )
    _ = (
      (written.lines, done)
      | 'AllPredictions' >> beam.Flatten()
      | 'WritePredictions' >> _write_lines(job, PREDICTIONS_FILE)
    )
    return (
      (read[_ERRORS], written[_ERRORS])
      | 'AllErrors' >> beam.Flatten()
      | 'WriteErrors' >> _write_lines(job, ERRORS_FILE)
    )


def _write_lines(job: Job, name: str) -> beam.PTransform:
  """One file `name` in the output folder, one line per element."""
  return beam.io.WriteToText(
    files.join(job.output_dir, name),
    shard_name_template='',
    num_shards=1,
  )


def count_lines(job: Job) -> Dict[str, Any]:
  """{'masks': predictions lines, 'errors': {problem: count}} of a run."""
  counts = {'masks': 0, 'errors': {}}
  for name in (PREDICTIONS_FILE, ERRORS_FILE):
    with filesystems.FileSystems.open(
      files.join(job.output_dir, name),
      compression_type=filesystems.CompressionTypes.UNCOMPRESSED,
    ) as f:
      for line in io.TextIOWrapper(f, encoding='utf-8'):
        if name == PREDICTIONS_FILE:
          counts['masks'] += 1
        else:
          problem = json.loads(line)['problem']
          counts['errors'][problem] = counts['errors'].get(problem, 0) + 1
  return counts
