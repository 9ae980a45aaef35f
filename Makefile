# make demo: set up .venv and run the main job. make test: set up .venv and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: this exact version is a CPU build on disk; other specs pull CUDA wheels.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,ray]"
	touch $(STAMP)

demo: setup
	$(BIN)/smartframes demo

# The whole suite, slow tests included, with the 15 slowest listed; the quick loop while working is
# $(BIN)/python -m pytest -m "not slow".
test: setup
	$(BIN)/python -m pytest -q --durations=15

bench: setup
	$(BIN)/smartframes bench
	$(BIN)/python benchmarks/extract_speed.py
	$(BIN)/python benchmarks/memory_format.py
	$(BIN)/python benchmarks/batch_size.py

clean:
	rm -rf $(VENV) smartframes-demo .pytest_cache
