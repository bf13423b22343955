# Two commands do all the set-up on a fresh machine with Python 3.11 and pip:
#   make demo   train RIN on the embedded MNIST digits and print honest quality figures
#   make test   lint, format check, type check and the test suite
# Both create (or reuse) .venv and install the pinned CPU torch and the project into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
STAMP := $(VENV)/.installed-$(TORCH_VERSION)

# glibc malloc otherwise returns every large activation to the OS and page-faults it back in
# on the next step (measured ~30% slower on CPU, see shared perf notes).
export MALLOC_MMAP_MAX_ := 0
export MALLOC_TRIM_THRESHOLD_ := 1099511627776

.PHONY: demo test lint style install clean bench

# pip prints a line per package on the long steps (torch is ~200 MB), so a fresh install is never silent
$(STAMP): pyproject.toml
	@echo "[1/4] virtual environment $(VENV)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[2/4] pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "[3/4] torch $(TORCH_VERSION) (the largest download)"
	$(BIN)/python -m pip install --progress-bar off "torch==$(TORCH_VERSION)"
	@echo "[4/4] rin and its test and demo extras"
	$(BIN)/python -m pip install --progress-bar off -e ".[dev,demo]" "torch==$(TORCH_VERSION)"
	touch $(STAMP)
	@echo "installed: $(BIN)/rin --help"

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rin demo --out runs/demo

lint: $(STAMP)
	$(BIN)/ruff check rin tests benchmarks
	$(BIN)/ruff format --check rin tests benchmarks
	$(BIN)/mypy rin

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --json bench.json

test: lint
	$(BIN)/python -m pytest -n 2 --durations=10 -q

style: $(STAMP)
	$(BIN)/ruff check --fix rin tests benchmarks
	$(BIN)/ruff format rin tests benchmarks

clean:
	rm -rf $(VENV) runs .mypy_cache .ruff_cache .pytest_cache
