# rnnlab tasks. `cargo install just` once, then `just --list`.

set shell := ["bash", "-euo", "pipefail", "-c"]

rnnlab := "target/release/rnnlab"

# List the recipes.
default:
    @just --list

# Build the release binary (reused by sweep/plan/report).
build:
    cargo build --release -p rnnlab-cli

# Run every trial of SPEC that has no result yet, then print the summary.
sweep SPEC *ARGS: build
    {{rnnlab}} sweep {{SPEC}} {{ARGS}}

# Check SPEC and list its trials without running anything.
plan SPEC *ARGS: build
    {{rnnlab}} plan {{SPEC}} {{ARGS}}

# Check SPEC (every trial of its grid).
validate SPEC *ARGS: build
    {{rnnlab}} validate {{SPEC}} {{ARGS}}

# What a results folder's sweep is doing: done, running (where, which step), pending, failed; add --watch to follow it.
status DIR *ARGS: build
    {{rnnlab}} status {{DIR}} {{ARGS}}

# Sweep every experiment with [[published]] figures that has trials without results, then rebuild results/index.md; e.g. `just reproduce --jobs 2`, `just reproduce --dry-run`.
reproduce *ARGS: build
    {{rnnlab}} reproduce {{ARGS}}

# Rebuild runs.csv and the report of a results folder from its trial folders (after workers or Slurm jobs).
collect DIR: build
    {{rnnlab}} collect {{DIR}}

# A one-node Slurm on this machine (root; Debian packages): `just slurm start`, `just slurm stop` (docs/cluster.md).
slurm ACTION="start":
    scripts/slurm-local.sh {{ACTION}}

# Rebuild report.md, report.html and plots/ of a results folder and print its table, e.g. `just report results/parity`.
report DIR: build
    {{rnnlab}} report {{DIR}}

# Fetch and verify a dataset into data/ (or $RNNLAB_DATA): mnist | fashion-mnist; `poly-music` checks the piano rolls that ship in data/poly_music.
data NAME:
    scripts/data.sh {{NAME}}

# Time training steps on the benchmark workloads, e.g. `just bench --kernel fused --kernel reference`.
bench *ARGS: build
    {{rnnlab}} bench {{ARGS}}

# rnnlab beside PyTorch and Keras (creates .venv with torch, tensorflow-cpu, numpy on first use).
bench-peers *ARGS: build
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import torch, tensorflow, numpy" 2>/dev/null || .venv/bin/pip install torch tensorflow-cpu numpy
    .venv/bin/python bench/peers/compare.py --rnnlab {{rnnlab}} --json-out results/bench-peers.json {{ARGS}}

# A [[published]] figure's protocol in PyTorch (nottingham | jsb | geron_rnn | adding | copy | seq_mnist | pmnist), to tell "worse" from "different" (creates .venv with torch).
protocols-pytorch PROTOCOL *ARGS:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import torch, numpy" 2>/dev/null || .venv/bin/pip install torch numpy
    .venv/bin/python bench/peers/protocols.py {{PROTOCOL}} {{ARGS}}

# The parity sweep through rnnlab and the same protocol as a PyTorch process pool, alternating; e.g. `just bench-sweep --seeds 10`.
bench-sweep *ARGS: build
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install torch numpy
    .venv/bin/python bench/sweep.py --rnnlab {{rnnlab}} {{ARGS}}

# Training speed per epoch at Chung et al. 2014's sizes on the four music sets, rnnlab beside PyTorch (creates .venv with torch).
bench-chung *ARGS: build
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import torch, numpy" 2>/dev/null || .venv/bin/pip install torch numpy
    .venv/bin/python bench/chung_epoch.py --rnnlab {{rnnlab}} {{ARGS}}

# TPE against random and Sobol search at equal budgets, and the same TPE search in Optuna + PyTorch (creates .venv with torch, optuna).
bench-tpe *ARGS: build
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import torch, optuna, numpy" 2>/dev/null || .venv/bin/pip install torch "optuna==5.1.0" numpy
    .venv/bin/python bench/tpe.py --rnnlab {{rnnlab}} {{ARGS}}

# Check the TPE golden file (crates/spec/tests/golden/tpe.json) against Optuna; `just golden-tpe --write` regenerates it (creates .venv with optuna).
golden-tpe *ARGS:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import optuna; assert optuna.__version__ == '5.1.0'" 2>/dev/null || .venv/bin/pip install "optuna==5.1.0" numpy
    .venv/bin/python scripts/golden_tpe.py {{ARGS}}

# Check the golden vectors (crates/nn/tests/golden) against PyTorch; `just golden --write` regenerates them.
golden *ARGS:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import torch; assert torch.__version__.startswith('2.15.0')" 2>/dev/null || .venv/bin/pip install "torch==2.15.0" numpy
    .venv/bin/python scripts/golden.py {{ARGS}}

# Check the report statistics' fixture (crates/report/tests/fixtures) against numpy/scipy; `--write` regenerates it.
stats-fixture *ARGS:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c "import scipy, numpy" 2>/dev/null || .venv/bin/pip install "scipy==1.17.1" "numpy==2.4.6"
    .venv/bin/python scripts/stats_fixture.py {{ARGS}}

# Build target/cuda/rnnlab with CUDA for a GPU machine (nvcc etc. from pip wheels; see the script).
build-cuda:
    scripts/build-cuda.sh

# Type-check the CUDA path (library and its GPU golden test) without CUDA installed; CI runs this.
check-cuda:
    RUSTFLAGS="-D warnings" cargo check -p rnnlab-nn -p rnnlab-train --features cuda,ci-check --all-targets

# Formatting, lints and every test (what CI runs; the Slurm tests need `just slurm start` and RNNLAB_SLURM=1).
test: lint
    cargo test --workspace --all-targets

# The kernel tests (rnnlab-nn) on the generic code paths, as on a CPU without AVX2/AVX-512 (CI runs this too).
test-kernels-baseline:
    RNNLAB_SIMD=baseline cargo test -p rnnlab-nn --all-targets

# Regenerate docs/spec.md (the spec reference) from the code; a test fails when it is stale.
docs:
    cargo run --quiet -p rnnlab-cli -- reference --out docs/spec.md

# Formatting and clippy with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
