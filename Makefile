# immunetwin: `make demo` and `make test` set up .venv/ (once per pyproject.toml) and run.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.immunetwin-installed
BASE_PYTHON := $(shell command -v python3.11 2>/dev/null || command -v python3)

.PHONY: install demo test lint bench suite clean

# Idempotent: pip runs only when .venv is missing or pyproject.toml changed since the last install.
install:
	@set -euo pipefail; \
	if [ ! -x "$(PY)" ]; then \
	  echo "creating $(VENV) with $(BASE_PYTHON)"; "$(BASE_PYTHON)" -m venv "$(VENV)"; \
	fi; \
	want=$$("$(PY)" -c "import hashlib,sys; print(hashlib.sha256(open('pyproject.toml','rb').read()).hexdigest() + '-' + sys.version.split()[0])"); \
	if [ -f "$(STAMP)" ] && [ "$$(cat "$(STAMP)")" = "$$want" ]; then \
	  echo "$(VENV) is up to date"; \
	else \
	  "$(PY)" -m pip install --upgrade pip && \
	  "$(PY)" -m pip install -e ".[dev]" && \
	  echo "$$want" > "$(STAMP)"; \
	fi
	@echo "compiling the solver kernels into numba's cache (once; later runs load them)"
	@$(PY) -c "from immunetwin.simulate import warmup; warmup()"

demo: install
	$(PY) -m immunetwin.demo

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy src/immunetwin  # strict on model, simulate, data, inference (pyproject)

test: lint
	$(PY) -m pytest -q -n 2

bench: install
	$(PY) benchmarks/cohort.py

suite: install
	$(PY) benchmarks/sbml_suite.py ../shared/data/sbml-test-suite/cases --backend compiled

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
