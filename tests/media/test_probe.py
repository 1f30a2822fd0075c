"""probe(): what a file is, read from its content, with exact sizes, rates and hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from media_factory import (
    AUDIO_SPECS,
    IMAGE_H,
    IMAGE_W,
    VIDEO_AUDIO_RATE,
    VIDEO_FPS,
    VIDEO_FRAMES,
    VIDEO_H,
    VIDEO_W,
)

from deepfake_gui.core.errors import MediaError
from deepfake_gui.media import MediaInfo, probe

# FFmpeg codec id names (not decoder names such as "mp3float")
AUDIO_CODECS = {"pcm_s16le": "pcm_s16le", "flac": "flac", "libmp3lame": "mp3", "libopus": "opus", "aac": "aac"}
# container format -> a name FFmpeg lists for its demuxer ("mov,mp4,m4a,3gp,3g2,mj2" for MP4/M4A)
AUDIO_CONTAINERS = {"wav": "wav", "flac": "flac", "mp3": "mp3", "ogg": "ogg", "ipod": "m4a"}

GOOD_FILES = [
    "mp4", "mp4_video_only", *AUDIO_SPECS, "mp3_cover", "png", "jpeg", "webp", "gif", "webp_anim",
    "cmyk_jpeg", "gray16_png", "rgb48_png", "rgba_png", "la_png", "p_png", "exif6_jpeg", "png_as_wav",
]


@pytest.mark.parametrize("name", GOOD_FILES)
def test_size_and_hash_are_of_the_exact_bytes(media_files: dict[str, Path], name: str) -> None:
    path = media_files[name]
    info = probe(path)
    assert isinstance(info, MediaInfo)
    assert info.path == str(path)
    assert info.byte_size == os.path.getsize(path)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hash_can_be_skipped(media_files: dict[str, Path]) -> None:
    info = probe(media_files["mp4"], with_hash=False)
    assert info.sha256 == ""
    assert info.modality == "video"


def test_mp4_with_aac_audio(media_files: dict[str, Path]) -> None:
    info = probe(media_files["mp4"])
    assert info.modality == "video"
    assert "mp4" in info.container.split(",")
    assert info.codec == "h264"
    assert (info.width, info.height) == (VIDEO_W, VIDEO_H)
    assert info.fps == pytest.approx(VIDEO_FPS)
    assert info.frame_count == VIDEO_FRAMES
    assert info.duration_s == pytest.approx(VIDEO_FRAMES / VIDEO_FPS, abs=0.05)
    assert info.has_audio is True
    assert info.audio_codec == "aac"
    assert info.sample_rate == VIDEO_AUDIO_RATE
    assert info.channels == 2
    assert "frame_count_estimated" not in info.extra


def test_mp4_without_audio(media_files: dict[str, Path]) -> None:
    info = probe(media_files["mp4_video_only"])
    assert info.modality == "video"
    assert info.frame_count == VIDEO_FRAMES
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert info.has_audio is False
    assert info.audio_codec is None
    assert info.sample_rate is None
    assert info.channels is None


@pytest.mark.parametrize("name", list(AUDIO_SPECS))
def test_audio_files(media_files: dict[str, Path], name: str) -> None:
    codec, fmt, rate, channels, seconds = AUDIO_SPECS[name]
    info = probe(media_files[name])
    assert info.modality == "audio"
    assert AUDIO_CONTAINERS[fmt] in info.container.split(",")
    assert info.codec == AUDIO_CODECS[codec]
    assert info.sample_rate == rate
    assert info.channels == channels
    # Opus adds its 6.5 ms pre-skip to the container duration; the rest are exact
    assert info.duration_s == pytest.approx(seconds, abs=0.01)
    assert info.width is None and info.height is None and info.fps is None
    assert info.has_audio is False  # has_audio describes a video's extra track


def test_mp3_cover_art_is_audio_not_video(media_files: dict[str, Path]) -> None:
    info = probe(media_files["mp3_cover"])
    assert info.modality == "audio"
    assert info.codec == "mp3"
    assert info.duration_s == pytest.approx(1.5, abs=0.01)
    assert info.width is None


@pytest.mark.parametrize(
    ("name", "fmt", "size", "mode"),
    [
        ("png", "png", (IMAGE_W, IMAGE_H), "RGB"),
        ("jpeg", "jpeg", (IMAGE_W, IMAGE_H), "RGB"),
        ("webp", "webp", (IMAGE_W, IMAGE_H), "RGB"),
        ("cmyk_jpeg", "jpeg", (IMAGE_W, IMAGE_H), "CMYK"),
        ("gray16_png", "png", (30, IMAGE_H), "I;16"),
        ("rgb48_png", "png", (30, IMAGE_H), "RGB"),
        ("rgba_png", "png", (IMAGE_W, IMAGE_H), "RGBA"),
        ("la_png", "png", (IMAGE_W, IMAGE_H), "LA"),
        ("p_png", "png", (IMAGE_W, IMAGE_H), "P"),
        ("exif6_jpeg", "jpeg", (32, 64), "RGB"),  # stored 64x32; size is after EXIF rotation
        ("png_as_wav", "png", (IMAGE_W, IMAGE_H), "RGB"),  # content wins over the extension
    ],
)
def test_still_images(
    media_files: dict[str, Path], name: str, fmt: str, size: tuple[int, int], mode: str
) -> None:
    info = probe(media_files[name])
    assert info.modality == "image"
    assert info.container == fmt
    assert info.codec == fmt
    assert (info.width, info.height) == size
    assert info.frame_count == 1
    assert info.duration_s is None and info.fps is None
    assert info.extra == {"mode": mode, "animated": False}


@pytest.mark.parametrize(("name", "fmt"), [("gif", "gif"), ("webp_anim", "webp")])
def test_animated_images(media_files: dict[str, Path], name: str, fmt: str) -> None:
    info = probe(media_files[name])
    assert info.modality == "image"
    assert info.container == fmt
    assert (info.width, info.height) == (IMAGE_W, IMAGE_H)
    assert info.frame_count == 3
    assert info.duration_s == pytest.approx(0.6)  # 100 + 200 + 300 ms
    assert info.fps == pytest.approx(5.0)
    assert info.extra["animated"] is True


def test_to_dict_round_trips_every_field(media_files: dict[str, Path]) -> None:
    info = probe(media_files["mp4"])
    d = info.to_dict()
    assert d["modality"] == "video"
    assert d["width"] == VIDEO_W
    assert MediaInfo(**d) == info


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(MediaError) as err:
        probe(path)
    assert err.value.reason == "unreadable"
    assert str(err.value) == f"{path}: cannot open: no such file"


def test_directory_is_not_media(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as err:
        probe(tmp_path)
    assert err.value.reason == "unsupported"
    assert "not a regular file" in str(err.value)


def test_media_dir_holds_exactly_the_fixtures(media_dir: Path, media_files: dict[str, Path]) -> None:
    assert sorted(media_dir.iterdir()) == sorted(media_files.values())
