#!/usr/bin/env bash
# Run on the GPU machine (no Rust there) after `just build-cuda` here, from the repository root:
#   scripts/gpu-check.sh golden    the layers' golden tests, GPU case included (carry target/cuda/golden)
#   scripts/gpu-check.sh parity    experiments/parity.toml on cuda, results to $OUT (carry target/cuda/rnnlab)
#   scripts/gpu-check.sh time      `rnnlab bench` CPU vs GPU, batch 128/1000/4096 (carry target/cuda/rnnlab)
# The two binaries together exceed one carry (64 MiB), so each mode carries one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
# The CUDA 13 runtime libraries, wherever this machine keeps them.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
  if ls "$d"/libcublas.so.13* >/dev/null 2>&1; then
    export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
done
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv || true
out="${OUT:-/tmp/rnnlab-gpu}"
case "${1:-}" in
  golden)
    RNNLAB_GOLDEN="${RNNLAB_GOLDEN:-shared/golden}" target/cuda/golden --test-threads 1
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
