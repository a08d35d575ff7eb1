"""clients: finding the clients venv, and failures that say what happened."""

import pytest

import clients


def test_a_missing_venv_fails_and_says_how_to_make_it(monkeypatch, tmp_path):
  missing = str(tmp_path / 'no-venv' / 'bin' / 'python')
  monkeypatch.setenv(clients.PYTHON_ENV, missing)
  with pytest.raises(FileNotFoundError, match='make clients') as error:
    clients.run('segment.py', ['--help'])
  assert missing in str(error.value)


def test_the_default_venv_runs_scripts():
  assert 'ImageSegmenter' in clients.run('segment.py', ['--help'])


def test_a_failing_script_reports_its_exit_code_and_stderr():
  with pytest.raises(
    RuntimeError, match=r'exited with 2:(.|\n)*--images'
  ) as error:
    clients.run('segment.py', ['model.tflite'])
  assert 'clients/segment.py model.tflite' in str(error.value)
