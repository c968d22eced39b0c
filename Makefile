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

.PHONY: all evaluate features status clean test bench parity release lint

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
	./benches/bench.sh
