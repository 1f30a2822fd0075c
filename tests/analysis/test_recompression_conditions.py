"""A re-compressed file is matched to its nearest standard laundering condition, and a detector's
measured AUC under that condition is quoted only when its bundle carries the figure."""

from __future__ import annotations

from pathlib import Path

import media_factory
import pytest
from PIL import Image

from deepfake_gui.analysis.caveats import Caveat, ConditionMatch, measured_condition_caveat
from deepfake_gui.engine.file_caveats import condition_matches, matching_conditions, recompression_caveats
from deepfake_gui.launder.audio import encode
from deepfake_gui.launder.conditions import CONDITIONS
from deepfake_gui.media.probe import probe

RATE = 8000
ROBUSTNESS = {
    "method": "grouped 5-fold CV: each fold's probe scores clean and laundered copies of its held-out groups",
    "augment": "none",
    "conditions": {
        "clean": {"auc": 0.99, "eer": 0.04, "n": 120},
        "jpeg90": {"auc": 0.975, "eer": 0.06, "n": 120},
        "jpeg75": {"auc": 0.9, "eer": 0.15, "n": 120},
        "jpeg60": {"auc": 0.8512, "eer": 0.22, "n": 120},
        "rescale0.5": {"auc": None, "eer": None, "n": 120},
        "opus16k": {"auc": 0.7, "eer": 0.35, "n": 80},
    },
}


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(media_factory.noisy_rgb(256, 256, 20, seed=3), "RGB")


def _jpeg(folder: Path, photo: Image.Image, quality: int) -> Path:
    path = folder / f"q{quality}.jpg"
    photo.save(path, quality=quality)
    return path


def _opus(folder: Path, bit_rate: int, seconds: float = 1.5) -> Path:
    """Ogg/Opus through PyAV's libopus (launder.audio.encode) at ``bit_rate``, speech-like content."""
    path = folder / f"voice_{bit_rate // 1000}k.opus"
    path.write_bytes(encode(media_factory.speechlike(RATE, seconds), RATE, "opus", bit_rate))
    return path


def _matches(path: Path) -> list[ConditionMatch]:
    return condition_matches(probe(path, with_hash=False), path)


# --- images -------------------------------------------------------------------------------


@pytest.mark.parametrize(("quality", "condition", "mild", "beyond"), [
    (40, "jpeg60", False, True),
    (62, "jpeg60", False, False),
    (75, "jpeg75", False, False),
    (85, "jpeg90", False, False),
    (92, "jpeg90", True, False),
])
def test_jpeg_quality_maps_to_the_nearest_jpeg_condition(tmp_path: Path, photo: Image.Image, quality: int,
                                                        condition: str, mild: bool, beyond: bool) -> None:
    (match,) = _matches(_jpeg(tmp_path, photo, quality))
    assert (match.condition, match.mild, match.beyond) == (condition, mild, beyond)
    assert match.finding.startswith("looks re-compressed (JPEG quality about ")
    assert match.condition in CONDITIONS


@pytest.mark.parametrize("quality", [95, 100])
def test_near_lossless_jpeg_and_a_clean_png_match_nothing(tmp_path: Path, photo: Image.Image, quality: int) -> None:
    assert _matches(_jpeg(tmp_path, photo, quality)) == []
    png = tmp_path / "clean.png"
    photo.save(png)
    assert matching_conditions(probe(png, with_hash=False), png) == []
    assert recompression_caveats(probe(png, with_hash=False), png) == []


def test_the_low_quality_caveat_names_its_condition(tmp_path: Path, photo: Image.Image) -> None:
    low = _jpeg(tmp_path, photo, 40)
    (caveat,) = recompression_caveats(probe(low, with_hash=False), low)
    assert caveat.code == "low-jpeg-quality" and caveat.condition == "jpeg60"
    assert caveat.to_dict() == {"code": "low-jpeg-quality", "message": caveat.message, "condition": "jpeg60"}
    assert str(caveat) == caveat.message
    # quality 85 is matched (jpeg90) but too mild for the file caveat itself
    assert recompression_caveats(probe(_jpeg(tmp_path, photo, 85), with_hash=False), tmp_path / "q85.jpg") == []
    # a caveat without a condition keeps its two keys
    assert Caveat("no-face", "x").to_dict() == {"code": "no-face", "message": "x"}


@pytest.mark.parametrize(("size", "condition"), [((64, 64), "rescale0.5"), ((120, 200), "rescale0.75"),
                                                 ((96, 300), "rescale0.75"), ((95, 300), "rescale0.5")])
def test_small_images_map_to_a_rescale_condition(tmp_path: Path, photo: Image.Image, size: tuple[int, int],
                                                 condition: str) -> None:
    small = tmp_path / "small.png"
    photo.resize(size).save(small)
    assert matching_conditions(probe(small, with_hash=False), small) == [condition]
    (caveat,) = recompression_caveats(probe(small, with_hash=False), small)
    assert caveat.code == "small-image" and caveat.condition == condition


def test_a_small_low_quality_jpeg_matches_both_families(tmp_path: Path, photo: Image.Image) -> None:
    path = tmp_path / "tiny.jpg"
    photo.resize((64, 64)).save(path, quality=70)
    assert matching_conditions(probe(path, with_hash=False), path) == ["jpeg75", "rescale0.5"]


# --- audio --------------------------------------------------------------------------------


def test_a_16_kbit_opus_file_is_opus16k(tmp_path: Path) -> None:
    path = _opus(tmp_path, 16_000)
    info = probe(path, with_hash=False)
    assert info.codec == "opus"
    (match,) = condition_matches(info, path)
    assert match.condition == "opus16k" and not match.mild
    assert "opus audio at" in match.finding and "kbit/s" in match.finding
    (caveat,) = recompression_caveats(info, path)
    assert caveat.code == "low-audio-bitrate" and caveat.condition == "opus16k"


@pytest.mark.parametrize(("bit_rate", "condition", "mild"), [(24_000, "opus24k", False), (32_000, "opus32k", True)])
def test_opus_bit_rates_floor_to_their_setting(tmp_path: Path, bit_rate: int, condition: str, mild: bool) -> None:
    (match,) = _matches(_opus(tmp_path, bit_rate))
    assert (match.condition, match.mild) == (condition, mild)


@pytest.mark.parametrize(("codec", "rate", "expected"), [
    ("opus", 12_000, ["opus16k"]),
    ("opus", 20_000, ["opus16k"]),
    ("opus", 47_000, ["opus32k"]),
    ("opus", 48_000, []),
    ("mp3", 16_000, ["mp3_32k"]),
    ("mp3", 40_000, ["mp3_32k"]),
    ("mp3", 128_000, []),
    ("aac", 24_000, ["aac24k"]),
    ("aac", 36_000, []),
    ("vorbis", 16_000, []),  # lossy, but no standard condition: only the generic caveat
    ("pcm_s16le", 128_000, []),
])
def test_audio_codec_and_rate_mapping(tmp_path: Path, codec: str, rate: int, expected: list[str]) -> None:
    info = {"modality": "audio", "codec": codec, "sample_rate": 8000, "extra": {"audio_bit_rate": rate}}
    assert matching_conditions(info, tmp_path / "missing") == expected


def test_beyond_and_mild_flags_for_audio(tmp_path: Path) -> None:
    def one(codec: str, rate: int) -> ConditionMatch:
        (m,) = condition_matches({"modality": "audio", "codec": codec, "extra": {"audio_bit_rate": rate}}, tmp_path)
        return m

    assert one("opus", 12_000).beyond and not one("opus", 16_000).beyond
    assert one("mp3", 40_000).mild and not one("mp3", 31_000).mild and one("mp3", 31_000).beyond


def test_a_videos_audio_track_is_matched_and_8_khz_pcm_is_not(tmp_path: Path) -> None:
    video = {"modality": "video", "codec": "h264", "audio_codec": "aac", "width": 640, "height": 480, "fps": 25,
             "extra": {"video_bit_rate": 2_000_000, "audio_bit_rate": 22_000}}
    assert matching_conditions(video, tmp_path / "missing.mp4") == ["aac24k"]
    wav = media_factory.write_audio(tmp_path / "phone.wav", "pcm_s16le", "wav", 8000, 1, 0.5)
    assert matching_conditions(probe(wav, with_hash=False), wav) == []  # 8 kHz is the audio detectors' domain


# --- the measured figure ------------------------------------------------------------------


def test_measured_caveat_quotes_the_tables_figures() -> None:
    match = ConditionMatch("jpeg60", "looks re-compressed (JPEG quality about 62)")
    caveat = measured_condition_caveat("image-probe", match, ROBUSTNESS)
    assert caveat is not None and caveat.code == "measured-under-condition" and caveat.condition == "jpeg60"
    assert caveat.message == (
        "this file looks re-compressed (JPEG quality about 62): under JPEG re-compression, quality 60, 4:2:0 "
        "(jpeg60), image-probe's measured AUC is 0.851 (clean 0.990; grouped 5-fold CV on its training domain)")
    beyond = measured_condition_caveat("p", ConditionMatch("jpeg60", "x", beyond=True), ROBUSTNESS)
    # beyond the harshest measured condition the figure is not quoted as the file's: "not measured, likely worse"
    assert beyond is not None and beyond.code == "beyond-measured-condition"
    assert beyond.message.endswith("its accuracy here is not measured and likely worse")
    assert "measured AUC is" not in beyond.message
    augmented = measured_condition_caveat("p", match, ROBUSTNESS | {"augment": "social"})
    assert augmented is not None and "trained with 'social' augmentation" in augmented.message
    opus = measured_condition_caveat("audio-ge2e", ConditionMatch("opus16k", "looks re-compressed"), ROBUSTNESS)
    assert opus is not None and "Opus 16 kbit/s at 16 kHz (opus16k)" in opus.message and "0.700" in opus.message


def test_no_figure_no_caveat() -> None:
    match = ConditionMatch("jpeg75", "looks re-compressed (JPEG quality about 75)")
    assert measured_condition_caveat("p", match, None) is None  # an older bundle
    assert measured_condition_caveat("p", match, {"method": "x"}) is None
    assert measured_condition_caveat("p", ConditionMatch("jpeg75_444", "x"), ROBUSTNESS) is None  # no row
    assert measured_condition_caveat("p", ConditionMatch("rescale0.5", "x"), ROBUSTNESS) is None  # auc None
    bad = {"conditions": {"jpeg75": {"auc": "high"}, "clean": {"auc": 0.99}}}
    assert measured_condition_caveat("p", match, bad) is None
    no_clean = {"conditions": {"jpeg75": {"auc": 0.9, "n": 10}}}  # quoted, without a clean figure
    caveat = measured_condition_caveat("p", match, no_clean)
    assert caveat is not None and "clean" not in caveat.message.split("measured AUC")[1]
    assert "0.900 (measured on its training domain)" in caveat.message


def test_a_mild_match_is_quoted_only_on_a_material_drop() -> None:
    mild = ConditionMatch("jpeg90", "looks re-compressed (JPEG quality about 92)", mild=True)
    assert measured_condition_caveat("p", mild, ROBUSTNESS) is None  # 0.975 vs clean 0.990
    dropped = {**ROBUSTNESS, "conditions": {**ROBUSTNESS["conditions"], "jpeg90": {"auc": 0.93, "n": 120}}}
    caveat = measured_condition_caveat("p", mild, dropped)
    assert caveat is not None and "0.930 (clean 0.990;" in caveat.message
    no_clean = {"conditions": {"jpeg90": {"auc": 0.5}}}
    assert measured_condition_caveat("p", mild, no_clean) is None  # no drop can be shown
