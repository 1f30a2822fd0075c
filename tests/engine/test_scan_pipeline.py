"""Scan with the shipped detectors on generated media: scores, series, verdicts, caveats."""

from __future__ import annotations

import json
from pathlib import Path

import media_factory
import numpy as np
import pytest
from media_factory import needs_offline, speechlike
from media_factory import write_mono_wav as _write_wav

from deepfake_gui.core.jobs import Cancelled, CancelToken, Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.scan import ScanOptions, scan_job


def _scan(paths, detectors, **kw) -> list[ScanResult]:
    return [e for e in scan_job(paths, ScanOptions(device="cpu", **kw), detectors=detectors)
            if isinstance(e, ScanResult)]


@needs_offline
def test_default_detectors_are_the_shipped_bundles(detectors) -> None:
    names = {d.folder.name: d for d in detectors}
    assert set(names) == {"audio-phase", "audio-whisper", "image-effnet"}  # audio: a pair, images: one
    assert all(d.unavailable is None and d.encoder is not None for d in names.values())
    for active in names.values():  # trained on all development data, calibrated on held-out scores
        assert len(active.detector.meta["training"]["data_sets"]) == 2
        assert active.detector.meta["metrics"]["headline"]["protocol"] == "leave-one-generator-out"
    audio = [d for d in detectors if d.modality == "audio"]
    # the detector that does better on unseen generators leads the audio verdict
    assert [d.folder.name for d in audio] == ["audio-phase", "audio-whisper"]
    assert audio[0].unseen_auc > audio[1].unseen_auc


@needs_offline
def test_audio_scan_has_windows_steps_verdict_and_domain(tmp_path: Path, detectors) -> None:
    path = _write_wav(tmp_path / "voice.wav", speechlike(8000, 6.5), 8000)
    (result,) = _scan([path], detectors, window_s=4.0, hop_s=1.0)
    assert result.status == "ok", result.error
    assert result.verdict in {"fake", "real", "inconclusive"}
    assert 0.0 <= result.probability <= 1.0
    assert set(result.detectors) == {"audio-phase-coherence", "audio-whisper-tiny-en"}
    series = result.series["audio"]
    # 6.5 s with 4 s windows and a 1 s hop: starts 0, 1, 2 and an end-aligned 2.5
    assert series["start_s"] == [0.0, 1.0, 2.0, 2.5]
    assert series["end_s"][-1] == pytest.approx(6.5, abs=0.01)
    assert len(series["probability"]) == 4
    steps = result.arrays[f"audio/{series['detector']}"]
    assert series["detector"] == "audio-phase-coherence"  # the lead detector's series
    assert len(steps["step_times_s"]) == pytest.approx(6.5 / 0.005, abs=2)  # phase coherence: one score per 5 ms
    assert any("was trained on read speech: 8 kHz telephone" in c for c in result.caveats)
    json.dumps(result.to_json_dict(), allow_nan=False)  # the JSON line is valid and holds no arrays
    assert "arrays" not in result.to_json_dict()
    from deepfake_gui.engine.explain import audio_series, audio_spectrogram

    step = audio_series(result, "step")
    window = audio_series(result, "window")
    assert step.kind == "step" and len(step.times_s) == len(step.scores) == len(steps["step_times_s"])
    assert window.ends_s[-1] == pytest.approx(6.5, abs=0.01) and len(window.scores) == 4
    # windows are means of the steps inside them (linear probe on mean-pooled states)
    inside = (step.times_s >= 0.0) & (step.times_s < 4.0)
    assert window.scores[0] == pytest.approx(step.scores[inside].mean(), abs=1e-4)
    spec = audio_spectrogram(path)
    assert spec.db.shape[0] == 64 and spec.times_s[-1] == pytest.approx(6.5, abs=0.05)
    assert spec.freqs_hz[-1] <= 8000
    # the file score is the whole-file mean its held-out calibration was fitted for, whatever the windows
    for info in result.detectors.values():
        assert info["aggregation"] == "mean" and info["calibration"] == "file"
    assert not any("has no calibration" in c for c in result.caveats)


@needs_offline
def test_default_audio_setting_uses_its_own_calibration(tmp_path: Path, detectors) -> None:
    path = _write_wav(tmp_path / "voice.wav", speechlike(8000, 5.0), 8000)
    (result,) = _scan([path], detectors)
    for info in result.detectors.values():
        assert info["calibration"] == "file"  # fitted on held-out generators and sources
        assert info["aggregation"] == "mean"
    assert not any("has no calibration" in c for c in result.caveats)
    assert result.series["audio"]["start_s"][:3] == [0.0, 0.5, 1.0]
    # the old telephone detector keeps its logsumexp calibration when asked for by name
    from deepfake_gui.engine.detectors import resolve_detectors

    old = resolve_detectors([str(Path(__file__).resolve().parents[2] / "models" / "examples" /
                                 "audio-whisper-telephone")], "cpu", defaults=False)
    (again,) = _scan([path], old)
    (entry,) = again.detectors.values()
    assert entry["calibration"] == "audio 2 s windows, 0.5 s hop, logsumexp" and entry["aggregation"] == "logsumexp"


@needs_offline
def test_file_score_with_mean_aggregation_equals_evaluate(tmp_path: Path, detectors) -> None:
    """The scan's file score is the quantity training and evaluate compute (mean over all frames)."""
    from deepfake_gui.encoders.extract import extract_features

    path = _write_wav(tmp_path / "voice.wav", speechlike(8000, 3.0, seed=3), 8000)
    (result,) = _scan([path], detectors, audio_aggregation="mean")
    active = next(d for d in detectors if d.folder.name == "audio-whisper")
    layers, _ = extract_features(active.encoder, [path])
    expected = float(active.detector.decision(active.detector.select(layers))[0])
    assert result.detectors[active.name]["score"] == pytest.approx(expected, abs=2e-3)


@needs_offline
def test_leading_silence_and_short_clip_and_rate_caveats(tmp_path: Path, detectors) -> None:
    rate = 16000
    voice = speechlike(rate, 2.0)
    padded = np.concatenate([np.zeros(rate, dtype=np.float32), voice])
    path = _write_wav(tmp_path / "padded.wav", padded, rate)
    (result,) = _scan([path], detectors)
    text = " | ".join(result.caveats)
    assert "leading silence of 1.0 s" in text
    assert "trailing silence" not in text
    assert "too short" not in text  # 3 s is a normal length for this detector

    tiny = _write_wav(tmp_path / "tiny.wav", speechlike(8000, 0.4), 8000)
    (short,) = _scan([tiny], detectors)
    assert any("0.40 s long" in c and "too short" in c for c in short.caveats)
    assert short.verdict == "inconclusive" and short.gate["reasons"][0]["code"] == "too-short"

    clean = _write_wav(tmp_path / "clean.wav", speechlike(8000, 5.0), 8000)
    (ok,) = _scan([clean], detectors)
    assert not any("silence" in c for c in ok.caveats)
    assert not any("too short" in c for c in ok.caveats)
    # what the content check measured reaches the JSON beside the probe's facts
    assert short.media["content"]["kind"] == "too-short" and short.media["sample_rate"] == 8000
    assert ok.media["content"]["kind"] == "speech-like" and "noise_snr_db" in ok.media["content"]["stats"]
    # a synthetic voice lies outside both sound detectors' domains: withheld, with what to do about it
    assert {r["code"] for r in ok.gate["reasons"]} == {"outside-domain"}
    assert "layerscope adapt" in ok.gate["suggestion"]


@needs_offline
def test_image_heatmap_tiles_and_small_image_caveat(tmp_path: Path, detectors) -> None:
    from PIL import Image

    from deepfake_gui.engine.score_image import upsample_heatmap

    rng = np.random.default_rng(0)
    big = (rng.random((300, 500, 3)) * 255).astype(np.uint8)
    Image.fromarray(big).save(tmp_path / "big.png")
    Image.fromarray(big[:100, :120]).save(tmp_path / "small.png")
    big_result, small_result = _scan([tmp_path / "big.png", tmp_path / "small.png"], detectors)
    assert big_result.heatmap["mode"] == "tiles" and big_result.heatmap["n_tiles"] == 2 * 3
    assert big_result.heatmap["coverage"] == 1.0
    assert big_result.series["image"]["kind"] == "tile" and len(big_result.series["image"]["score"]) == 6
    arrays = big_result.arrays[f"image/{big_result.heatmap['detector']}"]
    full = upsample_heatmap(arrays["heatmap"], (300, 500))
    assert full.shape == (300, 500) and np.isfinite(full).all()
    from deepfake_gui.engine.explain import image_heatmap

    heat = image_heatmap(big_result)
    assert heat.values.shape == (300, 500) and "not proof" in heat.note
    assert small_result.heatmap["mode"] == "resize"
    # withheld: smaller than every training picture; the gate's reason replaces the small-picture caveat
    assert small_result.verdict == "inconclusive" and small_result.gate["reasons"][0]["code"] == "enlarged"
    assert not any("smaller than the detector's 224 px tile" in c for c in small_result.caveats)
    small_map = small_result.arrays[f"image/{small_result.heatmap['detector']}"]["heatmap"]
    assert np.isnan(small_map).any()  # the centre square only: the rest was not scored


@needs_offline
def test_video_fuses_frames_and_audio_and_keeps_both(tmp_path: Path, detectors) -> None:
    path = media_factory.write_video(tmp_path / "clip.mp4", width=256, height=240, frames=40, fps=10, pattern=False,
                                     sound="speech")
    (result,) = _scan([path], detectors, frames_per_second=2.0)
    assert result.status == "ok", result.error
    assert result.media["soundtrack_content"]["kind"] == "speech-like"
    assert "withheld" not in result.components["audio"]
    assert set(result.components) >= {"frames", "audio", "fusion"}
    frames, audio = result.components["frames"], result.components["audio"]
    assert result.probability == pytest.approx(max(frames["probability"], audio["probability"]), abs=1e-4)
    assert result.series["frames"]["time_s"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], abs=0.06)
    assert result.series["audio"]["kind"] == "window"


@needs_offline
def test_a_soundtrack_of_music_is_withheld_and_the_pictures_are_still_judged(tmp_path: Path, detectors) -> None:
    path = media_factory.write_video(tmp_path / "tone.mp4", width=256, height=240, frames=40, fps=10, pattern=False)
    (result,) = _scan([path], detectors, frames_per_second=2.0)
    audio, frames = result.components["audio"], result.components["frames"]
    assert audio["verdict"] == "inconclusive" and audio["withheld"] == "not-speech"
    assert audio["inconclusive_because"].startswith("inconclusive: the soundtrack: steady tones or music, not speech")
    assert all(result.detectors[name]["withheld"] == audio["inconclusive_because"][len("inconclusive: "):]
               for name in ("audio-phase-coherence", "audio-whisper-tiny-en"))
    assert result.media["soundtrack_content"]["kind"] == "tone-or-music" and "content" not in result.media
    # the file's number is the pictures'; the unjudged soundtrack only keeps the file from "real"
    assert result.probability == frames["probability"] and result.verdict in ("fake", "inconclusive")
    assert "(the audio withheld)" in result.components["fusion"]["explanation"]
    assert not [s for s in result.segments if s.get("track") == "audio"]
    # a withheld soundtrack is not outside-domain evidence against the whole file
    assert not any(r["code"] == "outside-domain" for r in (result.gate or {}).get("reasons", []))


@needs_offline
def test_a_silent_video_of_a_flat_picture_is_withheld_with_the_reason(tmp_path: Path, detectors) -> None:
    path = media_factory.write_video(tmp_path / "grey.mp4", width=256, height=240, frames=20, fps=5,
                                     with_audio=False)  # each frame one grey level: no texture
    (result,) = _scan([path], detectors, frames_per_second=2.0)
    assert result.verdict == "inconclusive"
    (reason,) = result.gate["reasons"]
    assert reason["code"] == "no-texture"
    assert reason["message"].startswith("the pictures: 8 of 8 frames checked are a flat colour or smooth gradient")
    assert result.gate["suggestion"] is None  # genuine references would not teach a detector flat colours
    assert result.detectors["image-effnet-lite0"]["withheld"] == reason["message"]


def test_frames_are_withheld_for_their_content_only_when_half_of_those_checked_fail() -> None:
    from deepfake_gui.analysis.content import ContentCheck
    from deepfake_gui.engine.gate import frames_content_reason
    from deepfake_gui.engine.score_video import frames_content

    chart = ContentCheck("graphics", {}, [{"code": "graphics", "message": "a chart"}])
    photo = ContentCheck("photo-like")
    assert frames_content_reason({"content_check": frames_content([chart] * 3 + [photo] * 5)}) is None
    facts = {"content_check": frames_content([chart] * 4 + [photo] * 4)}
    assert facts["content_check"]["kinds"] == {"graphics": 4, "photo-like": 4}
    assert frames_content_reason(facts) == ("graphics", "the pictures: 4 of 8 frames checked are a chart")
    assert frames_content_reason({}) is None  # an older track score: nothing was checked


@needs_offline
def test_faces_requested_but_none_found(tmp_path: Path, detectors) -> None:
    path = media_factory.write_video(tmp_path / "noface.mp4", width=256, height=240, frames=10, with_audio=False)
    (result,) = _scan([path], detectors, faces=True)
    assert any("no face" in c.lower() for c in result.caveats)


@needs_offline
def test_bad_file_is_an_error_and_the_scan_goes_on(tmp_path: Path, detectors) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    good = _write_wav(tmp_path / "good.wav", speechlike(8000, 2.0), 8000)
    results = _scan([bad, good], detectors)
    assert [r.status for r in results] == ["error", "ok"]
    assert "broken.mp4" in results[0].error


@needs_offline
def test_cancel_stops_within_one_batch(long_video: Path, detectors, monkeypatch) -> None:
    active = next(d for d in detectors if d.modality == "image")
    calls = {"n": 0}
    real_encode = active.encoder.encode

    def counting(*a, **kw):
        calls["n"] += 1
        return real_encode(*a, **kw)

    monkeypatch.setattr(active.encoder, "encode", counting)
    token = CancelToken()
    job = scan_job([long_video], ScanOptions(device="cpu", frames_per_second=2.0), token, detectors=[active])
    with pytest.raises(Cancelled):
        for event in job:
            if isinstance(event, Progress) and event.item_done:
                token.cancel()
                at_cancel = calls["n"]
    assert calls["n"] == at_cancel  # not one more batch after the cancel


def test_missing_weights_detector_is_skipped_with_the_fetch_command(tmp_path: Path) -> None:
    """A detector on an encoder whose weights are absent never runs and says how to get them."""
    import shutil

    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.probes.bundle import load_bundle, save_bundle

    src = Path(__file__).resolve().parents[2] / "models" / "image-effnet"
    bundle = load_bundle(src)
    bundle.meta["encoder"]["name"] = "clip-vit-b-32"  # no CLIP weights on a test machine
    save_bundle(bundle, tmp_path / "clip-probe")
    shutil.copy(src / "layer_sweep.png", tmp_path / "clip-probe")
    (active,) = [d for d in resolve_detectors([str(tmp_path / "clip-probe")], "cpu", defaults=False)]
    assert active.encoder is None
    assert "did not run" in active.unavailable and "layerscope models fetch" in active.unavailable
