#!/usr/bin/env bash
# Smoke-tests a built bundle (dist/layerscope): the CLI scans generated media with the shipped
# detectors, and the desktop app opens its main window under a virtual X server.
# Usage: bash installer/check_bundle.sh [BUNDLE_DIR]      (default dist/layerscope)
# Needs: python3 (stdlib only, to write the test media and read the JSON), xvfb-run, xwininfo, xdotool
#        (apt install xvfb x11-utils xdotool); ImageMagick's `import` for a screenshot, if present.
# Env:   OUT_DIR (default build/check_bundle): media, JSON, logs and the screenshot go there.
set -euo pipefail
cd "$(dirname "$0")/.."
app="$(cd "${1:-dist/layerscope}" && pwd)"
exe="$app/layerscope"
out="${OUT_DIR:-build/check_bundle}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[ -x "$exe" ] || { echo "FAIL: no executable $exe (build it with installer/build.sh)" >&2; exit 1; }
# The bundle must not lean on this checkout or its venv: run it from elsewhere, with a fresh home.
export HOME="$out/home" XDG_CACHE_HOME="$out/home/.cache" XDG_DATA_HOME="$out/home/.local/share"
export XDG_CONFIG_HOME="$out/home/.config"
unset PYTHONPATH VIRTUAL_ENV LAYERSCOPE_MODELS_DIR LAYERSCOPE_DATA_DIR LAYERSCOPE_CACHE_DIR
rm -rf "$HOME" && mkdir -p "$HOME"
cd "$out"

# ---------------------------------------------------------------- test media (stdlib only)
python3 - "$out" <<'EOF'
import math, struct, sys, wave, zlib
from pathlib import Path

out = Path(sys.argv[1])
w, h = 320, 240
rows = b"".join(b"\x00" + bytes(v for x in range(w) for v in ((x * 255) // w, (y * 255) // h, 128)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
(out / "gradient.png").write_bytes(png + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
rate = 16000
with wave.open(str(out / "tone.wav"), "wb") as f:
    f.setnchannels(1), f.setsampwidth(2), f.setframerate(rate)
    f.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate))) for i in range(3 * rate)))
EOF

# ---------------------------------------------------------------- CLI: version and scan
"$exe" --version
start=$(date +%s)
"$exe" scan --device cpu gradient.png tone.wav > scan.jsonl 2> scan.stderr || {
    cat scan.stderr >&2; echo "FAIL: layerscope scan exited with an error" >&2; exit 1; }
echo "scan took $(( $(date +%s) - start )) s (includes the bundle's start-up and loading the detectors)"
python3 - "$app" scan.jsonl <<'EOF'
import json, os, sys

app, path = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(path) if line.strip()]
assert len(rows) == 2, f"expected 2 JSON lines, got {len(rows)}"
for row in rows:
    name = row["path"].rsplit("/", 1)[-1]
    assert row["status"] == "ok", f"{name}: {row.get('error')}"
    assert row["verdict"] in ("fake", "real", "inconclusive"), f"{name}: no verdict; caveats {row.get('caveats')}"
    assert row["detectors"], f"{name}: no detector ran"
    for det, info in row["detector_info"].items():
        bundle = os.path.realpath(info["bundle"])
        assert bundle.startswith(os.path.realpath(app) + "/"), f"{name}: detector {det} came from {bundle}"
        assert info["encoder_weights_sha256"], f"{name}: detector {det} ran without real encoder weights"
    print(f"ok  {name}: verdict {row['verdict']}, p={row['probability']:.3f}, detectors {sorted(row['detectors'])}")
modalities = {row["modality"] for row in rows}
assert modalities == {"image", "audio"}, modalities
EOF

# ---------------------------------------------------------------- GUI under Xvfb
command -v xvfb-run >/dev/null || { echo "FAIL: xvfb-run missing (apt install xvfb)" >&2; exit 1; }
command -v xwininfo >/dev/null || { echo "FAIL: xwininfo missing (apt install x11-utils)" >&2; exit 1; }
cat > gui_check.sh <<'EOF'
#!/usr/bin/env bash
# Runs inside xvfb-run: start the app on a file, wait for its main window, screenshot, quit with Ctrl+Q.
exe="$1"
unset QT_QPA_PLATFORM  # the real xcb platform, not offscreen
# A home of its own, so that what the app writes there proves what the GUI itself did.
export HOME="$PWD/gui-home" XDG_CACHE_HOME="$PWD/gui-home/.cache" XDG_DATA_HOME="$PWD/gui-home/.local/share"
export XDG_CONFIG_HOME="$PWD/gui-home/.config"
rm -rf "$HOME" && mkdir -p "$HOME"
# a finished child stays a zombie until `wait`, which `kill -0` still counts as running
alive() { local st; st="$(ps -o stat= -p "$1" 2>/dev/null)"; [ -n "$st" ] && [ "${st:0:1}" != "Z" ]; }
"$exe" gradient.png > gui.stdout 2> gui.stderr &
pid=$!
found=""
for _ in $(seq 1 120); do  # up to 60 s
    if ! alive "$pid"; then
        echo "FAIL: the app exited before showing a window" >&2; cat gui.stderr >&2; exit 1
    fi
    found="$(xwininfo -root -tree | grep -E '"LayerScope [0-9][^"]*"' | head -n 1 || true)"
    [ -n "$found" ] && break
    sleep 0.5
done
[ -n "$found" ] || { echo "FAIL: no LayerScope window after 60 s" >&2; cat gui.stderr >&2; kill "$pid"; exit 1; }
echo "ok  window:${found}"
# The queued scan of gradient.png makes the engine thread load the image detector, which hashes its
# encoder's weights into the weights index: proof that the frozen GUI reached its real weights.
index="$XDG_CACHE_HOME/layerscope/weights-sha256.json"
for _ in $(seq 1 180); do  # up to 90 s
    grep -q "efficientnet-lite0" "$index" 2>/dev/null && break
    alive "$pid" || break
    sleep 0.5
done
grep -q "efficientnet-lite0" "$index" 2>/dev/null || {
    echo "FAIL: the GUI's scan never loaded the image detector's weights" >&2; cat gui.stderr >&2; kill "$pid"; exit 1; }
echo "ok  the GUI's engine thread loaded the image detector (weights hashed into $index)"
sleep 5  # let the scan finish and the window paint
command -v import >/dev/null && import -window root screenshot.png && echo "ok  screenshot $PWD/screenshot.png"
wid="$(echo "$found" | awk '{print $1}')"
if command -v xdotool >/dev/null; then  # quit the way a user does: Ctrl+Q (File > Quit)
    xdotool windowfocus "$wid" key --clearmodifiers ctrl+q || true
else
    kill -TERM "$pid"
fi
for _ in $(seq 1 40); do alive "$pid" || break; sleep 0.5; done
if alive "$pid"; then
    echo "FAIL: the app did not quit within 20 s" >&2; kill -KILL "$pid"; exit 1
fi
wait "$pid" && rc=0 || rc=$?
if grep -q "Traceback" gui.stderr; then echo "FAIL: Python traceback from the app:" >&2; cat gui.stderr >&2; exit 1; fi
[ "$rc" = 0 ] || { echo "FAIL: the app exited with status $rc" >&2; cat gui.stderr >&2; exit 1; }
echo "ok  app quit cleanly (exit status 0)"
EOF
xvfb-run -a -s "-screen 0 1440x900x24" bash gui_check.sh "$exe"
echo "PASS: $app"
