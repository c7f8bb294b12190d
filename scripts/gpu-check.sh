#!/usr/bin/env bash
# GPU check for the llama.cpp provider: writes a 1B-sized synthetic GGUF (~2.2 GB, in $TMPDIR),
# loads it with CUDA and on the CPU, prints offloaded layers and tokens/s for both, and exits
# non-zero if CUDA is unavailable or no layer was offloaded. Takes about a minute on a GPU machine.
#
#   scripts/gpu-check.sh [--cpu-only] [--skip-cpu] [--model PATH] [--keep] [--gen-tokens 64] ...
#
# Needs node >= 20 and node_modules with node-llama-cpp 3.21.1 and its prebuilt CUDA binaries
# (@node-llama-cpp/linux-x64-cuda, which load the system's CUDA runtime, cuBLAS and driver).
# Nothing is built or downloaded (build: "never").
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "gpu-check: $*" >&2; exit 2; }
command -v node >/dev/null || fail "node is not installed"
[ -d node_modules/node-llama-cpp ] || fail "node_modules/node-llama-cpp is missing (run npm ci on this machine first)"
[ -d node_modules/tsx ] || fail "node_modules/tsx is missing (run npm ci on this machine first)"

cpu_only=0
for a in "$@"; do [ "$a" = "--cpu-only" ] && cpu_only=1; done
if [ "$cpu_only" = 0 ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/gpu: /' || true
  else
    echo "gpu: nvidia-smi not found: no NVIDIA driver visible, the CUDA part will fail (use --cpu-only to run the CPU part alone)"
  fi
  [ -d node_modules/@node-llama-cpp/linux-x64-cuda ] || echo "gpu: node_modules/@node-llama-cpp/linux-x64-cuda is missing: no prebuilt CUDA binary"
fi

exec node --import tsx scripts/gpu-check.ts "$@"
