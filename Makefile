# The venv lives in .venv/ at the repository root. torch is pinned to the CPU build that lies on
# this kind of machine's disk; pyproject.toml keeps a range for users with their own CUDA build.
PY := .venv/bin/python
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test test-slow test-gpu lint bench bench-gpu clean

setup: .venv/.installed

.venv/.installed: pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,ray,mlflow,tensorboard]"
	touch $@

demo: setup
	.venv/bin/archlab demo

test: setup
	$(PY) -m ruff check archlab cli tests benchmarks
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

test-gpu: setup
	$(PY) -m pytest -q -m gpu

lint: setup
	$(PY) -m ruff check archlab cli tests benchmarks
	$(PY) -m ruff format --check archlab cli tests benchmarks
	$(PY) -m mypy archlab cli

bench: setup
	for script in benchmarks/bench_*.py; do \
		case $$script in *bench_gpu.py) continue;; esac; $(PY) $$script || exit 1; done

bench-gpu:
	bash benchmarks/gpu.sh

clean:
	rm -rf .venv
