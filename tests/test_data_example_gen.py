"""components.example_gen: splits, hash rule, TFX cache, bad-input report."""

import glob
import hashlib
import json
import os

from PIL import Image
import pytest
import tensorflow as tf
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local import local_dag_runner
from tfx.types import standard_artifacts
from tfx.utils import proto_utils
from google.protobuf import message

from components import example_gen
from data import datasets
from data import features
from data import labels
from data import problems
from tests.fixtures import supervisely_replica as replica


def _people_project(root, count):
  images = {}
  for i in range(count):
    mask_rect = [(2 + i % 5, 3), (20, 3), (20, 18), (2 + i % 5, 18)]
    images[f'ds{1 + i % 2}/img{i:02d}.png'] = {
        'image': replica.noise_image(24, 28, i),
        'objects': [replica.polygon_object(mask_rect)]}
  return replica.write_project(root, images)


def _read_split(uri, split):
  names = []
  for path in sorted(glob.glob(os.path.join(uri, f'Split-{split}', '*.gz'))):
    for record in tf.data.TFRecordDataset(path, compression_type='GZIP'):
      example = tf.train.Example.FromString(record.numpy())
      names.append(example.features.feature[
          features.IMAGE_FILENAME].bytes_list.value[0].decode())
  return sorted(names)


def _is_eval(filename, eval_fraction=0.1):
  """The documented rule, computed independently of TFX."""
  feature = tf.train.Feature(bytes_list=tf.train.BytesList(
      value=[filename.encode()]))
  bucket = int(hashlib.sha256(feature.SerializeToString(
      deterministic=True)).hexdigest(), 16) % 1000
  return bucket >= 1000 - round(eval_fraction * 1000)


def _run(tmp_path, component):
  pipeline = tfx_pipeline.Pipeline(
      pipeline_name='ingest_test', pipeline_root=str(tmp_path / 'root'),
      components=[component], enable_cache=True,
      metadata_connection_config=metadata.sqlite_metadata_connection_config(
          str(tmp_path / 'mlmd.sqlite')))
  local_dag_runner.LocalDagRunner().run(pipeline)
  store = metadata.Metadata(
      metadata.sqlite_metadata_connection_config(
          str(tmp_path / 'mlmd.sqlite')))
  with store as m:
    executions = m.store.get_executions()
    artifacts = m.store.get_artifacts()
  return executions[-1], sorted(a.uri for a in artifacts)


def test_people_splits_hash_rule_report_and_cache(tmp_path):
  project = _people_project(str(tmp_path / 'people'), 24)
  execution, uris = _run(tmp_path, example_gen.create_example_gen(
      'people', project, eval_fraction=0.3))
  assert len(uris) == 1
  uri = uris[0]
  train, eval_ = _read_split(uri, 'train'), _read_split(uri, 'eval')
  assert sorted(os.listdir(uri)) == ['Split-eval', 'Split-train',
                                     'ingest_report.json']
  assert len(train) + len(eval_) == 24 and not set(train) & set(eval_)
  assert eval_ == sorted(n for n in train + eval_ if _is_eval(n, 0.3))
  assert 0 < len(eval_) < 24
  with open(os.path.join(uri, 'ingest_report.json')) as f:
    report = json.load(f)
  assert report['in'] == 24 and report['written'] == 24
  assert report['skipped'] == 0
  assert report['output_splits'] == {'train': len(train), 'eval': len(eval_)}

  # Same data: the second run reuses the first run's output.
  execution, uris = _run(tmp_path, example_gen.create_example_gen(
      'people', project, eval_fraction=0.3))
  assert execution.last_known_state == execution.CACHED
  assert uris == [uri]

  # One image rewritten: the fingerprint changes and ExampleGen runs again.
  path = os.path.join(project, 'ds1', 'img', 'img00.png')
  Image.fromarray(replica.noise_image(24, 28, 99)).save(path)
  os.utime(path, (1, 1))
  execution, uris = _run(tmp_path, example_gen.create_example_gen(
      'people', project, eval_fraction=0.3))
  assert execution.last_known_state == execution.COMPLETE
  assert len(uris) == 2


def _exec_properties(component):
  props = {}
  for key, value in component.exec_properties.items():
    if isinstance(value, message.Message):
      value = proto_utils.proto_to_json(value)
    props[key] = value
  return props


def _execute(component, output_dir):
  artifact = standard_artifacts.Examples()
  artifact.uri = output_dir
  executor = example_gen.Executor()
  executor.Do({}, {'examples': [artifact]}, _exec_properties(component))
  return output_dir


def _broken_project(root):
  """8 images: 5 good, 3 bad in three different ways."""
  project = _people_project(root, 8)
  with open(os.path.join(project, 'ds1', 'img', 'img02.png'), 'wb') as f:
    f.write(b'\x89PNG broken')
  os.remove(os.path.join(project, 'ds2', 'ann', 'img03.png.json'))
  with open(os.path.join(project, 'ds1', 'ann', 'img04.png.json'), 'w') as f:
    f.write('{"size": {"height": 24, "wid')
  return project


def test_skip_bad_examples_counts_every_problem(tmp_path):
  project = _broken_project(str(tmp_path / 'people'))
  uri = _execute(example_gen.create_example_gen(
      'people', project, skip_bad_examples=True), str(tmp_path / 'out'))
  names = _read_split(uri, 'train') + _read_split(uri, 'eval')
  assert sorted(names) == sorted(f'ds{1 + i % 2}/img{i:02d}.png'
                                 for i in (0, 1, 5, 6, 7))
  with open(os.path.join(uri, 'ingest_report.json')) as f:
    report = json.load(f)
  assert (report['in'], report['written'], report['skipped']) == (8, 5, 3)
  assert {k: v['count'] for k, v in report['problems'].items()} == {
      problems.CORRUPT_IMAGE: 1, problems.MISSING_MASK: 1,
      problems.BAD_ANNOTATION: 1}
  assert report['problems'][problems.CORRUPT_IMAGE]['examples'][0][
      'path'].endswith('ds1/img/img02.png')


def test_bad_example_fails_the_run_naming_the_file(tmp_path):
  project = _broken_project(str(tmp_path / 'people'))
  os.remove(os.path.join(project, 'ds1', 'img', 'img02.png'))
  os.remove(os.path.join(project, 'ds2', 'img', 'img03.png'))
  with pytest.raises(Exception, match=r'img04\.png\.json: bad_annotation: '
                     'not valid JSON'):
    _execute(example_gen.create_example_gen('people', project),
             str(tmp_path / 'out'))


def test_dataset_labels_and_argument_checks(tmp_path):
  assert datasets.dataset_labels('people', 'x') == labels.PEOPLE_CLASSES
  assert datasets.dataset_labels('voc', 'x') == labels.VOC_CLASSES
  with pytest.raises(FileNotFoundError, match='labels.txt'):
    datasets.dataset_labels('tfrecord', str(tmp_path))
  datasets.write_labels(str(tmp_path), ('background', 'cat', 'dog'))
  assert datasets.dataset_labels('tfrecord', str(tmp_path)) == (
      'background', 'cat', 'dog')
  with pytest.raises(ValueError, match='dataset=.coco.'):
    datasets.dataset_labels('coco', 'x')
  project = _people_project(str(tmp_path / 'p'), 2)
  with pytest.raises(ValueError, match='eval_fraction=0.0'):
    example_gen.create_example_gen('people', project, eval_fraction=0.0)
  with pytest.raises(ValueError, match='voc_aug=True'):
    example_gen.create_example_gen('people', project, voc_aug=True)
