"""The genuine out-of-domain corpus through the full scan: no kind the detectors cannot judge is called fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_factory import needs_offline, noisy_rgb, speechlike
from media_factory import write_mono_wav as write_wav

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.engine.false_accusation import false_accusation_job, read_genuine_manifest
from deepfake_gui.engine.ood_corpus import KINDS, make_ood_corpus

CONTENT_KINDS = ("screenshot", "chart", "document", "flat", "gradient", "tiny", "photo-small", "tone", "chord",
                 "music", "noise", "short-clip", "video-music", "video-screen")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("ood")
    photo = root / "src_photo.png"
    Image.fromarray(noisy_rgb(320, 240, 40, seed=3)).save(photo)
    speech = write_wav(root / "src_speech.wav", speechlike(16000, 3.0))
    manifest = make_ood_corpus(root / "corpus", 1, photos=[photo], speech=[speech], kinds=CONTENT_KINDS, seed=1)
    return manifest


def test_corpus_has_one_genuine_file_per_kind_and_rebuilds_identically(corpus: Path, tmp_path: Path) -> None:
    rows = read_genuine_manifest(corpus)
    assert sorted(k for _, k in rows) == sorted(CONTENT_KINDS)
    assert all(p.is_file() and p.stat().st_size > 0 for p, _ in rows)
    again = make_ood_corpus(tmp_path / "again", 1, kinds=("chart", "tone", "flat"), seed=1)
    first = {k: p.read_bytes() for p, k in rows if k in ("tone", "flat")}
    second = {k: p.read_bytes() for p, k in read_genuine_manifest(again)}
    assert first == {k: second[k] for k in first}
    assert set(KINDS) >= set(CONTENT_KINDS) and len(KINDS) >= 14


def test_call_kinds_are_call_recordings_as_recorded_and_decoded(tmp_path: Path) -> None:
    from deepfake_gui.media import load_audio, probe

    speech = write_wav(tmp_path / "src.wav", speechlike(16000, 2.0))
    manifest = make_ood_corpus(tmp_path / "calls", 2, speech=[speech], kinds=("speech-landline", "speech-mobile"))
    found = {(k, probe(p).codec, probe(p).sample_rate) for p, k in read_genuine_manifest(manifest)}
    assert found == {("speech-landline", "pcm_mulaw", 8000), ("speech-landline", "pcm_s16le", 16000),
                     ("speech-mobile", "amr_nb", 8000), ("speech-mobile", "pcm_s16le", 16000)}
    for path, _ in read_genuine_manifest(manifest):
        x = load_audio(path, 16000)
        assert abs(len(x) - 32000) < 400 and abs(x).max() > 0.1  # the whole utterance, still loud


def test_video_kinds_are_a_still_photo_over_a_soundtrack_as_long_as_the_sound(tmp_path: Path) -> None:
    from PIL import Image

    from deepfake_gui.media import load_audio, probe

    photo = tmp_path / "photo.png"
    Image.fromarray(noisy_rgb(321, 241, 40, seed=3)).save(photo)  # odd sides: cropped to even ones, never scaled
    speech = write_wav(tmp_path / "src.wav", speechlike(16000, 2.0))
    manifest = make_ood_corpus(tmp_path / "videos", 2, photos=[photo], speech=[speech], kinds=("video-call",))
    for path, kind in read_genuine_manifest(manifest):
        info = probe(path)
        assert (kind, info.codec, info.audio_codec, info.width, info.height) == ("video-call", "h264", "aac", 320, 240)
        assert info.has_audio and info.duration_s == pytest.approx(2.0, abs=0.15)
        assert abs(load_audio(path, 16000)).max() > 0.1  # the call is in the soundtrack
    # a title card rebuilds byte for byte (x264 on one thread; a few longer videos still differ, see ood_corpus)
    first, second = (make_ood_corpus(tmp_path / name, 1, kinds=("video-flat",), seed=2) for name in ("a", "b"))
    assert [p.read_bytes() for p, _ in read_genuine_manifest(first)] == \
        [p.read_bytes() for p, _ in read_genuine_manifest(second)]


def test_manifest_must_hold_genuine_files_with_a_kind(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("path,label,kind\na.png,fake,chart\n")
    with pytest.raises(LayerScopeError, match="genuine"):
        read_genuine_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("path,label\na.png,real\n")
    with pytest.raises(LayerScopeError, match="kind"):
        read_genuine_manifest(tmp_path)


@needs_offline
def test_no_out_of_domain_kind_is_called_fake_and_every_one_says_why(corpus: Path, detectors) -> None:
    from deepfake_gui.engine.scan import ScanOptions

    job = false_accusation_job(corpus, ScanOptions(device="cpu", keep_arrays=False, provenance=False),
                               detectors=detectors)
    report = next(e for e in job if hasattr(e, "kinds")).to_dict()
    for kind, row in report["per_kind"].items():
        assert row["n"] == 1 and row["errors"] == 0, kind
        assert row["called_fake"] == 0, (kind, report["files"])
        assert row["inconclusive"] == 1 and sum(row["reasons"].values()) == 1, kind
    assert report["total"]["false_accusation_rate"] == 0.0
    assert report["total"]["without_reason"] == 0
