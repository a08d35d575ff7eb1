"""pipeline.summary: the typed run summary, its JSON, and honest absences."""

import json
import math

import pytest

from components import evaluation
from components.evaluation import SliceScores
from model import metrics
from pipeline import summary as summary_lib

LABELS = ['background', 'person', 'cat']


def _scores(**changes):
  values = dict(
    mean_iou=0.75,
    per_class_iou={'background': 0.9, 'person': 0.6, 'cat': None},
    pixel_accuracy=0.93,
    mean_boundary_iou=0.4,
    per_class_boundary_iou={'background': 0.5, 'person': 0.3, 'cat': None},
    label_pixels={'background': 900, 'person': 100, 'cat': 0},
    images=12,
    void_images=1,
  )
  values.update(changes)
  return metrics.Scores(**values)


def _slices():
  empty = SliceScores(
    0, None, dict.fromkeys(LABELS), None, dict.fromkeys(LABELS)
  )
  full = SliceScores(
    12,
    0.75,
    {'background': 0.9, 'person': 0.6, 'cat': None},
    0.4,
    {'background': 0.5, 'person': 0.3, 'cat': None},
  )
  void = SliceScores(
    1, None, dict.fromkeys(LABELS), None, dict.fromkeys(LABELS)
  )
  return {
    'source': {'ds1': full, 'ds9': empty},
    'foreground_fraction': {
      '[0, 0.05)': void,
      '[0.05, 0.25)': full,
      '[0.25, 1]': empty,
    },
  }


def _summary(**changes):
  values = dict(
    dataset='demo',
    labels=LABELS,
    input_size=128,
    num_examples={'train': 100, 'eval': 12},
    sources={'train': {'ds1': 60, 'ds9': 40}, 'eval': {'ds1': 12}},
    metrics=_scores(),
    metrics_by_slice=_slices(),
    metrics_tflite={'float': _scores(), 'fp16': _scores(), 'int8': None},
    blessed=True,
    pushed_dir='/serving/1',
    not_pushed_reason=None,
    saved_model='/model',
    tflite={'float': '/t/model.tflite', 'fp16': None, 'int8': None},
    tflite_bytes={'float': 2048, 'fp16': None, 'int8': None},
    examples='/examples',
    components=[summary_lib.ComponentTiming('Trainer', 'COMPLETE', 3.5)],
  )
  values.update(changes)
  result = summary_lib.RunSummary(**values)
  result.absences = evaluation.absences(result.metrics, result.metrics_by_slice)
  return result


def test_json_round_trip_keeps_every_typed_field(tmp_path):
  summary = _summary()
  path = summary_lib.write(summary, str(tmp_path))
  with open(path) as f:
    raw = json.load(f)
  assert raw['metrics']['mean_boundary_iou'] == 0.4
  assert raw['metrics']['per_class_iou']['cat'] is None
  assert raw['metrics_by_slice']['foreground_fraction']['[0.25, 1]'] == {
    'num_examples': 0,
    'mean_iou': None,
    'per_class_iou': dict.fromkeys(LABELS),
    'mean_boundary_iou': None,
    'per_class_boundary_iou': dict.fromkeys(LABELS),
  }
  assert raw['metrics_tflite']['int8'] is None
  assert summary_lib.read(path) == summary


def test_no_nan_can_be_written(tmp_path):
  summary = _summary(metrics=_scores(mean_iou=math.nan))
  with pytest.raises(ValueError, match='JSON compliant'):
    summary_lib.write(summary, str(tmp_path))


def test_absences_name_each_edge_case_and_why():
  text = '\n'.join(_summary().absences)
  assert '1 of 12 eval images have only void (255) labels' in text
  assert 'class cat: no pixel of it in the eval split, and none predicted' in (
    text
  )
  assert 'slice source=ds9: no eval example falls in it' in text
  assert 'slice foreground_fraction=[0.25, 1]: no eval example' in text
  assert 'slice foreground_fraction=[0, 0.05): its 1 eval examples have ' in (
    text
  )
  assert 'source=ds1' not in text


def test_a_class_predicted_but_absent_has_iou_zero_and_says_so():
  scores = _scores(
    per_class_iou={'background': 0.9, 'person': 0.6, 'cat': 0.0},
  )
  (sentence,) = [
    s for s in evaluation.absences(scores, {}) if s.startswith('class cat')
  ]
  assert 'its IoU is 0.0000 (false positives only)' in sentence


def test_format_text_shows_boundary_iou_slices_and_absences():
  text = summary_lib.format_text(_summary())
  assert 'mean boundary IoU 0.4000' in text
  assert 'cat n/a' in text
  assert 'slice source=ds9: 0 examples, mean IoU n/a' in text
  assert 'TFLite fp16  on eval: mean IoU 0.7500, mean boundary IoU 0.4000' in (
    text
  )
  assert 'Absent: slice source=ds9' in text
  assert 'nan' not in text.lower()
