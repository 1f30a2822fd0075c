#!/usr/bin/env bash
# Rebuilds the shipped default detectors from the shared development data, with their
# leave-one-generator-out / leave-one-source-out tables, held-out calibration, domain gate
# and shortcut audit in each model card, and the voice-codec check of the gate. Features are
# cached (FeatureCache), so a rerun retrains in minutes. Usage: bash scripts/build_defaults.sh [SHARED_DATA] [OUT]
#   SHARED_DATA defaults to ../shared/data, OUT to models/.
# With a network, the same recipe works for any encoder of the registry: replace
# --encoder (e.g. clip-vit-l-14, wav2vec2-base, wavlm-base-plus) after `layerscope models fetch NAME`.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data}"
OUT="${2:-models}"
LS=".venv/bin/layerscope"
AUDIO_DOMAIN="read speech: 8 kHz telephone IVR prompts (4 speakers; en, fr, it, ru) and 16 kHz studio and audiobook speech (LibriTTS, VCTK, LJSpeech, MLS, CSS10, Korean), trimmed and peak-normalised; fakes from espeak-ng, festival, Griffin-Lim, WORLD and 12 published neural TTS systems and vocoders (HiFi-GAN, MelGAN, WaveGlow, WaveNet, WaveRNN, Universal MelGAN, Tacotron 2, Glow-TTS, YourTTS, SC-GlowTTS)"

"$LS" train --data "$DATA/audio" --data "$DATA/wild-audio" --encoder whisper-tiny-en --top-k "${AUDIO_TOP_K:-1}" --C "${AUDIO_C:-1}" \
  --out "$OUT/audio-whisper" --name audio-whisper-tiny-en --device cpu --json \
  --domain-note "$AUDIO_DOMAIN" \
  > "$OUT/audio-whisper.train.json"

"$LS" train --data "$DATA/audio" --data "$DATA/wild-audio" --encoder phase-coherence --top-k "${PHASE_TOP_K:-2}" --C "${PHASE_C:-0.1}" \
  --out "$OUT/audio-phase" --name audio-phase-coherence --device cpu --json \
  --domain-note "$AUDIO_DOMAIN" \
  > "$OUT/audio-phase.train.json"

"$LS" train --data "$DATA/image" --data "$DATA/wild-image" --encoder efficientnet-lite0 --image-tiles 9 --C "${IMAGE_C:-0.01}" --map-head 3,4,5:4 \
  --out "$OUT/image-effnet" --name image-effnet-lite0 --device cpu --json \
  --domain-note "photographs (224 px tiles of desktop-wallpaper photos; 90 standard test photos up to 512 px) against four autoencoder decoders, StyleGAN2 faces and Stable Diffusion 1.x / 2.x outputs, scored on native-resolution tiles" \
  > "$OUT/image-effnet.train.json"
for bundle in audio-whisper audio-phase image-effnet; do mv "$OUT/$bundle.train.json" "$OUT/$bundle/train-report.json"; done
# The phone-call check in front of every sound verdict (README, "When LayerScope does not answer", check 1).
.venv/bin/python scripts/build_voice_codec_check.py "$DATA/audio" "$DATA/wild-audio" > /dev/null
echo "rebuilt $OUT/audio-whisper, $OUT/audio-phase, $OUT/image-effnet and deepfake_gui/engine/voice_codec_check" >&2
