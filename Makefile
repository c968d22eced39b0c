# fedser: every target calls the `fedser` binary; the cache decides what runs.
# CREMAD_DIR=/path/to/CREMA-D make evaluate   runs on the real corpus.

CARGO    ?= cargo
ifdef CREMAD_DIR
PIPELINE ?= pipelines/cremad.toml
else
PIPELINE ?= pipelines/default.toml
endif
CACHE    ?= cache
FEDSER   := target/release/fedser
RUN      := $(FEDSER) --pipeline $(PIPELINE) --cache $(CACHE)

.PHONY: all evaluate features status clean test bench parity release lint notebooks ci-notebooks

all: evaluate

release:
	$(CARGO) build --release -p fedser-cli

evaluate: release
	$(RUN) run

features: release
	$(RUN) run --until features

status: release
	$(RUN) status

clean: release
	$(RUN) clean

test:
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

parity:
	$(CARGO) run --release -p fedser-features --example parity

bench: release
	$(CARGO) build --release -p fedser-federated --example bench_fedavg
	$(CARGO) build --release -p fedser-features --example throughput --example fft_bench
	$(CARGO) build --release -p fedser-train --example logistic_bench
	./benches/bench.sh

# Notebooks: their own venv from PyPI, executed headless against $(CACHE)
# (executed copies in $(CACHE)/notebooks/).
PYTHON   ?= python3
NB_VENV  := .venv-notebooks

$(NB_VENV)/.installed: notebooks/requirements.txt
	rm -rf $(NB_VENV)
	$(PYTHON) -m venv $(NB_VENV)
	$(NB_VENV)/bin/pip install --disable-pip-version-check --quiet -r notebooks/requirements.txt \
	  || { echo "error: cannot install notebooks/requirements.txt from PyPI into $(NB_VENV)" >&2; exit 1; }
	touch $@

notebooks: $(NB_VENV)/.installed
	$(NB_VENV)/bin/python notebooks/run.py $(CACHE)

# CI: a 48-clip study with the debug binary `make test` already built, then
# the notebooks on its cache. Fails (never skips) when PyPI is unreachable.
CI_NB_CACHE ?= target/ci-notebooks-cache

ci-notebooks:
	$(CARGO) run -q -p fedser-cli -- --pipeline pipelines/ci-notebooks.toml --cache $(CI_NB_CACHE) -q run
	$(MAKE) notebooks CACHE=$(CI_NB_CACHE)
