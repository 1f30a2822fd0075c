"""What a detector's training media looked like: sample rate, length, picture size.

Scan compares each file against this profile and says so when a file lies
outside it (a 44.1 kHz podcast through a detector trained on 8 kHz telephone
speech), because in-domain accuracy does not carry across domains.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PROFILE_SAMPLE = 300  # files probed; the profile is a description, not a census


def measure_domain_profile(paths: Sequence[str | Path], modality: str, description: str | None = None,
                           sample: int = PROFILE_SAMPLE, seed: int = 0) -> dict:
    from deepfake_gui.core.errors import MediaError
    from deepfake_gui.media import probe

    chosen = list(paths)
    if len(chosen) > sample:
        chosen = random.Random(seed).sample(chosen, sample)
    rates: Counter[int] = Counter()
    durations: list[float] = []
    sizes: list[tuple[int, int]] = []
    formats: Counter[str] = Counter()
    jpeg_qualities: list[int] = []
    for path in chosen:
        try:
            info = probe(path, with_hash=False)
        except MediaError:
            continue
        formats[info.codec or info.container] += 1
        if info.sample_rate:
            rates[int(info.sample_rate)] += 1
        if info.duration_s:
            durations.append(float(info.duration_s))
        if info.width and info.height:
            sizes.append((int(info.width), int(info.height)))
        if modality == "image":
            from deepfake_gui.media.measure import jpeg_quality_estimate

            try:
                quality = jpeg_quality_estimate(path)
            except (OSError, ValueError):
                quality = None
            jpeg_qualities.append(100 if quality is None else int(quality))  # not a JPEG: no re-compression
    profile: dict = {"modality": modality, "n_probed": len(chosen), "formats": dict(formats.most_common(5))}
    if rates:
        profile["sample_rate"] = rates.most_common(1)[0][0]
        profile["sample_rates"] = sorted(rates)
    if durations and modality != "image":
        d = np.asarray(durations)
        profile["duration_s"] = [round(float(d.min()), 3), round(float(d.max()), 3)]
        profile["duration_median_s"] = round(float(np.median(d)), 3)
    if sizes:
        w = np.asarray([s[0] for s in sizes])
        h = np.asarray([s[1] for s in sizes])
        profile["size"] = [int(np.median(w)), int(np.median(h))]
        profile["size_range"] = [[int(w.min()), int(h.min())], [int(w.max()), int(h.max())]]
    if jpeg_qualities:
        profile["jpeg_quality_min"] = min(jpeg_qualities)  # scan withholds verdicts on harder re-compression
    profile["description"] = description or _describe(profile)
    return profile


def _describe(profile: dict) -> str:
    parts = [f"{profile['modality']} files"]
    if "sample_rate" in profile:
        parts.append(f"at {profile['sample_rate'] / 1000:g} kHz")
    if "duration_s" in profile:
        lo, hi = profile["duration_s"]
        parts.append(f"{lo:g}-{hi:g} s long")
    if "size" in profile:
        parts.append(f"about {profile['size'][0]}x{profile['size'][1]} px")
    return " ".join(parts)
