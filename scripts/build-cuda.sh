#!/usr/bin/env bash
# Builds an rnnlab binary with `--features cuda` on a machine with no GPU and no CUDA toolkit,
# for a GPU machine that has the CUDA 13 driver and libraries but no Rust toolchain.
#
# What dfdx 0.13 / cudarc 0.9 need at build time, and where it comes from here:
#   nvcc (+ cudafe++, ptxas, crt headers) and CUDA headers: NVIDIA's pip wheels (cu13) in .venv-cuda
#   <nv/target> for cuda_fp16.h: the nvidia-cuda-cccl wheel, added with NVCC_APPEND_FLAGS
#   nvidia-smi (asked for the compute capability): a stand-in printing $CUDA_COMPUTE_CAP (9.0: H100)
#   libcuda (the driver, only on the GPU machine): a stub with the same soname, for linking only
#   libnvrtc / libcublas / libcublasLt: the wheels' .so.13 files, linked through unversioned names
# Output: target/cuda/rnnlab and target/cuda/golden (the layers' golden tests, with the GPU
# case), target/cuda/include + paths.env (what nvrtc needs at run time, see below); the default target/release/rnnlab is rebuilt without CUDA after. On the GPU machine,
# scripts/gpu-check.sh runs them (LD_LIBRARY_PATH must reach libnvrtc.so.13, libcublas.so.13).
set -euo pipefail
cd "$(dirname "$0")/.."

cap="${CUDA_COMPUTE_CAP:-90}"
venv=.venv-cuda
tools="$PWD/target/cuda-tools"
test -x "$venv/bin/python" || python3 -m venv "$venv"
"$venv/bin/python" -c "import nvidia" 2>/dev/null \
  || "$venv/bin/pip" install -q nvidia-cuda-nvcc nvidia-cuda-runtime nvidia-cublas nvidia-cuda-nvrtc nvidia-cuda-crt nvidia-cuda-cccl
cuda="$(realpath "$venv"/lib/python3*/site-packages/nvidia/cu13)"
mkdir -p "$tools/bin" "$tools/lib" target/cuda

printf '#!/bin/sh\necho compute_cap\necho %s.%s\n' "${cap%?}" "${cap#?}" >"$tools/bin/nvidia-smi"
chmod +x "$tools/bin/nvidia-smi"

# The driver API functions cudarc declares, as empty functions in a libcuda.so.1 stand-in.
sys="$(ls -d ~/.cargo/registry/src/*/cudarc-0.9.*/src/driver/sys.rs | head -1)"
grep -o 'pub fn cu[A-Za-z0-9_]*' "$sys" | sed 's/pub fn //' | sort -u | sed 's/.*/void &(void) {}/' >"$tools/cuda_stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$tools/lib/libcuda.so" "$tools/cuda_stub.c"
for lib in nvrtc cublas cublasLt; do
  ln -sf "$cuda/lib/lib$lib.so.13" "$tools/lib/lib$lib.so"
done

export PATH="$tools/bin:$cuda/bin:$PATH"
export CUDA_ROOT="$cuda" CUDA_PATH="$cuda" CUDA_COMPUTE_CAP="$cap"
export NVCC_APPEND_FLAGS="-I$cuda/include/cccl"
export LIBRARY_PATH="$tools/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
cargo build --release -p rnnlab-cli --features cuda
cp target/release/rnnlab target/cuda/rnnlab
# The golden tests of the layers (including `cuda_layers_match_pytorch`) as a binary.
golden="$(cargo test --release -p rnnlab-nn --features cuda --test golden --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*golden[^"]*"' | tail -1 | cut -d'"' -f4)"
cp "$golden" target/cuda/golden
strip target/cuda/rnnlab target/cuda/golden 2>/dev/null || true
# dfdx compiles some kernels (concat, stack, reshape) at run time with nvrtc, with two include
# folders baked in as absolute paths of THIS machine: its OUT_DIR (the .cuh helpers) and the
# CUDA headers. gpu-check.sh recreates both paths on the GPU machine from what is saved here.
out_dir="$(for d in target/release/build/dfdx-*/out; do [ -s "$(ls "$d"/*.ptx 2>/dev/null | head -1)" ] && realpath "$d"; done | head -1)"
mkdir -p target/cuda/include
cp "$out_dir"/*.cuh target/cuda/include/
printf 'DFDX_OUT_DIR=%s\nCUDA_INCLUDE_DIR=%s\n' "$out_dir" "$cuda/include" >target/cuda/paths.env
echo "built target/cuda/golden ($(du -h target/cuda/golden | cut -f1))"
echo "built target/cuda/rnnlab ($(du -h target/cuda/rnnlab | cut -f1)); needs: $(ldd target/cuda/rnnlab 2>/dev/null | grep -Eo 'lib(cuda|nvrtc|cublas|cublasLt)\.so\.[0-9]+' | sort -u | tr '\n' ' ')"
# Back to the CPU binary the other recipes use.
env -u LIBRARY_PATH cargo build --release -p rnnlab-cli
