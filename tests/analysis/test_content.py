"""Content checks: what has nothing for a detector to judge is named, and photos and speech pass."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_gui.analysis.content import check_audio, check_image
from tests.media_factory import noisy_rgb, speechlike

RATE = 16000


def test_one_pixel_and_small_images_are_too_small():
    for side in (1, 8, 31):
        check = check_image(np.full((side, side, 3), 120, np.uint8))
        assert check.kind == "tiny"
        assert check.reasons[0]["code"] == "too-small"
        assert f"{side}x{side}" in check.reasons[0]["message"]


def test_flat_colour_and_gradient_have_no_texture():
    flat = np.zeros((600, 800, 3), np.uint8) + np.array([30, 140, 200], np.uint8)
    ramp = np.linspace(0, 255, 800)[None, :, None].repeat(600, 0).repeat(3, 2).round().astype(np.uint8)
    for image in (flat, ramp):
        check = check_image(image)
        assert check.kind == "flat"
        assert check.reasons[0]["code"] == "no-texture"


def test_rendered_window_is_graphics_and_a_noisy_photo_is_not():
    from deepfake_gui.engine.ood_corpus import _chart, _document, _screenshot

    rng = np.random.default_rng(0)
    for make in (_screenshot, _chart, _document):
        im, _note = make(rng, 0)
        check = check_image(np.asarray(im))
        assert check.kind == "graphics", make.__name__
        assert "not a photograph" in check.reasons[0]["message"]
    photo = check_image(noisy_rgb(320, 240, 40, seed=1))
    assert photo.judgeable and photo.kind == "photo-like"
    assert photo.stats["equal_neighbours"] < 0.1


def test_smooth_photo_region_with_small_steps_is_not_graphics():
    """A sky after JPEG has many identical neighbours, but also many 1-3 level steps: still a photo."""
    rng = np.random.default_rng(3)
    base = np.linspace(90, 140, 256)[None, :].repeat(256, 0)
    sky = np.clip(base + rng.normal(0, 0.8, base.shape), 0, 255).round().astype(np.uint8)
    check = check_image(np.stack([sky, sky, sky + 10], axis=2))
    assert check.kind == "photo-like"
    assert check.stats["small_step_share"] >= 0.2


def test_speechlike_audio_passes():
    check = check_audio(speechlike(RATE, 4.0), RATE)
    assert check.judgeable, check.stats
    assert check.kind == "speech-like"


@pytest.mark.parametrize("kind", ["tone", "chord", "music"])
def test_tones_chords_and_music_are_not_speech(kind):
    from deepfake_gui.engine import ood_corpus

    maker = {"tone": ood_corpus._tone, "chord": ood_corpus._chord, "music": ood_corpus._music}[kind]
    x, _note = maker(np.random.default_rng(2), 0, RATE)
    check = check_audio(x, RATE)
    assert check.kind == "tone-or-music"
    assert check.reasons[0]["code"] == "not-speech"


@pytest.mark.parametrize("i", [0, 1, 2])
def test_white_pink_and_brown_noise_is_noise(i):
    from deepfake_gui.engine.ood_corpus import _noise

    x, note = _noise(np.random.default_rng(5), i, RATE)
    check = check_audio(x, RATE)
    assert check.kind == "noise", (note, check.stats)


def test_silence_and_short_clips():
    assert check_audio(np.zeros(RATE * 3), RATE).reasons[0]["code"] == "silence"
    short = check_audio(speechlike(RATE, 0.5), RATE)
    assert short.kind == "too-short"
    assert "0.5" in short.reasons[0]["message"] or "0.4" in short.reasons[0]["message"]


def _syllables(rate: int, seconds: float) -> np.ndarray:
    """Speech-like bursts with pauses between them, as read speech has (the noise floor shows in the pauses)."""
    x = speechlike(rate, seconds, noise=0.001)
    t = np.arange(len(x)) / rate
    return (x * (np.sin(2 * np.pi * 2.5 * t) > 0)).astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_noise_floor_reads_how_far_steady_noise_lies_below_the_speech(rate):
    """Clean speech reads well above the 21 dB the verdict treats as noisy; white noise at 20 / 10 dB SNR below it."""
    from deepfake_gui.analysis.caveats import NOISY_BEYOND_DB, NOISY_SNR_DB
    from deepfake_gui.launder.audio import add_noise

    x = _syllables(rate, 4.0)
    clean = check_audio(x, rate).stats["noise_snr_db"]
    at20 = check_audio(add_noise(x, 20.0, np.random.default_rng(0)), rate).stats["noise_snr_db"]
    at10 = check_audio(add_noise(x, 10.0, np.random.default_rng(0)), rate).stats["noise_snr_db"]
    assert clean > NOISY_SNR_DB + 10
    assert NOISY_BEYOND_DB < at20 <= NOISY_SNR_DB and 16.0 < at20 < 20.0
    assert at10 < NOISY_BEYOND_DB and 8.0 < at10 < 11.0


def test_a_sound_that_never_pauses_reads_as_steady():
    """A held harmonic tone has no quiet moments in its bins: its floor is its own level (about 0 dB)."""
    stats = check_audio(speechlike(RATE, 4.0), RATE).stats
    assert -0.5 < stats["noise_snr_db"] < 3.0
