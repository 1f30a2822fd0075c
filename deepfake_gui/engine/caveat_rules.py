"""Which caveats a scan result carries, from what the scorers measured.

The detection functions live in analysis/caveats.py (pure, tested on crafted
inputs); this module only decides when each applies to a scanned file.
"""

from __future__ import annotations

from deepfake_gui.engine.track import TrackScore

SILENCE_LIMIT_S = 0.5
MIN_SPEECH_S = 1.0


def detector_caveats(active, score: TrackScore, info, matches: list | None = None) -> list[str]:
    """What a user must know about one detector's score on this file.

    ``matches``: the file's :func:`file_condition_matches`, when the caller has them (one read per file).
    """
    from deepfake_gui.analysis.caveats import domain_caveats

    detector = active.detector
    out: list[str] = []
    cv = detector.meta.get("metrics", {}).get("cv_auc")
    cv_text = f" (cross-validated AUC {cv:.3f} there)" if isinstance(cv, int | float) else ""
    headline = detector.meta.get("metrics", {}).get("headline") or {}
    if isinstance(headline.get("mean_auc"), int | float) and isinstance(cv, int | float):
        worst = headline.get("min_auc")
        worst_text = f", worst {worst:.3f}" if isinstance(worst, int | float) else ""
        cv_text = (f" (on generators left out of its training: AUC {headline['mean_auc']:.3f}{worst_text}; "
                   f"cross-validated {cv:.3f} on those it knows)")
        out.append(f"{active.name} was trained on {active.describe_domain()}{cv_text}; "
                   "outside that domain its accuracy is not known")
    else:
        out.append(f"{active.name} was trained on {active.describe_domain()}{cv_text}; "
                   "its accuracy is only known inside that domain")
    if active.random_init:
        out.append(f"{active.name} runs on an encoder with random weights: its score is for testing only "
                   "and is not a verdict")
    far = detector.out_of_domain(score.features)
    if far is not None and bool(far[0]):
        out.append(f"this {score.track} lies outside {active.name}'s training domain: it is further from the "
                   "training data than 99% of held-out training items, so the score may not carry over")
    profile = detector.meta.get("domain_profile")
    if profile:
        facts = score.facts
        kwargs: dict = {}
        if score.track == "audio":
            kwargs["sample_rate"] = info.sample_rate
            kwargs["duration_s"] = facts.get("duration_s")
        elif score.track == "image" and facts.get("mode") == "resize":
            # native-resolution tiles look like the training tiles whatever the photo's size;
            # only a resized image is outside the size domain
            kwargs["width"], kwargs["height"] = info.width, info.height
        short = {k: v for k, v in profile.items() if k != "description"} | {"description": f"{active.modality} files"}
        out += [f"{active.name}: {c}" for c in map(str, domain_caveats(short, **kwargs))]
    out += condition_caveats(active, score, info, matches)
    return out


def has_robustness_table(active) -> bool:
    robustness = active.detector.meta.get("robustness")
    return isinstance(robustness, dict) and bool(robustness.get("conditions"))


def file_condition_matches(info, detectors) -> list:
    """The laundering conditions the file resembles; the file is only read when a detector has a table to quote."""
    from deepfake_gui.engine.file_caveats import condition_matches

    return condition_matches(info.to_dict(), info.path) if any(map(has_robustness_table, detectors)) else []


def signal_condition_matches(content) -> list:
    """Laundering conditions measured in the decoded sound rather than the container: added noise."""
    from deepfake_gui.analysis.caveats import noise_match

    stats = getattr(content, "stats", None) or {}
    found = noise_match(stats.get("noise_snr_db"))
    return [found] if found is not None else []


def condition_caveats(active, score: TrackScore, info, matches: list | None = None) -> list[str]:
    """The detector's measured AUC under the laundering condition the file resembles, one per condition.

    Only figures the bundle carries (``meta["robustness"]``, written by train) are quoted;
    a bundle without the table or without the condition's row adds nothing, and the file
    caveat about the compression itself still fires. The file is only opened when the
    table exists, so older bundles cost nothing; ``matches`` (see :func:`file_condition_matches`)
    spares re-reading it for every detector.
    """
    from deepfake_gui.analysis.caveats import measured_condition_caveat

    if not has_robustness_table(active):
        return []
    robustness = active.detector.meta["robustness"]
    if matches is None:
        matches = file_condition_matches(info, [active])
    out: list[str] = []
    for match in track_matches(matches, score.track):
        caveat = measured_condition_caveat(active.name, match, robustness)
        if caveat is not None:
            out.append(str(caveat))
    return out


def track_matches(matches: list, track: str) -> list:
    """The matched laundering conditions of this track's modality, each condition once."""
    from deepfake_gui.launder.conditions import CONDITIONS

    modality = "audio" if track == "audio" else "image"
    out, seen = [], set()
    for match in matches:
        known = CONDITIONS.get(match.condition)
        if known is not None and known.modality == modality and match.condition not in seen:
            seen.add(match.condition)
            out.append(match)
    return out


WEAK_CONDITION_AUC = 0.85  # below this measured AUC, a detector's band (fitted on clean files) does not hold


def weak_condition(active, track: str, matches: list) -> str | None:
    """Why the lead detector cannot decide this track alone, or None.

    Its inconclusive band was fitted on clean held-out files; under a laundering condition
    the file matches and where its measured AUC is below WEAK_CONDITION_AUC (phase coherence
    under AAC 24 kbit/s 0.79, Opus 16 kbit/s 0.73), that band says nothing: a codec moves genuine and
    generated speech across it. Then the track commits only when every detector
    on it agrees (engine.verdicts.finish_result).
    """
    from deepfake_gui.analysis.caveats import measured_condition_auc

    if not has_robustness_table(active):
        return None
    robustness = active.detector.meta["robustness"]
    for match in track_matches(matches, track):
        measured = measured_condition_auc(match, robustness)  # a mild match counts as its caveat does
        if measured is not None and measured[0] < WEAK_CONDITION_AUC:
            return (f"this file {match.finding}; under {match.condition} {active.name}'s measured AUC is "
                    f"{measured[0]:.2f}, too weak for it to decide alone: the {track} is inconclusive unless "
                    "every detector agrees")
    return None


INVISIBLE_FAMILIES = ("opus", "mp3", "aac")  # lossy codecs leave no trace we can measure once decoded
# A lead deciding "fake" alone, weak under such a codec, must reach this probability. Chosen on decoded
# Opus / MP3 / AAC copies of 30 genuine telephone recordings (scripts/research/noisy_speech_check.py,
# seed 7), read as scan reads them since media/narrowband.py: phase coherence alone called 82 of 150
# fake, 42 at P 0.97 (the floor until then), none at this one; checked on a second draw (seed 8): 78, 41
# and none. The generated files' lone fakes of both draws stay under it too, so in practice phase
# coherence does not call telephone speech fake alone. Until the narrowband reading the copies (16 kHz
# files) had been read with another resampler's residue and scored lower (0.91-0.96), while the same
# copies saved at 8 kHz scored as now: 23 of 30 genuine recordings were called fake at 0.97.
LONE_FAKE_FLOOR = 0.998


def codec_weakness(active) -> list[str]:
    """The lead's measured AUC under the lossy codecs that leave no trace once decoded, where below 0.85."""
    from deepfake_gui.analysis.caveats import row_auc
    from deepfake_gui.launder.conditions import CONDITIONS

    if not has_robustness_table(active):
        return []
    weak = []
    for name, row in active.detector.meta["robustness"]["conditions"].items():
        known, auc = CONDITIONS.get(name), row_auc(row)
        if known is not None and known.family in INVISIBLE_FAMILIES and auc is not None and auc < WEAK_CONDITION_AUC:
            weak.append(f"{name} {auc:.2f}")
    return weak


def decided_alone(active, track: str, others: list[tuple[str, str | None]], verdict: str,
                  probability: float) -> tuple[str, bool] | None:
    """(what to say, withhold the verdict) when the lead commits while no other detector on the track agrees.

    A copy that went through a voice-message or streaming codec and was converted back (WAV, FLAC)
    shows no container and no measured trace (README, *When LayerScope does not answer*), so the
    fourth check cannot fire. A lone "fake" below LONE_FAKE_FLOOR is withheld (genuine phone speech
    decoded from Opus reaches P 0.9973 with phase coherence); any other lone verdict is kept
    with the measured figures. ``others``: (name, verdict) of the track's other detectors (none: the
    lead is alone on the track, and decides alone).
    """
    weak = codec_weakness(active)
    if not weak or any(v == verdict for _, v in others):
        return None
    said = ", ".join(f"{name} {v or 'no verdict'}" for name, v in others) or f"no other {track} detector ran"
    figures = (f"its measured AUC on copies that went through a lossy codec is {', '.join(weak)}: a voice message "
               "or stream converted back to WAV or FLAC shows no trace of it")
    if verdict == "fake" and probability < LONE_FAKE_FLOOR:
        return (f"only {active.name} says fake, at P {probability:.3f} ({said}); deciding alone it needs P "
                f"{LONE_FAKE_FLOOR:g} or more, because {figures}, and genuine speech that went through one can "
                "score this high", True)
    return (f"only {active.name} says {verdict} ({said}); {figures}, so if this {track} may have been through "
            f"one, the {verdict} {UNPROVEN}", False)


def short_clip_caveats(duration_s: float, window_s: float, scores: list[TrackScore]) -> list[str]:
    """A clip shorter than one window is scored whole; that is only a problem when it is also
    shorter than anything the detectors were trained on (or than one second of speech)."""
    if duration_s >= window_s:
        return []
    shortest = [s.facts.get("trained_min_duration_s") for s in scores if s.track == "audio"]
    floor = min([v for v in shortest if v] or [MIN_SPEECH_S])
    if duration_s >= min(floor, MIN_SPEECH_S):
        return []
    return [f"the clip is {duration_s:.2f} s long, too short for a {window_s:g} s window and shorter than "
            f"the {floor:g} s clips the detectors were trained on: there is little speech to judge, so the "
            "score is less reliable"]


UPSCALED = "was upscaled"  # the small-picture caveat; the gate's "enlarged" reason says it instead
UNPROVEN = "verdict is unproven"  # ends a lone lead's caveat; a gated file has no verdict left to doubt


def file_caveats(info, scores: list[TrackScore], options) -> list[str]:
    """Caveats about the file itself (measured once, whatever the number of detectors)."""
    from deepfake_gui.analysis.caveats import no_face_caveat
    from deepfake_gui.engine.file_caveats import recompression_caveats

    out: list[str] = [str(c) for c in recompression_caveats(info.to_dict(), info.path)]
    audio = next((s for s in scores if s.track == "audio"), None)
    if audio is not None:
        lead, trail = audio.facts.get("leading_silence_s", 0.0), audio.facts.get("trailing_silence_s", 0.0)
        for where, seconds in (("leading", lead), ("trailing", trail)):
            if seconds > SILENCE_LIMIT_S:
                out.append(f"{where} silence of {seconds:.1f} s (more than {SILENCE_LIMIT_S} s): audio detectors "
                           "are known to key on silence rather than on the voice; the shipped detectors were "
                           "trained on trimmed audio")
        out += short_clip_caveats(audio.facts.get("duration_s", 0.0), options.window_s, scores)
    image = next((s for s in scores if s.track == "image"), None)
    if image is not None and image.facts.get("mode") == "resize":
        tile = image.facts.get("tile")
        out.append(f"the image ({image.facts['width']}x{image.facts['height']}) is smaller than the detector's "
                   f"{tile} px tile and {UPSCALED}: resampling can hide a generator's fingerprint")
    frames = next((s for s in scores if s.track == "frames"), None)
    if frames is not None and frames.facts.get("faces_requested") and not frames.facts.get("frames_with_face"):
        out += [str(c) for c in no_face_caveat(frames.facts.get("n_frames", 0))]
    return out
