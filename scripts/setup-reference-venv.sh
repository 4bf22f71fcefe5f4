#!/usr/bin/env bash
# Create (or update) the Python reference environment in .venv/ at the repo root.
#
#   usage: scripts/setup-reference-venv.sh   (env: PYTHON=python3.11, VENV=dir; default .venv)
#
# Used only by the reference scripts (scripts/pdq_vectors.py,
# scripts/make_test_images.py, scripts/bench_reference.py,
# scripts/imagehash_vectors.py, scripts/imagehash_agreement.py). Never needed by the
# Rust build or `cargo test`: the vectors they produce are committed.
#
# pdqhash is built from its sdist (Cython + a C++ compiler, e.g. g++); that is
# expected and takes about a minute. Idempotent: a second run checks the pins
# and does nothing if they are already satisfied. .venv/ is gitignored.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-"$ROOT/.venv"}
PY=${PYTHON:-python3}

# Pins known to work together (Python 3.11, x86_64 Linux).
PINS=(
  "pdqhash==0.2.8"
  "ImageHash==4.3.2"
  "pillow==13.0.0"
  "numpy==2.4.6"
  "scipy==1.17.1"
  "PyWavelets==1.9.0"
)

if [ -x "$VENV/bin/python" ]; then
  echo "venv exists: $VENV ($("$VENV/bin/python" -V 2>&1))"
else
  echo "creating venv: $VENV with $PY ($("$PY" -V 2>&1))"
  "$PY" -m venv "$VENV"
fi

missing=()
for pin in "${PINS[@]}"; do
  name=${pin%%==*}; want=${pin##*==}
  have=$("$VENV/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)
  if [ "$have" = "$want" ]; then
    echo "  ok       $name $have"
  else
    echo "  install  $name $want (have: ${have:-none})"
    missing+=("$pin")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  # numpy first so that pdqhash's isolated build finds a matching wheel;
  # pdqhash has no binary wheel for every platform: allow the sdist build.
  "$VENV/bin/python" -m pip install "${PINS[@]}"
fi

"$VENV/bin/python" - <<'EOF'
import numpy, PIL, imagehash, pdqhash, scipy
a = numpy.zeros((8, 8, 3), numpy.uint8)
h, q = pdqhash.compute(a)
assert len(h) == 256
print(f"reference venv ready: pdqhash {pdqhash.__version__}, ImageHash {imagehash.__version__}, "
      f"Pillow {PIL.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}")
EOF
echo "use: $VENV/bin/python scripts/pdq_vectors.py"
