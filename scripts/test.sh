#!/usr/bin/env bash
# The README's test command: install dependencies, build (Release), run every test with ctest.
# Usage: scripts/test.sh   (exit status is ctest's)
# Environment: BUILD_DIR, the build folder relative to the repository root (default: build).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
build_dir="${BUILD_DIR:-build}"

# python3-torch lets the suite prove PyTorch loads our checkpoints (load_state_dict).
bash scripts/install_deps.sh --with-torch
BUILD_DIR="$build_dir" bash scripts/build.sh Release
exec ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" --timeout 600
