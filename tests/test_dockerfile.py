"""The Dockerfile's Beam boot program matches the Beam and Python it runs."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _found(pattern, name):
  with open(os.path.join(ROOT, name)) as f:
    return re.search(pattern, f.read(), re.MULTILINE).group(1)


def test_the_beam_boot_comes_from_the_locked_beam_for_the_image_python():
  # A boot program of another Beam release may not start this release's
  # workers: the SDK image's tag must follow the lock file.
  beam = _found(r'^apache-beam==(\S+)$', 'requirements.lock')
  python = _found(r'^FROM python:(\d+\.\d+)-slim$', 'Dockerfile')
  stage = _found(r'^FROM (\S+) AS beam_sdk$', 'Dockerfile')
  assert stage == f'apache/beam_python{python}_sdk:{beam}'
  assert _found(r'^COPY --from=beam_sdk (.*)$', 'Dockerfile') == (
    '/opt/apache/beam /opt/apache/beam'
  )
  assert _found(r'^ENTRYPOINT (.*)$', 'Dockerfile') == (
    '["/opt/apache/beam/boot"]'
  )
