#!/usr/bin/env bash
# Runs a command on a brand-new Debian 12 system: a fresh clone of this repository's committed
# HEAD inside a minimal Debian 12 ("apt" variant: apt, git and ca-certificates, nothing else)
# entered with chroot. It catches the install step that works only because the machine
# running it already has a package, which a CI on a long-lived machine would hide.
# Usage (as root): scripts/fresh_debian.sh [--keep] [--] [COMMAND...]
#   COMMAND   run in the clone's root inside the fresh system (default: bash scripts/test.sh)
#   --keep    leave the unpacked system in place and print its path
# Environment:
#   BATCHSCOPE_FRESH_CACHE  where the base system is cached (default /var/cache/batchscope)
#   any variable named in BATCHSCOPE_FRESH_PASS (space-separated) is passed inside
# The base system is built once with mmdebstrap (installed when missing) and cached as a
# tarball; each run unpacks a new copy, so every run starts from the same clean state. Only
# committed work is seen: commit first. Exit status: the command's.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
keep=0
while (( $# )); do
    case "$1" in
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) echo "fresh_debian.sh: unknown option: $1 (expected --keep, --help or --)" >&2; exit 2 ;;
        *) break ;;
    esac
done
(( $# )) || set -- bash scripts/test.sh
if [[ "$(id -u)" -ne 0 ]]; then
    echo "fresh_debian.sh: needs root (it unpacks a system, mounts /proc in it and chroots)" >&2
    exit 2
fi
git -C "$repo_root" rev-parse --verify -q HEAD >/dev/null || {
    echo "fresh_debian.sh: $repo_root has no commit to clone" >&2; exit 2; }

cache="${BATCHSCOPE_FRESH_CACHE:-/var/cache/batchscope}"
base="$cache/debian12-apt.tar.zst"
if [[ ! -s "$base" ]]; then
    if ! command -v mmdebstrap >/dev/null || ! command -v zstd >/dev/null; then
        echo "fresh_debian.sh: installing mmdebstrap and zstd to build the base system" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends mmdebstrap zstd >/dev/null
    fi
    mkdir -p "$cache"
    echo "fresh_debian.sh: building the base Debian 12 system (once; about 30 s)" >&2
    # Written under a temporary name and renamed, so an interrupted build is never cached.
    mmdebstrap --quiet --variant=apt --include=ca-certificates,git bookworm "$base.tmp.tar.zst"
    mv -f "$base.tmp.tar.zst" "$base"
fi

root="$(mktemp -d /var/tmp/batchscope-fresh.XXXXXX)"
cleanup() {
    if (( keep )); then echo "fresh_debian.sh: kept $root" >&2; return; fi
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar --zstd -xf "$base" -C "$root"
# What belongs to the network rather than to the system comes along: its DNS servers, and the
# extra TLS roots this host is told to trust for it (NODE_EXTRA_CA_CERTS, e.g. a proxy that
# re-signs HTTPS), without which npm inside could not reach its registry here.
cp /etc/resolv.conf "$root/etc/resolv.conf"
extra_ca=""
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -r "$NODE_EXTRA_CA_CERTS" ]]; then
    extra_ca=/etc/ssl/host-network-ca.crt
    cp "$NODE_EXTRA_CA_CERTS" "$root$extra_ca"
fi
mkdir -p "$root/src"
git clone -q "$repo_root" "$root/src/batchscope"
echo "fresh_debian.sh: $(git -C "$repo_root" log -1 --format='%h %s') on a fresh Debian 12; running: $*" >&2

# The environment inside is a new login's, plus what the caller asked to pass.
env_args=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb)
for name in ${BATCHSCOPE_FRESH_PASS:-} CI; do
    [[ -n "${!name+set}" ]] && env_args+=("$name=${!name}")
done
[[ -n "$extra_ca" ]] && env_args+=("NODE_EXTRA_CA_CERTS=$extra_ca")
cmd="$(printf '%q ' "$@")"
# A private mount namespace: /proc, /sys, /dev and /tmp inside vanish with it, whatever happens.
unshare --mount --propagation private bash -c '
    set -e; r="$1"; shift; cmd="$1"; shift
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount --rbind /dev "$r/dev"
    mount -t tmpfs tmpfs "$r/tmp"
    exec chroot "$r" /usr/bin/env -i "$@" bash -c "cd /src/batchscope && $cmd"
' fresh_debian "$root" "$cmd" "${env_args[@]}"
