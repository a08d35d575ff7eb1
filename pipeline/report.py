"""The run's evaluation report: report.png, and report.html beside it.

Both are drawn from the run summary and one pass of the trained SavedModel
over the eval split, each image predicted at its original size:

- the SavedModel's and each TFLite file's mean IoU and mean boundary IoU,
  with the files' sizes;
- IoU and boundary IoU per class, and the row-normalized confusion matrix
  (row: true class; each row sums to 1 over its labelled pixels);
- mean IoU and mean boundary IoU per slice (pipeline.summary);
- the k eval images with the lowest IoU: photo, label, prediction, and the
  boundary errors (pixels in one boundary but not the other, model.boundary)
  marked;
- which scores are absent, and why.

report.html is one self-contained file (pictures inlined as PNG data URLs)
that a browser opens from disk with no server.
"""

import base64
import dataclasses
import heapq
import html
import io
import itertools
import os
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
from PIL import ImageDraw

from components import artifacts
from components import example_io
from components import inference
from data import features
from model import boundary
from model import metrics
from pipeline import visualize
from pipeline.summary import RunSummary

REPORT_FILE = 'report.png'
REPORT_HTML_FILE = 'report.html'
# Boundary errors: in the label's boundary only (missed), in the
# prediction's only (spurious).
_MISSED_COLOR = (255, 0, 255)
_SPURIOUS_COLOR = (0, 255, 255)


@dataclasses.dataclass(frozen=True)
class ImageScore:
  """One eval image's scores; None when all its labels are void."""

  index: int  # Position in the eval split.
  filename: str
  mean_iou: Optional[float]
  mean_boundary_iou: Optional[float]


@dataclasses.dataclass(frozen=True)
class EvalPass:
  """What the report measured itself on the eval split."""

  counts: metrics.SplitCounts
  images: List[ImageScore]


def write_report(
  summary: RunSummary, output_dir: str, worst_k: int = 4
) -> Tuple[str, str]:
  """Writes report.png and report.html; returns their paths."""
  segment, labels = inference.load_segmenter(summary.saved_model)
  measured = evaluate_split(summary.examples, segment, len(labels))
  worst = worst_images(measured.images, worst_k)
  rows = [
    _picture_row(example, segment(example_io.image_of(example)), labels)
    for example in _examples_at(summary.examples, [s.index for s in worst])
  ]
  matrix = row_normalized(measured.counts.confusion)
  pictures = [_headline(summary)]
  if summary.metrics:
    pictures.append(
      visualize.bar_chart(
        [('mean IoU', summary.metrics.mean_iou)]
        + list(summary.metrics.per_class_iou.items())
        + [('mean boundary IoU', summary.metrics.mean_boundary_iou)]
        + [
          (f'boundary {name}', value)
          for name, value in summary.metrics.per_class_boundary_iou.items()
        ]
      )
    )
  pictures.append(confusion_picture(matrix, labels))
  if rows:
    pictures.append(visualize.grid(rows, _COLUMNS))
  png_path = os.path.join(output_dir, REPORT_FILE)
  _stack(pictures).save(png_path)
  html_path = os.path.join(output_dir, REPORT_HTML_FILE)
  with open(html_path, 'w') as f:
    f.write(render_html(summary, matrix, labels, worst, rows))
  return png_path, html_path


_COLUMNS = (
  'photo',
  'label (white: void)',
  'prediction',
  'missed edge: magenta, extra: cyan',
)


def evaluate_split(examples_uri: str, segment, num_classes: int) -> EvalPass:
  """SplitCounts over the eval split, and each image's own scores."""
  counts = metrics.SplitCounts(num_classes)
  images = []
  names = [str(c) for c in range(num_classes)]
  for index, example in enumerate(
    example_io.split_examples(examples_uri, features.EVAL_SPLIT)
  ):
    label = example_io.mask_of(example)
    prediction = segment(example_io.image_of(example))
    one = metrics.SplitCounts(num_classes).add(label, prediction)
    counts.merge(one)
    scores = one.scores(names)
    images.append(
      ImageScore(
        index,
        example.features.feature[features.IMAGE_FILENAME]
        .bytes_list.value[0]
        .decode(),
        scores.mean_iou,
        scores.mean_boundary_iou,
      )
    )
  return EvalPass(counts, images)


def worst_images(images: Sequence[ImageScore], k: int) -> List[ImageScore]:
  """The k images with the lowest mean IoU; all-void images have none and
  are not ranked."""
  scored = [s for s in images if s.mean_iou is not None]
  return heapq.nsmallest(k, scored, key=lambda s: (s.mean_iou, s.index))


def row_normalized(confusion: np.ndarray) -> List[Optional[np.ndarray]]:
  """Each row divided by its labelled pixels; None for a class that has
  none (it is absent from the eval split)."""
  rows = []
  for row in np.asarray(confusion, np.float64):
    total = row.sum()
    rows.append(row / total if total else None)
  return rows


def boundary_errors(
  label: np.ndarray, prediction: np.ndarray, num_classes: int
) -> Tuple[np.ndarray, np.ndarray]:
  """(missed, spurious) bool masks: pixels in a class's label boundary but
  not its predicted one, and the reverse, void pixels left out (the pixels
  boundary IoU counts against the model)."""
  width = boundary.boundary_width(*label.shape)
  valid = label != features.IGNORE_LABEL
  missed = np.zeros(label.shape, bool)
  spurious = np.zeros(label.shape, bool)
  for c in range(num_classes):
    label_edge = boundary.mask_boundary(label == c, width)
    prediction_edge = boundary.mask_boundary(prediction == c, width) & valid
    missed |= label_edge & ~prediction_edge
    spurious |= prediction_edge & ~label_edge
  return missed, spurious


def confusion_picture(
  matrix: List[Optional[np.ndarray]], labels: Sequence[str], cell: int = 34
) -> Image.Image:
  """The row-normalized confusion matrix as shaded cells with values."""
  margin = 110
  size = len(labels)
  canvas = Image.new(
    'RGB', (margin + cell * size + 4, 40 + cell * size + 4), 'white'
  )
  draw = ImageDraw.Draw(canvas)
  draw.text((4, 4), 'confusion matrix, rows normalized', fill='black')
  draw.text((margin, 22), 'predicted ->', fill='black')
  for i, (name, row) in enumerate(zip(labels, matrix, strict=True)):
    y = 40 + i * cell
    draw.text((4, y + cell // 3), name[:16], fill='black')
    for j in range(size):
      x = margin + j * cell
      if row is None:
        draw.rectangle([x, y, x + cell - 2, y + cell - 2], outline='gray')
        draw.text((x + 4, y + cell // 3), 'n/a', fill='gray')
        continue
      shade = int(255 * (1 - row[j]))
      draw.rectangle(
        [x, y, x + cell - 2, y + cell - 2], fill=(shade, shade, 255)
      )
      draw.text(
        (x + 3, y + cell // 3),
        f'{row[j]:.2f}',
        fill='white' if row[j] > 0.5 else 'black',
      )
  return canvas


def render_html(
  summary: RunSummary,
  matrix: List[Optional[np.ndarray]],
  labels: Sequence[str],
  worst: Sequence[ImageScore],
  rows: Sequence[Sequence[np.ndarray]],
) -> str:
  """The report as one HTML page (see module doc)."""
  fmt = metrics.format_score
  parts = [
    '<!DOCTYPE html><html><head><meta charset="utf-8">',
    f'<title>{_e(summary.dataset)}: evaluation report</title>',
    '<style>body{font-family:sans-serif;margin:2em}table{border-collapse:'
    'collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;'
    'text-align:right}th{background:#eee}img{max-height:200px}</style>',
    '</head><body>',
    f'<h1>{_e(summary.dataset)}: eval split, {summary.input_size} px model, '
    'scored at original resolution</h1>',
    '<h2>Models</h2>',
  ]
  model_rows = [
    (
      'SavedModel',
      fmt(summary.metrics.mean_iou if summary.metrics else None),
      fmt(summary.metrics.mean_boundary_iou if summary.metrics else None),
      '',
    )
  ]
  for kind, filename in artifacts.TFLITE_FILES.items():
    scores = summary.metrics_tflite.get(kind)
    size = summary.tflite_bytes.get(kind)
    model_rows.append(
      (
        filename,
        fmt(scores.mean_iou if scores else None),
        fmt(scores.mean_boundary_iou if scores else None),
        f'{size / 1024:,.1f} KB' if size else 'n/a',
      )
    )
  parts.append(
    _table(('model', 'mean IoU', 'mean boundary IoU', 'size'), model_rows)
  )
  if summary.metrics:
    scores = summary.metrics
    parts += [
      '<h2>Per class</h2>',
      _table(
        ('class', 'IoU', 'boundary IoU', 'labelled pixels'),
        [
          (
            name,
            fmt(scores.per_class_iou[name]),
            fmt(scores.per_class_boundary_iou[name]),
            str(scores.label_pixels[name]),
          )
          for name in labels
        ],
      ),
    ]
  parts += [
    '<h2>Confusion matrix (rows: true class, normalized)</h2>',
    _table(
      ('true \\ predicted', *labels),
      [
        (
          name,
          *(
            ['n/a (absent)'] * len(labels)
            if row is None
            else [f'{v:.3f}' for v in row]
          ),
        )
        for name, row in zip(labels, matrix, strict=True)
      ],
    ),
    '<h2>Slices</h2>',
    _table(
      ('slice', 'value', 'examples', 'mean IoU', 'mean boundary IoU'),
      [
        (
          key,
          name,
          str(value.num_examples),
          fmt(value.mean_iou),
          fmt(value.mean_boundary_iou),
        )
        for key, slices in summary.metrics_by_slice.items()
        for name, value in slices.items()
      ],
    ),
    f'<h2>The {len(worst)} eval images with the lowest IoU</h2>',
  ]
  for score, row in zip(worst, rows, strict=True):
    parts.append(
      f'<h3>{_e(score.filename)}: mean IoU {fmt(score.mean_iou)}, mean '
      f'boundary IoU {fmt(score.mean_boundary_iou)}</h3><p>'
    )
    for title, picture in zip(_COLUMNS, row, strict=True):
      parts.append(
        f'<img alt="{_e(title)}" title="{_e(title)}" '
        f'src="data:image/png;base64,{_png_base64(picture)}">'
      )
    parts.append('</p>')
  if summary.absences:
    parts.append('<h2>Absent scores</h2><ul>')
    parts += [f'<li>{_e(sentence)}</li>' for sentence in summary.absences]
    parts.append('</ul>')
  parts.append('</body></html>')
  return '\n'.join(parts)


def _picture_row(example, prediction: np.ndarray, labels) -> List[np.ndarray]:
  image, label = example_io.image_of(example), example_io.mask_of(example)
  prediction = prediction.astype(np.uint8)
  missed, spurious = boundary_errors(label, prediction, len(labels))
  errors = (image.astype(np.float32) * 0.4).astype(np.uint8)
  errors[missed] = _MISSED_COLOR
  errors[spurious] = _SPURIOUS_COLOR
  return [
    image,
    visualize.overlay(image, label, len(labels)),
    visualize.overlay(image, prediction, len(labels)),
    errors,
  ]


def _examples_at(examples_uri: str, indices: Sequence[int]) -> Iterator:
  """The eval examples at these positions, in the order given."""
  wanted = set(indices)
  found = {
    i: example
    for i, example in zip(
      itertools.count(),
      example_io.split_examples(examples_uri, features.EVAL_SPLIT),
    )
    if i in wanted
  }
  return (found[i] for i in indices)


def _headline(summary: RunSummary) -> Image.Image:
  fmt = metrics.format_score
  lines = [
    f'{summary.dataset}: eval split, {summary.input_size}px model, scored at '
    'original resolution'
  ]
  if summary.metrics:
    lines.append(
      f'SavedModel mean IoU {fmt(summary.metrics.mean_iou)}, mean boundary '
      f'IoU {fmt(summary.metrics.mean_boundary_iou)}'
    )
  for kind, scores in summary.metrics_tflite.items():
    if scores:
      lines.append(
        f'TFLite {kind} mean IoU {fmt(scores.mean_iou)}, mean boundary IoU '
        f'{fmt(scores.mean_boundary_iou)}'
      )
  for key, slices in summary.metrics_by_slice.items():
    for name, value in slices.items():
      lines.append(
        f'slice {key}={name}: {value.num_examples} images, mean IoU '
        f'{fmt(value.mean_iou)}, boundary {fmt(value.mean_boundary_iou)}'
      )
  picture = Image.new('RGB', (640, 8 + 16 * len(lines)), 'white')
  draw = ImageDraw.Draw(picture)
  for i, line in enumerate(lines):
    draw.text((4, 4 + 16 * i), line, fill='black')
  return picture


def _stack(pictures) -> Image.Image:
  canvas = Image.new(
    'RGB',
    (max(p.width for p in pictures), sum(p.height for p in pictures)),
    'white',
  )
  y = 0
  for picture in pictures:
    canvas.paste(picture, (0, y))
    y += picture.height
  return canvas


def _table(header, rows) -> str:
  head = ''.join(f'<th>{_e(h)}</th>' for h in header)
  body = ''.join(
    '<tr>' + ''.join(f'<td>{_e(v)}</td>' for v in row) + '</tr>' for row in rows
  )
  return f'<table><tr>{head}</tr>{body}</table>'


def _png_base64(picture: np.ndarray) -> str:
  buffer = io.BytesIO()
  Image.fromarray(picture).save(buffer, 'PNG')
  return base64.b64encode(buffer.getvalue()).decode('ascii')


def _e(text) -> str:
  return html.escape(str(text))
