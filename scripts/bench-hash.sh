#!/usr/bin/env bash
# Throughput of cssim vs the Python references (pdqhash, imagehash) on one folder.
#
#   usage: scripts/bench-hash.sh [FOLDER] [--runs N] [--py-runs N] [--cssim PATH]
#
# FOLDER defaults to target/corpus/photos (git-ignored; build it with
# `../shared/corpus/photos.sh target/corpus`).
# Uses .venv/bin/python (scripts/setup-reference-venv.sh) or $PYTHON.
# Does not build anything: run `cargo build --release` first to include the Rust
# side; without target/release/cssim only the Python side is measured.
# Keep the machine otherwise idle; the numbers are single-thread except (e).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"
else
  echo "error: no reference venv; run scripts/setup-reference-venv.sh (or set PYTHON=...)" >&2
  exit 1
fi
[ -x "$ROOT/target/release/cssim" ] ||
  echo "note: $ROOT/target/release/cssim missing (cargo build --release); Python side only" >&2
exec "$PY" "$ROOT/scripts/bench_reference.py" "$@"
