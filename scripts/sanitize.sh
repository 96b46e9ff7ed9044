#!/usr/bin/env bash
# Builds everything with clang under AddressSanitizer + UndefinedBehaviorSanitizer into
# build-san/ (without MPI), runs the whole test suite there, then runs each libFuzzer target in fuzz/ for
# FUZZ_SECONDS (default 60) from its seed corpus. Usage: scripts/sanitize.sh
# Environment: FUZZ_SECONDS, BUILD_DIR (default build-san).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
build_dir="${BUILD_DIR:-build-san}"
fuzz_seconds="${FUZZ_SECONDS:-60}"

bash scripts/install_deps.sh --with-clang
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBATCHSCOPE_SANITIZE=address,undefined -DBATCHSCOPE_BUILD_FUZZERS=ON \
    -DBATCHSCOPE_MPI=OFF  # this leg checks that a build without MPI refuses several ranks
cmake --build "$build_dir" -j"$(nproc)"

# oneDNN's JIT code and OpenMP runtime are not instrumented; leaks of process-lifetime caches
# (primitive plans, the arena) are by design, so leak checking stays off.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" --timeout 900

# Fuzz from a scratch copy of each seed corpus, so the repository's corpora stay as committed.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in idx safetensors model_spec; do
    corpus_name="$target"
    [[ "$target" == model_spec ]] && corpus_name=spec
    mkdir -p "$work/$target"
    cp -r "fuzz/corpus/$corpus_name/." "$work/$target/"
    echo "== fuzzing $target for ${fuzz_seconds}s"
    # A fixed seed makes CI replay the run that was checked before committing.
    "$build_dir/fuzz/fuzz_$target" -seed=1 -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 \
        -print_final_stats=1 "$work/$target" 2>&1 | tail -n 12
done
