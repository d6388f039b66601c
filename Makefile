# Quick start: `make demo` (install + run the bundled demo), `make test` (install + run the test suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# CPU build of PyTorch; on a CUDA machine set TORCH_SPEC to the wheel you want.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= torch,viz,dev

.PHONY: install demo test test-fast bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: install
	$(VENV)/bin/motioneval demo --out demo_out

test: install
	$(PY) -m pytest -q tests

test-fast: install
	$(PY) -m pytest -q -m "not slow" tests

bench: install
	$(PY) benchmarks/fid.py
	$(PY) benchmarks/metrics.py
	$(PY) benchmarks/representation.py
	$(PY) benchmarks/evaluator.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache demo_out
