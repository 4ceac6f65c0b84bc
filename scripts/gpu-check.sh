#!/usr/bin/env bash
# Run on the GPU machine (no Rust there) after `just build-cuda` here, from the repository root:
#   scripts/gpu-check.sh golden    the layers' golden tests, GPU case included (carry target/cuda/golden)
#   scripts/gpu-check.sh parity    experiments/parity.toml on cuda, results to $OUT (carry target/cuda/rnnlab)
#   scripts/gpu-check.sh time      `rnnlab bench` CPU vs GPU, batch 128/1000/4096 (carry target/cuda/rnnlab)
# Each mode carries one binary plus target/cuda/include and target/cuda/paths.env (both
# binaries together are just under one 64 MiB carry).
set -euo pipefail
cd "$(dirname "$0")/.."
# The CUDA 13 runtime libraries, wherever this machine keeps them.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
  if ls "$d"/libcublas.so.13* >/dev/null 2>&1; then
    export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
done
# dfdx's run-time kernels include headers from two absolute paths of the build machine
# (see build-cuda.sh): recreate them here.
if [ -f target/cuda/paths.env ]; then
  . target/cuda/paths.env
  mkdir -p "$DFDX_OUT_DIR" && cp target/cuda/include/*.cuh "$DFDX_OUT_DIR"/
  if [ ! -e "$CUDA_INCLUDE_DIR/cuda_fp16.h" ]; then
    nvcc_include="$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")/../include"
    mkdir -p "$(dirname "$CUDA_INCLUDE_DIR")" && ln -sfn "$(realpath "$nvcc_include")" "$CUDA_INCLUDE_DIR"
  fi
else
  echo "warning: target/cuda/paths.env not carried; kernels compiled at run time may not find their headers" >&2
fi
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv || true
out="${OUT:-/tmp/rnnlab-gpu}"
case "${1:-}" in
  golden)
    RNNLAB_GOLDEN="${RNNLAB_GOLDEN:-crates/nn/tests/golden}" target/cuda/golden --test-threads 1
    ;;
  parity)
    target/cuda/rnnlab sweep experiments/parity.toml --set run.device=cuda --out "$out" --jobs 4
    ;;
  time)
    # The seed workloads (batch 128 / 1000 / 4096): CPU fused kernels vs the GPU, per cell.
    target/cuda/rnnlab bench --kernel fused --device cpu --device cuda --threads "$(nproc)" --steps 20
    ;;
  *)
    echo "usage: $0 golden | parity | time" >&2
    exit 2
    ;;
esac
