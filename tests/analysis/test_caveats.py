"""Each caveat fires on crafted input and stays quiet on clean input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.analysis.caveats import (
    Caveat,
    domain_caveats,
    edge_silence,
    no_face_caveat,
    short_clip_caveat,
    silence_caveats,
)
from deepfake_gui.engine.file_caveats import recompression_caveats
from deepfake_gui.media.measure import jpeg_quality_estimate
from deepfake_gui.media.probe import probe

RATE = 8000
AUDIO_DOMAIN = {
    "modality": "audio",
    "sample_rate": 8000,
    "duration_s": [0.5, 12.0],
    "description": "telephone-band (8 kHz) read speech; TTS engines espeak-ng, festival",
}
IMAGE_DOMAIN = {"modality": "image", "size": [224, 224], "description": "224x224 face crops from FF++"}


def _tone(seconds: float) -> np.ndarray:
    return media_factory.tone(RATE, seconds, 1, freq=440.0)[0]


def _codes(caveats: list[Caveat]) -> list[str]:
    return [c.code for c in caveats]


# --- silence, short clips, faces --------------------------------------------------------


def test_edge_silence_measures_both_ends() -> None:
    audio = np.concatenate([np.zeros(RATE), _tone(1.0), np.zeros(int(0.2 * RATE))])
    leading, trailing = edge_silence(audio, RATE)
    assert leading == pytest.approx(1.0, abs=0.02)
    assert trailing == pytest.approx(0.2, abs=0.02)
    assert edge_silence(_tone(1.0), RATE) == (0.0, 0.0)


def test_leading_silence_fires_and_a_clean_tone_does_not() -> None:
    audio = np.concatenate([np.zeros(RATE), _tone(1.0)])
    caveats = silence_caveats(audio, RATE, limit_s=0.5)
    assert _codes(caveats) == ["leading-silence"]
    assert str(caveats[0]).startswith("leading silence of 1.0 s (more than 0.5 s): audio detectors")
    assert silence_caveats(_tone(1.0), RATE) == []
    # quiet noise under the threshold still counts as silence
    noisy = np.concatenate([_tone(1.0), 1e-4 * np.random.default_rng(0).standard_normal(RATE)])
    assert _codes(silence_caveats(noisy, RATE)) == ["trailing-silence"]


def test_an_all_silent_clip_gets_one_caveat() -> None:
    assert _codes(silence_caveats(np.zeros(RATE, dtype=np.float32), RATE)) == ["silent-audio"]


def test_short_clip() -> None:
    (caveat,) = short_clip_caveat(0.3, 4.0)
    assert caveat.code == "short-clip" and "0.30 s" in caveat.message and "4 s window" in caveat.message
    assert short_clip_caveat(4.0, 4.0) == []
    assert short_clip_caveat(None, 4.0) == []


def test_no_face() -> None:
    (caveat,) = no_face_caveat(12)
    assert caveat.code == "no-face" and "12 frames" in str(caveat) and "whole frames" in str(caveat)
    assert caveat.to_dict() == {"code": "no-face", "message": caveat.message}


# --- JPEG quality and recompression --------------------------------------------------


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(media_factory.noisy_rgb(256, 256, 20, seed=3), "RGB")


@pytest.mark.parametrize("quality", [30, 50, 75, 95])
def test_jpeg_quality_estimate(tmp_path: Path, photo: Image.Image, quality: int) -> None:
    path = tmp_path / f"q{quality}.jpg"
    photo.save(path, quality=quality)
    estimate = jpeg_quality_estimate(path)
    assert estimate is not None and abs(estimate - quality) <= 5


def test_jpeg_quality_estimate_is_none_for_other_files(tmp_path: Path, photo: Image.Image) -> None:
    photo.save(tmp_path / "a.png")
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    assert jpeg_quality_estimate(tmp_path / "a.png") is None
    assert jpeg_quality_estimate(tmp_path / "b.jpg") is None


def test_low_jpeg_quality_and_small_images(tmp_path: Path, photo: Image.Image) -> None:
    low, high, small = tmp_path / "low.jpg", tmp_path / "high.jpg", tmp_path / "small.png"
    photo.save(low, quality=50)
    photo.save(high, quality=95)
    photo.resize((96, 96)).save(small)
    (caveat,) = recompression_caveats(probe(low, with_hash=False), low)
    assert caveat.code == "low-jpeg-quality" and "quality about 50" in caveat.message
    assert recompression_caveats(probe(high, with_hash=False), high) == []
    assert _codes(recompression_caveats(probe(small, with_hash=False).to_dict(), small)) == ["small-image"]


def _write_mp3(path: Path, bit_rate: int) -> Path:
    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=RATE, layout="mono")
        stream.bit_rate = bit_rate
        frames = media_factory.tone(RATE, 1.0, 1)
        for start in range(0, frames.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(frames[:, start : start + 1024]),
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_low_audio_bit_rate(tmp_path: Path) -> None:
    low = _write_mp3(tmp_path / "low.mp3", 16_000)
    high = _write_mp3(tmp_path / "high.mp3", 64_000)
    (caveat,) = recompression_caveats(probe(low, with_hash=False), low)
    assert caveat.code == "low-audio-bitrate" and "16 kbit/s" in caveat.message
    assert recompression_caveats(probe(high, with_hash=False), high) == []
    wav = media_factory.write_audio(tmp_path / "t.wav", "pcm_s16le", "wav", RATE, 1, 0.5)
    assert recompression_caveats(probe(wav, with_hash=False), wav) == []  # lossless


def test_bit_rates_in_extra_are_used_without_opening_the_file(tmp_path: Path) -> None:
    info = {"modality": "audio", "codec": "aac", "extra": {"audio_bit_rate": 24_000}}
    assert _codes(recompression_caveats(info, tmp_path / "missing.m4a")) == ["low-audio-bitrate"]


def test_low_video_bit_rate(tmp_path: Path) -> None:
    starved = media_factory.write_video(tmp_path / "flat.mp4", with_audio=False, width=320, height=240, frames=10)
    (caveat,) = recompression_caveats(probe(starved, with_hash=False), starved)
    assert caveat.code == "low-video-bitrate" and "320x240" in caveat.message
    clip = media_factory.write_video(tmp_path / "clip.mp4", frames=10)  # 64x48 with AAC stereo
    assert recompression_caveats(probe(clip, with_hash=False), clip) == []


# --- training domain -------------------------------------------------------------------


def test_domain_sample_rate_and_duration() -> None:
    assert domain_caveats(AUDIO_DOMAIN, sample_rate=8000, duration_s=5.0) == []
    (caveat,) = domain_caveats(AUDIO_DOMAIN, sample_rate=44_100, duration_s=5.0)
    assert caveat.code == "domain-sample-rate"
    assert "44100 Hz" in caveat.message and "telephone-band" in caveat.message
    assert "may not carry over" in caveat.message
    assert _codes(domain_caveats(AUDIO_DOMAIN, sample_rate=8000, duration_s=0.2)) == ["domain-duration"]
    assert _codes(domain_caveats(AUDIO_DOMAIN, sample_rate=8000, duration_s=30.0)) == ["domain-duration"]
    assert domain_caveats(AUDIO_DOMAIN, duration_s=20.0) == []  # within max * 2
    mixed = AUDIO_DOMAIN | {"sample_rates": [8000, 16000]}
    assert domain_caveats(mixed, sample_rate=16_000) == []
    assert "at 8000/16000 Hz" in str(domain_caveats(mixed, sample_rate=44_100)[0])


def test_domain_image_size() -> None:
    assert domain_caveats(IMAGE_DOMAIN, width=800, height=600) == []
    (caveat,) = domain_caveats(IMAGE_DOMAIN, width=1024, height=1024)
    assert caveat.code == "domain-image-size" and "FF++" in caveat.message and "224x224" in caveat.message
    assert _codes(domain_caveats(IMAGE_DOMAIN, width=50, height=300)) == ["domain-image-size"]
    assert domain_caveats({"modality": "image"}, width=10, height=10) == []
