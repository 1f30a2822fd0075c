#!/usr/bin/env bash
# Installs LayerScope into ./.venv with everything the default detectors need offline.
# Usage: bash installer/install.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] >= (3, 11), "LayerScope needs Python 3.11+"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[offline,dev,cluster]"
# These two carry real weights but pin ancient torch/numpy: take the files, not the pins.
.venv/bin/python -m pip install -q --no-deps "resemblyzer==0.1.4" "facenet-pytorch==2.6.0"
echo "LayerScope installed in $(pwd)/.venv" >&2
