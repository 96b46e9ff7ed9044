#!/usr/bin/env bash
# Configure and build batchscope with CMake; the binary ends at $BUILD_DIR/batchscope.
# Usage: scripts/build.sh [BUILD_TYPE]   (BUILD_TYPE defaults to Release)
# Environment: BUILD_DIR, the build folder relative to the repository root (default: build);
#   BATCHSCOPE_MARCH, the -march= of the project's own code (default: native; CI also builds
#   x86-64-v3, the AVX2 level).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

build_type="${1:-Release}"
build_dir="${BUILD_DIR:-build}"

# BATCHSCOPE_PYTHON=REQUIRED: install_deps.sh put pybind11 there, so a missing module is an error,
# not a build that quietly leaves `import batchscope` and its tests out.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DBATCHSCOPE_MARCH="${BATCHSCOPE_MARCH:-native}" \
    -DBATCHSCOPE_PYTHON=REQUIRED
cmake --build "$build_dir" -j"$(nproc)"
echo "build.sh: built $build_dir/batchscope ($build_type, -march=${BATCHSCOPE_MARCH:-native})"
