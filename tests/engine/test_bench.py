"""`layerscope bench` pieces that need no timing: generated inputs decode, targets are judged right."""

from __future__ import annotations

from deepfake_gui.engine import bench_media
from deepfake_gui.engine.bench import check_targets, format_report


def test_generated_inputs_decode_to_what_was_asked(tmp_path) -> None:
    from deepfake_gui.media import iter_video_frames, load_audio, load_image

    (image,) = bench_media.write_images(tmp_path / "i", 1)
    assert load_image(image).shape == (224, 224, 3)
    (clip,) = bench_media.write_audio(tmp_path / "a", 1, 2.0)
    assert len(load_audio(clip, 16_000)) == 32_000
    video = bench_media.write_video(tmp_path / "v.mp4", 3.0)
    assert [round(f.time_s) for f in iter_video_frames(video, per_second=1.0)] == [0, 1, 2]
    assert len(load_audio(video, 16_000)) >= 3 * 16_000 - 2048  # AAC priming may trim a frame


def _report(rtf: float, efficiency: float, minutes: float) -> dict:
    return {
        "machine": {"device": "CPU", "cpu_count": 2, "torch": "x", "torch_threads": 2},
        "cli_help": {"seconds": 0.1, "torch_imported": False},
        "model_only": {"img": {"items_per_s": 10.0, "batch_size": 16, "peak_rss_mb": 900.0},
                       "aud": {"items_per_s": 1.0, "audio_s_per_s": 60.0, "batch_size": 1, "peak_rss_mb": 900.0}},
        "decode": {"image": {"items_per_s": 500.0}, "video_1fps": {"frames_per_s": 80.0, "video_s_per_s": 80.0},
                   "audio": {"audio_s_per_s": 300.0}},
        "end_to_end": {"image": {"files_per_s": 8.0, "efficiency": efficiency, "peak_rss_mb": 950.0},
                       "audio": {"realtime_factor": rtf, "efficiency": 0.9, "peak_rss_mb": 950.0},
                       "video_1fps": {"video_seconds": 60.0, "seconds": 10.0, "projected_1h_minutes": minutes,
                                      "peak_rss_mb": 1000.0}},
        "scaling": {"image": {"rows": [{"scale": 1, "n": 4, "per_item_s": 0.1}, {"scale": 4, "n": 16,
                                                                                   "per_item_s": 0.12}],
                              "ratio": 1.2}},
        "cuda_peak_mb": None,
    }


def test_targets_are_met_or_not_by_the_measured_figures() -> None:
    good = {row["target"]: row["met"] for row in check_targets(_report(60.0, 0.8, 5.0), "cpu")}
    assert all(good.values()), good
    bad = {row["target"]: row["met"] for row in check_targets(_report(20.0, 0.5, 9.0), "cpu")}
    assert bad["audio scan, x real time"] is False
    assert bad["image scan / model-only"] is False
    assert bad["1 h video at 1 frame/s, minutes"] is False
    on_gpu = {row["target"]: row["met"] for row in check_targets(_report(20.0, 0.8, 9.0), "cuda")}
    assert on_gpu["audio scan, x real time"] is None  # a CPU target says nothing about a GPU run


def test_the_table_names_every_section() -> None:
    report = _report(60.0, 0.8, 5.0)
    report["targets"] = check_targets(report, "cpu")
    text = format_report(report)
    for needle in ("model only", "decode only", "end to end", "scaling", "--help", "targets", "60.0 x real time"):
        assert needle in text
