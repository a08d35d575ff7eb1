"""pipeline.report: the HTML report renders in a browser and says the truth."""

import html.parser

import numpy as np
import pytest

from components import evaluation
from components.evaluation import SliceScores
from data import features
from model import boundary
from model import metrics
from pipeline import report
from pipeline import summary as summary_lib
from tests.fixtures import examples_split

IGNORE = features.IGNORE_LABEL
LABELS = ['background', 'person', 'cat']


class _Tables(html.parser.HTMLParser):
  """Every table of a page as rows of cell texts, and the images."""

  def __init__(self):
    super().__init__()
    self.tables, self.images, self._cell = [], [], None

  def handle_starttag(self, tag, attrs):
    if tag == 'table':
      self.tables.append([])
    elif tag == 'tr':
      self.tables[-1].append([])
    elif tag in ('td', 'th'):
      self._cell = ''
    elif tag == 'img':
      self.images.append(dict(attrs))

  def handle_endtag(self, tag):
    if tag in ('td', 'th'):
      self.tables[-1][-1].append(self._cell)
      self._cell = None

  def handle_data(self, data):
    if self._cell is not None:
      self._cell += data


def _summary():
  scores = metrics.Scores(
    mean_iou=0.6,
    per_class_iou={'background': 0.9, 'person': 0.3, 'cat': None},
    pixel_accuracy=0.9,
    mean_boundary_iou=0.25,
    per_class_boundary_iou={'background': 0.4, 'person': 0.1, 'cat': None},
    label_pixels={'background': 50, 'person': 10, 'cat': 0},
    images=2,
    void_images=0,
  )
  empty = SliceScores(
    0, None, dict.fromkeys(LABELS), None, dict.fromkeys(LABELS)
  )
  result = summary_lib.RunSummary(
    dataset='demo',
    labels=LABELS,
    input_size=64,
    num_examples={'train': 8, 'eval': 2},
    sources={'eval': {'ds1': 2}},
    metrics=scores,
    metrics_by_slice={
      'source': {
        'ds1': SliceScores(
          2, 0.6, scores.per_class_iou, 0.25, scores.per_class_boundary_iou
        )
      },
      'foreground_fraction': {'[0.25, 1]': empty},
    },
    metrics_tflite={'float': scores, 'fp16': scores, 'int8': None},
    blessed=True,
    pushed_dir=None,
    not_pushed_reason='test',
    saved_model='/m',
    tflite={},
    tflite_bytes={'float': 3072, 'fp16': 2048, 'int8': None},
    examples='/e',
    components=[],
  )
  result.absences = evaluation.absences(scores, result.metrics_by_slice)
  return result


def test_row_normalized_confusion_rows_sum_to_one_absent_rows_are_none():
  confusion = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
  rows = report.row_normalized(confusion)
  np.testing.assert_allclose(rows[0], [0.8, 0.2, 0.0])
  np.testing.assert_allclose(rows[1], [0.25, 0.75, 0.0])
  assert rows[2] is None


def test_boundary_errors_are_the_boundaries_that_disagree():
  label = np.zeros((40, 40), np.uint8)
  label[10:30, 10:30] = 1
  label[0, :] = IGNORE
  missed, spurious = report.boundary_errors(label, label.copy(), 2)
  assert not missed.any() and not spurious.any()
  shifted = np.roll(label, 4, axis=1)
  shifted[shifted == IGNORE] = 0
  missed, spurious = report.boundary_errors(label, shifted, 2)
  d = boundary.boundary_width(40, 40)
  person_edge = boundary.mask_boundary(label == 1, d)
  shifted_edge = boundary.mask_boundary(shifted == 1, d)
  assert (missed >= (person_edge & ~shifted_edge)).all()
  assert (spurious >= (shifted_edge & ~person_edge & (label != IGNORE))).all()
  assert not spurious[0].any()  # Void pixels are never errors.


def test_worst_images_skip_all_void_ones_and_rank_by_iou():
  images = [
    report.ImageScore(0, 'a', 0.5, 0.2),
    report.ImageScore(1, 'void', None, None),
    report.ImageScore(2, 'c', 0.1, 0.05),
    report.ImageScore(3, 'd', 0.9, 0.7),
  ]
  assert [s.filename for s in report.worst_images(images, 2)] == ['c', 'a']
  assert len(report.worst_images(images, 10)) == 3


def test_html_report_renders_in_a_browser_with_its_numbers(
  tmp_path, render_in_browser
):
  summary = _summary()
  confusion = np.array([[45, 5, 0], [7, 3, 0], [0, 0, 0]])
  matrix = report.row_normalized(confusion)
  photo = np.zeros((20, 30, 3), np.uint8)
  photo[:, :, 0] = 200  # Red: it must show in the screenshot.
  row = [photo, photo, photo, photo]
  worst = [report.ImageScore(0, 'ds1/x.png', 0.3, 0.1)]
  page = report.render_html(summary, matrix, LABELS, worst, [row])
  path = tmp_path / 'report.html'
  path.write_text(page)
  dom, screenshot = render_in_browser(str(path))
  parsed = _Tables()
  parsed.feed(dom)
  models, per_class, confusion_table, slices = parsed.tables
  assert models[1] == ['SavedModel', '0.6000', '0.2500', '']
  assert models[2] == ['model.tflite', '0.6000', '0.2500', '3.0 KB']
  assert models[4] == ['model_int8.tflite', 'n/a', 'n/a', 'n/a']
  assert per_class[3] == ['cat', 'n/a', 'n/a', '0']
  assert confusion_table[1] == ['background', '0.900', '0.100', '0.000']
  assert confusion_table[2] == ['person', '0.700', '0.300', '0.000']
  assert confusion_table[3] == ['cat'] + ['n/a (absent)'] * 3
  assert ['foreground_fraction', '[0.25, 1]', '0', 'n/a', 'n/a'] in slices
  assert len(parsed.images) == 4
  assert all(
    i['src'].startswith('data:image/png;base64,') for i in parsed.images
  )
  assert 'no eval example falls in it' in dom
  assert 'nan' not in page.lower()
  # The browser drew the inlined pictures: red pixels on a white page.
  red = (
    (screenshot[..., 0] > 180)
    & (screenshot[..., 1] < 40)
    & (screenshot[..., 2] < 40)
  )
  assert red.sum() >= 4 * 20 * 30 * 0.9


def test_the_reports_own_pass_scores_each_image_and_the_split(tmp_path):
  rng = np.random.default_rng(3)
  masks = []
  for _ in range(3):
    mask = np.zeros((30, 40), np.uint8)
    y, x = rng.integers(0, 15, size=2)
    mask[y : y + 12, x : x + 20] = 1
    masks.append(mask)
  masks.append(np.full((10, 10), IGNORE, np.uint8))  # All void.
  predictions = iter(
    [np.roll(m, k, axis=1).clip(0, 1) for k, m in enumerate(masks)]
  )
  measured = report.evaluate_split(
    examples_split.write_split(
      tmp_path, 'eval', examples_split.grey_photos(masks), masks
    ),
    lambda photo: next(predictions),
    2,
  )
  shifted = [np.roll(m, k, axis=1).clip(0, 1) for k, m in enumerate(masks)]
  confusion = np.zeros((2, 2), int)
  for mask, prediction in zip(masks, shifted, strict=True):
    valid = mask != IGNORE
    for t in range(2):
      for p in range(2):
        confusion[t, p] += np.sum((mask == t) & (prediction == p) & valid)
  np.testing.assert_array_equal(measured.counts.confusion, confusion)
  assert [s.filename for s in measured.images] == [
    f'img{i}.png' for i in range(4)
  ]
  assert measured.images[0].mean_iou == 1.0  # Not shifted.
  assert measured.images[3].mean_iou is None  # All void: no score.
  for score, mask, prediction in zip(
    measured.images[:3], masks[:3], shifted[:3], strict=True
  ):
    ious = [
      np.sum((mask == c) & (prediction == c))
      / np.sum((mask == c) | (prediction == c))
      for c in range(2)
    ]
    assert score.mean_iou == pytest.approx(np.mean(ious), abs=1e-12)
  worst = report.worst_images(measured.images, 2)
  assert [s.index for s in worst] == [2, 1]
