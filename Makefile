# The two commands a person needs: `make demo` and `make test`.
# Each creates (or reuses) .venv with Python 3.10, installs the pinned set from
# requirements.lock plus this project, then does its job. A second run with
# nothing changed skips the install.

VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
ARGS ?=

.PHONY: demo test install clean

demo: $(INSTALLED)
	$(PY) pipeline_runner.py --dataset=demo $(ARGS)

test: $(INSTALLED)
	$(PY) -m pytest tests $(ARGS)

.PHONY: test-fast
test-fast: $(INSTALLED)
	$(PY) -m pytest tests -m 'not slow' $(ARGS)

install: $(INSTALLED)

$(INSTALLED): requirements.lock setup.py
	@test -x $(PY) || bash .ci/find_python310.sh -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip==24.2' 'setuptools==75.1.0' 'wheel==0.44.0'
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

clean:
	rm -rf $(VENV) runs build *.egg-info
