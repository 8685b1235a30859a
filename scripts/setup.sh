#!/usr/bin/env bash
# setup.sh — install the Debian packages lqabench needs (quiet no-op when all
# are present).
#
#   scripts/setup.sh            build + data + plotting dependencies
#   scripts/setup.sh torch      python3-torch python3-numpy (PyTorch cross-checks)
#   scripts/setup.sh parallel   GNU parallel
#   scripts/setup.sh testtools  clang and qemu-user (second compiler, older CPUs emulated)
#   scripts/setup.sh fuzz       clang and its libFuzzer/sanitizer runtime (make fuzz)
#   scripts/setup.sh all        all of the above
#
# Packages are checked with dpkg-query first; only when some are missing does it
# run apt-get update and apt-get install -y --no-install-recommends (through
# sudo when not root). An entry "pkg:cmd" also counts as present when command
# cmd exists (e.g. npm bundled with a NodeSource nodejs, which conflicts with
# Debian's npm package).
set -euo pipefail

BASE=(build-essential pkg-config libopenblas-dev libcjson-dev zlib1g-dev libpng-dev
      gnuplot-nox:gnuplot dataset-fashion-mnist npm:npm ca-certificates python3:python3
      python3-pandas)
TORCH=(python3-torch python3-numpy)
PARALLEL=(parallel:parallel)
TESTTOOLS=(clang:clang qemu-user:qemu-x86_64)
FUZZ=(clang:clang libclang-rt-dev)

want=()
if [ $# -eq 0 ]; then
    want=("${BASE[@]}")
fi
for arg in "$@"; do
    case "$arg" in
        base) want+=("${BASE[@]}") ;;
        torch) want+=("${TORCH[@]}") ;;
        parallel) want+=("${PARALLEL[@]}") ;;
        testtools) want+=("${TESTTOOLS[@]}") ;;
        fuzz) want+=("${FUZZ[@]}") ;;
        all) want+=("${BASE[@]}" "${TORCH[@]}" "${PARALLEL[@]}" "${TESTTOOLS[@]}" "${FUZZ[@]}") ;;
        -h|--help)
            sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
            exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (expected: base, torch, parallel, testtools, fuzz, all)" >&2
           exit 2 ;;
    esac
done

installed() {
    local st
    st=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
    [ "$st" = installed ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup.sh: dpkg-query not found; this script supports Debian/Ubuntu only." >&2
    echo "setup.sh: install these by hand: ${want[*]}" >&2
    exit 1
fi

missing=()
for entry in "${want[@]}"; do
    pkg=${entry%%:*}
    cmd=${entry#"$pkg"}; cmd=${cmd#:}
    if [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
    installed "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
