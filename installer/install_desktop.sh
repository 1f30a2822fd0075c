#!/usr/bin/env bash
# Registers a built LayerScope bundle with the desktop (menu entry + icon), for the current user.
# Usage: bash install_desktop.sh [BUNDLE_DIR]   (default: the folder this script is in, i.e. dist/layerscope)
# Undo:  rm ~/.local/share/applications/layerscope.desktop ~/.local/share/icons/hicolor/*/apps/layerscope.*
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bundle="$(cd "${1:-$here}" && pwd)"
[ -x "$bundle/layerscope" ] || { echo "no executable $bundle/layerscope: build it with installer/build.sh" >&2; exit 1; }
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps" "$data/icons/hicolor/scalable/apps"
cp "$bundle/share/icons/hicolor/256x256/apps/layerscope.png" "$data/icons/hicolor/256x256/apps/"
cp "$bundle/share/icons/hicolor/scalable/apps/layerscope.svg" "$data/icons/hicolor/scalable/apps/"
# The entry says `layerscope`; point it at this bundle's executable instead of relying on PATH.
sed -e "s|^Exec=layerscope |Exec=\"$bundle/layerscope\" |" -e "s|^TryExec=layerscope$|TryExec=$bundle/layerscope|" \
    "$bundle/share/applications/layerscope.desktop" > "$data/applications/layerscope.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
echo "installed $data/applications/layerscope.desktop -> $bundle/layerscope" >&2
