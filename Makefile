# The two commands a person needs: `make demo` and `make test`.
# Each creates (or reuses) .venv with Python 3.10, installs the pinned set from
# requirements.lock plus this project, and .venv-clients with the pinned set
# from requirements-clients.lock (MediaPipe and LiteRT, which need a protobuf
# the TFX stack cannot share; see clients/__init__.py), then does its job. A
# second run with nothing changed skips the installs.

VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
CLIENTS_VENV := .venv-clients
CLIENTS_PY := $(CLIENTS_VENV)/bin/python
CLIENTS_INSTALLED := $(CLIENTS_VENV)/.installed
PIP_TOOLS := 'pip==24.2' 'setuptools==75.1.0' 'wheel==0.44.0'
ARGS ?=

.PHONY: demo test test-fast mutants lint install clients browser clean

demo: $(INSTALLED) $(CLIENTS_INSTALLED)
	$(PY) pipeline_runner.py --dataset=demo $(ARGS)

# Two pytest-xdist workers, one test file at a time each (a module's tests
# share its fixtures, e.g. the end-to-end run); on 2 cores the suite takes
# about 60% of its serial time (docs/testing.md).
PYTEST_PARALLEL ?= -n 2 --dist loadfile

test: lint $(CLIENTS_INSTALLED) browser
	$(PY) -m pytest tests $(PYTEST_PARALLEL) $(ARGS)

# Google style (pyproject.toml): lint findings and unformatted files fail.
lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-fast: $(INSTALLED) $(CLIENTS_INSTALLED) browser
	$(PY) -m pytest tests -m 'not slow' $(PYTEST_PARALLEL) $(ARGS)

# Mutation testing with mutmut over model/, components/ and the dataset
# readers, with the fast tests ([tool.mutmut] in pyproject.toml). Hours on 2
# cores, so not in CI: narrow it with MUTANTS, e.g.
# `make mutants MUTANTS='model.losses* components.pusher*'`. Results and the
# survivors judged harmless: docs/testing.md.
MUTANTS ?=
mutants: $(INSTALLED) $(CLIENTS_INSTALLED)
	MOBILE_DEEPLAB_CLIENTS_PYTHON=$(abspath $(CLIENTS_PY)) \
		nice -n 19 $(VENV)/bin/mutmut run $(MUTANTS)
	$(VENV)/bin/mutmut results

install: $(INSTALLED) $(CLIENTS_INSTALLED)

clients: $(CLIENTS_INSTALLED)

$(INSTALLED): requirements.lock setup.py
	@test -x $(PY) || bash .ci/find_python310.sh -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade $(PIP_TOOLS)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# The report test opens report.html in headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium)

$(CLIENTS_INSTALLED): requirements-clients.lock
	@test -x $(CLIENTS_PY) || bash .ci/find_python310.sh -m venv $(CLIENTS_VENV)
	$(CLIENTS_PY) -m pip install --quiet --upgrade $(PIP_TOOLS)
	$(CLIENTS_PY) -m pip install --quiet -r requirements-clients.lock
	@touch $@

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) runs build mutants *.egg-info
