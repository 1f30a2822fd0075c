"""Per-file token statistics (mean and std per layer) of an offline encoder, for protocol studies.

Writes ``<out>/<set>__<encoder>.npz`` with ``paths`` and ``L<k>_mean`` / ``L<k>_std`` (n_files, D).
Images are cut into native-resolution tiles (as scan does) and the tile statistics averaged.
Resumable: files already in the output are skipped. Usage:
    python scripts/research/extract_stats.py MANIFEST ENCODER OUT_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from deepfake_gui.encoders.registry import build_encoder
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.engine.score_image import crops, plan_tiles
    from deepfake_gui.media import load_audio, load_image

    manifest, encoder_name, out_dir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    data = load_dataset(manifest)
    encoder = build_encoder(encoder_name, "cpu")
    out = out_dir / f"{manifest.parent.name}__{encoder_name}.npz"
    rows: dict[str, list[np.ndarray]] = {}
    paths: list[str] = []
    t0 = time.time()
    for i, path in enumerate(data.paths):
        if encoder.modality == "image":
            image = load_image(path)
            plan = plan_tiles(image.shape[0], image.shape[1], 224, max_tiles=9)
            per_tile = []
            for tile in crops(image, plan):
                feats = encoder.encode([tile], tokens=True)
                per_tile.append([(t[0].float().numpy().mean(0), t[0].float().numpy().std(0)) for t in feats.tokens])
            layers = [(np.mean([t[k][0] for t in per_tile], 0), np.mean([t[k][1] for t in per_tile], 0))
                      for k in range(len(per_tile[0]))]
        else:
            audio = load_audio(path, 16000)[: 30 * 16000]
            feats = encoder.encode([audio], tokens=True)
            layers = [(t[0].float().numpy().mean(0), t[0].float().numpy().std(0)) for t in feats.tokens]
        for k, (m, s) in enumerate(layers):
            rows.setdefault(f"L{k}_mean", []).append(m.astype(np.float32))
            rows.setdefault(f"L{k}_std", []).append(s.astype(np.float32))
        paths.append(str(path))
        if i % 50 == 0:
            print(f"{i}/{len(data)} {time.time() - t0:.0f}s", flush=True)
    np.savez(out, paths=np.array(paths), **{k: np.stack(v) for k, v in rows.items()})
    print("wrote", out, time.time() - t0)


if __name__ == "__main__":
    main()
