#!/bin/sh
# Runs the whole rates evaluation: first on the committed example images
# (7 photos: a smoke test whose intervals are wide), then on a corpus folder
# given as argument, e.g. the photos of ../shared/corpus:
#
#   ../shared/corpus/photos.sh target/corpus      # once: 125 photos + tiles
#   examples/eval/run.sh target/corpus/photos
#
# Writes target/eval/examples/ and target/eval/corpus/ (results.json, CSV
# tables, report.html) and, with --dihedral, target/eval/corpus-dihedral/.
# Hashes are cached in target/eval/cache: a second run is fast.
set -eu
cd "$(dirname "$0")/../.."
CSSIM=${CSSIM:-target/release/cssim}
if [ ! -x "$CSSIM" ]; then
    cargo build --release --locked
fi
EDITS=examples/eval/edits.txt
CACHE=target/eval/cache

"$CSSIM" eval rates --corpus examples/images --edits "$EDITS" \
    --cache "$CACHE" --out target/eval/examples --force

if [ $# -ge 1 ]; then
    "$CSSIM" eval rates --corpus "$1" --edits "$EDITS" --list-size 1000000 \
        --cache "$CACHE" --out target/eval/corpus --force
    "$CSSIM" eval rates --corpus "$1" --edits "$EDITS" --algo pdq --dihedral \
        --cache "$CACHE" --out target/eval/corpus-dihedral --force
    echo "reports: target/eval/examples/report.html target/eval/corpus/report.html target/eval/corpus-dihedral/report.html"
else
    echo "report: target/eval/examples/report.html (give a corpus folder to run on it too)"
fi
