"""pipeline.code_version: stable, and changes with any project source file."""

from pipeline import code_version


def test_fingerprint_is_stable_and_follows_source_changes(
  tmp_path, monkeypatch
):
  for package in code_version._PACKAGES:
    (tmp_path / package).mkdir()
    (tmp_path / package / 'a.py').write_text('x = 1\n')
  (tmp_path / 'data' / 'notes.txt').write_text('not code')
  monkeypatch.setattr(code_version, '_ROOT', str(tmp_path))
  first = code_version.source_fingerprint()
  assert first == code_version.source_fingerprint()
  assert len(first) == 16
  (tmp_path / 'data' / 'notes.txt').write_text('still not code')
  assert code_version.source_fingerprint() == first
  (tmp_path / 'model' / 'a.py').write_text('x = 2\n')
  assert code_version.source_fingerprint() != first
