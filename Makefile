# qmu-kit: `make app` runs the kit, `make test` runs every check. Both create or update the local
# virtual environment (.venv) first, so a fresh machine needs only Python 3.11 and pip.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qmu-kit-installed
# Extra pip options, e.g. PIP_OPTIONS="--extra-index-url https://download.pytorch.org/whl/cpu" on a
# machine whose default index would hand out torch's multi-GB CUDA build.
PIP_OPTIONS ?=
HOST ?= 127.0.0.1
PORT ?= 8866

.PHONY: app test bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_OPTIONS) -e '.[test]'
	@touch $@

app: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=$(HOST) --port=$(PORT) --no-browser notebooks/

# The notebooks run under nbval (copies with the reference outputs of the quoted cells, see
# tests/notebook_tools.py) before the unit tests, which rerun them through papermill with other
# parameters; both share one cache, invalidated automatically when the kit's code changes.
test: $(STAMP)
	$(PY) -m tests.notebook_tools prepare build/nbval > /dev/null
	QMU_KIT_CACHE=$(CURDIR)/build/test-cache $(PY) -m pytest build/nbval tests \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_experiment.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts build
