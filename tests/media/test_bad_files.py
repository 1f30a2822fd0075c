"""Broken, fake and mislabelled files: a MediaError that names the file and the real cause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_factory import gradient_rgb

from deepfake_gui.core.errors import MediaError
from deepfake_gui.media import iter_audio_windows, iter_video_frames, load_audio, load_image, probe

# fixture -> (reason, phrases the message must contain)
PROBE_FAILURES: dict[str, tuple[str, list[str]]] = {
    "empty": ("empty", ["empty file", "0 bytes"]),
    "truncated_mp4": ("truncated", ["truncated MP4: no moov atom"]),
    "truncated_mp4_faststart": ("truncated", ["truncated MP4: the 'mdat' box needs", "cut short"]),
    "truncated_png": ("truncated", ["truncated PNG", "image file is truncated"]),
    "truncated_jpeg": ("truncated", ["truncated JPEG", "image file is truncated"]),
    "truncated_wav": ("truncated", ["truncated WAV", "RIFF header promises", "cut short"]),
    "header_only_wav": ("truncated", ["truncated WAV"]),
    "random_mp4": ("not-media", ["not a media file"]),
    "random_jpg": ("not-media", ["not a media file"]),
    "random_aac": ("not-media", ["not a media file"]),
    "random_mp3": ("not-media", ["not a media file"]),
    "random_ogg": ("not-media", ["not a media file"]),
    "random_wav": ("not-media", ["not a media file"]),
    "text": ("not-media", ["not a media file: it is a text file"]),
    "bomb_png": ("too-large", ["image too large", "50000x50000", "100 MP budget"]),
    "bomb_gif": ("too-large", ["image too large", "20000x20000", "100 MP budget"]),
}


def check(err: MediaError, path: Path, reason: str, phrases: list[str]) -> None:
    assert err.path == str(path)
    assert err.reason == reason
    assert err.what and err.why
    message = str(err)
    assert message == f"{path}: {err.what}: {err.why}"
    for phrase in phrases:
        assert phrase in message, message


@pytest.mark.parametrize("name", list(PROBE_FAILURES))
def test_probe_names_file_and_cause(media_files: dict[str, Path], name: str) -> None:
    reason, phrases = PROBE_FAILURES[name]
    with pytest.raises(MediaError) as err:
        probe(media_files[name])
    check(err.value, media_files[name], reason, phrases)


def test_truncated_mp4_fixture_has_moov_at_the_end(media_files: dict[str, Path]) -> None:
    data = media_files["mp4"].read_bytes()
    assert data.find(b"mdat") < data.find(b"moov")  # so the first 30 % holds no moov
    assert b"moov" not in media_files["truncated_mp4"].read_bytes()


@pytest.mark.parametrize(
    ("name", "func", "reason", "phrase"),
    [
        ("empty", load_image, "empty", "empty file"),
        ("empty", load_audio, "empty", "empty file"),
        ("truncated_png", load_image, "truncated", "truncated PNG"),
        ("truncated_jpeg", load_image, "truncated", "truncated JPEG"),
        ("truncated_mp4", lambda p: list(iter_video_frames(p)), "truncated", "truncated MP4: no moov atom"),
        ("truncated_mp4", load_audio, "truncated", "truncated MP4: no moov atom"),
        ("header_only_wav", load_audio, "truncated", "truncated WAV"),
        ("random_jpg", load_image, "not-media", "not an image"),
        ("random_mp4", lambda p: list(iter_video_frames(p)), "not-media", "not a media file"),
        ("random_aac", load_audio, "not-media", "not a media file"),
        ("random_ogg", lambda p: list(iter_audio_windows(p, 1.0, 0.5)), "not-media", "not a media file"),
        ("text", load_audio, "not-media", "text file"),
        ("text", lambda p: list(iter_video_frames(p)), "not-media", "text file"),
    ],
)
def test_decoders_explain_too(media_files: dict[str, Path], name: str, func, reason: str, phrase: str) -> None:
    with pytest.raises(MediaError) as err:
        func(media_files[name])
    check(err.value, media_files[name], reason, [phrase])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ext", ["aac", "mp3", "ogg", "wav", "m4a", "mp4", "ts", "bin"])
def test_random_bytes_are_never_media(tmp_path: Path, seed: int, ext: str) -> None:
    # FFmpeg guesses from the extension too; whatever it guesses, random bytes must not pass
    rng = np.random.default_rng(1000 + seed)
    path = tmp_path / f"noise{seed}.{ext}"
    path.write_bytes(rng.bytes(int(rng.integers(256, 40_000))))
    with pytest.raises(MediaError) as err:
        probe(path, with_hash=False)
    check(err.value, path, "not-media", ["not a media file"])


def test_png_with_wav_extension_is_an_image(media_files: dict[str, Path]) -> None:
    path = media_files["png_as_wav"]
    assert path.suffix == ".wav"
    info = probe(path)
    assert (info.modality, info.container, info.width, info.height) == ("image", "png", 40, 30)
    np.testing.assert_array_equal(load_image(path), gradient_rgb())


def test_truncated_audio_still_decodes_what_is_there(media_files: dict[str, Path]) -> None:
    # probe() refuses it; the decoders stream whatever whole packets survived (~0.5 of 1 s)
    audio = load_audio(media_files["truncated_wav"])
    assert 7_900 <= len(audio) < 8_000


def test_truncated_images_stay_errors_after_weasyprint_is_imported(media_files: dict[str, Path]) -> None:
    """WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on for the whole process; evidence must not decode anyway."""
    from PIL import ImageFile

    from deepfake_gui.report.pdf import weasyprint_problem

    weasyprint_problem()  # imports WeasyPrint when it is installed
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as if another library set it
    try:
        with pytest.raises(MediaError, match="truncated"):
            load_image(media_files["truncated_jpeg"])
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
