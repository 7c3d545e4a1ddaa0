# EVQA: the two commands a newcomer runs are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip -q --disable-pip-version-check
DEMO_OUT ?= demo_out

.PHONY: install install-dev demo test lint format clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# DeepSpeed builds no CUDA ops at install time (DS_BUILD_OPS=0); they are JIT-built on GPUs when needed.
$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	DS_BUILD_OPS=0 $(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $@

# Meta's sam2 package is a test-only dependency (UniPixel conversion); its metadata pulls torchvision,
# which must not be installed on CPU machines, hence --no-deps.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	SAM2_BUILD_CUDA=0 $(PIP) install --no-deps --no-build-isolation sam2==1.1.0
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/evqa demo --out $(DEMO_OUT)
	$(BIN)/evqa view --pred_file $(DEMO_OUT)/predictions.json --pred_mask_dir $(DEMO_OUT)/pred_masks \
		--out $(DEMO_OUT)/viewer --no_progress

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
