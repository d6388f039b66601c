# Quick start: `make demo` (install + run the bundled demo), `make test` (install + run the test suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# CPU build of PyTorch; on a CUDA machine pass the wheel you want, e.g. TORCH_SPEC="torch>=2.1".
TORCH_SPEC ?= torch==2.13.0
# The demo needs the evaluator (torch), plots (viz) and, for its TMR block, transformers (tmr); the tests also exercise the optional spaCy tagger and
# the TensorBoard / Lightning monitoring integrations.
DEMO_EXTRAS ?= torch,viz,tmr
TEST_EXTRAS ?= torch,viz,dev,text,monitor,tmr

.PHONY: install demo test test-fast lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"

$(VENV)/.installed-demo: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[$(DEMO_EXTRAS)]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[$(TEST_EXTRAS)]"
	touch $@

install: $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(VENV)/bin/motioneval demo --out demo_out

# Guardrails: lint + import order (ruff) and types (mypy; strict on metrics/ and representation/), as in CI.
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q tests

test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -q -m "not slow" tests

bench: $(VENV)/.installed-test
	$(PY) benchmarks/fid.py
	$(PY) benchmarks/metrics.py
	$(PY) benchmarks/representation.py
	$(PY) benchmarks/evaluator.py
	$(PY) benchmarks/distributed.py
	$(PY) benchmarks/loop.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache demo_out
