"""The voice-codec check: its features, its stored form (validated, no pickle), and what the shipped one does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.analysis.content import ContentCheck
from deepfake_gui.engine.gate import voice_codec_check
from deepfake_gui.engine.voice_codec import (
    CHECK_DIR,
    HIDDEN,
    RATE,
    VoiceCodecCheck,
    VoiceCodecCheckError,
    codec_features,
    kept_columns,
    shipped_check,
)
from deepfake_gui.launder import audio as laudio

WIDTH = 92 + 107  # bins up to 3.8 kHz of the 384 and 448-sample windows
SHARED_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "data" / "audio"


def _voice(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A gliding harmonic tone with syllable-rate loudness and a little noise: voice-like enough for features."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds)) / RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
    return (0.2 * x / np.abs(x).max() + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


def _check(threshold: float = 0.0) -> VoiceCodecCheck:
    """A network whose logit is the features' mean minus 1 (features are non-negative, so the ReLU passes it)."""
    w1 = np.zeros((WIDTH, HIDDEN))
    w1[:, 0] = 1.0 / WIDTH
    w2 = np.zeros(HIDDEN)
    w2[0] = 1.0
    return VoiceCodecCheck(w1, np.zeros(HIDDEN), w2, -1.0, np.zeros(WIDTH), np.ones(WIDTH), threshold,
                           {"what": "test"})


def test_features_are_the_phase_encoder_means_at_both_sizes_up_to_3_8_khz() -> None:
    from deepfake_gui.encoders.families.phase import phase_deviation, sound_mask

    x = _voice()
    f = codec_features(x)
    assert f.shape == (WIDTH,) and np.isfinite(f).all()
    deviation, energy = phase_deviation(x, 448)
    assert np.allclose(f[92:], deviation[sound_mask(energy)].mean(0)[:107])  # bin 106 = 3.79 kHz
    assert np.array_equal(codec_features(x, max_hz=RATE / 2)[kept_columns()], f)
    assert np.array_equal(f, codec_features(x))
    assert 0.0 < f.mean() < np.pi / 2 + 1e-6  # absolute phase deviations, radians
    assert not np.allclose(f, codec_features(laudio.phone_call(x, RATE, "amr_nb", 12_200)))


def test_save_load_round_trip_and_score(tmp_path: Path) -> None:
    check = _check(threshold=0.25)
    check.save(tmp_path)
    loaded = VoiceCodecCheck.load(tmp_path)
    x = _voice()
    assert loaded.score(x) == pytest.approx(check.score(x))
    assert loaded.score(x) == pytest.approx(codec_features(x).mean() - 1.0)
    assert loaded.threshold == 0.25 and loaded.card["what"] == "test"
    assert {p.suffix for p in tmp_path.iterdir()} == {".json", ".safetensors"}


@pytest.mark.parametrize("damage", ["shape", "nan", "std", "bands", "threshold", "missing"])
def test_load_refuses_a_damaged_check_and_names_the_file(tmp_path: Path, damage: str) -> None:
    from safetensors.numpy import load_file, save_file

    _check().save(tmp_path)
    weights, card_path = tmp_path / "voice_codec.safetensors", tmp_path / "voice_codec.json"
    arrays, card = load_file(str(weights)), json.loads(card_path.read_text())
    if damage == "shape":
        arrays["w1"] = arrays["w1"][:-1]
    elif damage == "nan":
        arrays["scaler_mean"][3] = np.nan
    elif damage == "std":
        arrays["scaler_std"][0] = 0.0
    elif damage == "bands":
        card["features"]["max_hz"] = 8000
    elif damage == "threshold":
        card["threshold"] = "high"
    elif damage == "missing":
        weights.unlink()
    if weights.exists():
        save_file(arrays, str(weights))
    card_path.write_text(json.dumps(card))
    with pytest.raises(VoiceCodecCheckError, match=str(tmp_path)):
        VoiceCodecCheck.load(tmp_path)


def test_gate_adds_the_reason_only_when_it_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    import deepfake_gui.engine.voice_codec as vc

    x = _voice()
    low = codec_features(x).mean() - 1.0
    monkeypatch.setattr(vc, "shipped_check", lambda: _check(threshold=low - 0.01))
    fired = voice_codec_check(ContentCheck("speech-like", {}), x)
    assert [r["code"] for r in fired.reasons] == ["voice-codec"] and fired.kind == "phone-call"
    assert "phone call" in fired.reasons[0]["message"]
    assert fired.stats["voice_codec_score"] == pytest.approx(low)
    monkeypatch.setattr(vc, "shipped_check", lambda: _check(threshold=low + 0.01))
    quiet = voice_codec_check(ContentCheck("speech-like", {}), x)
    assert quiet.reasons == [] and quiet.kind == "speech-like"
    def broken() -> VoiceCodecCheck:
        raise VoiceCodecCheckError("/x/voice_codec.safetensors: w1 must be (199, 128) finite numbers")

    monkeypatch.setattr(vc, "shipped_check", broken)
    damaged = voice_codec_check(ContentCheck("speech-like", {}), x)
    assert [r["code"] for r in damaged.reasons] == ["check-unavailable"]
    assert "/x/voice_codec.safetensors" in damaged.reasons[0]["message"]
    tone = ContentCheck("tone-or-music", {}, [{"code": "not-speech", "message": "tones"}])
    assert voice_codec_check(tone, x).reasons == tone.reasons  # already withheld: not scored
    assert "voice_codec_score" not in tone.stats


@pytest.mark.skipif(shipped_check() is None, reason="the voice-codec check has not been built in this checkout")
@pytest.mark.skipif(not SHARED_AUDIO.is_dir(), reason="../shared/data/audio is not beside this checkout")
def test_shipped_check_fires_on_calls_of_genuine_recordings_not_on_them(tmp_path: Path) -> None:
    """Calls as a user has them: decoded to 16 kHz, or the call's own 8 kHz file read back by the scan's decoder."""
    from deepfake_gui.media import load_audio

    check = shipped_check()
    assert check.card["threshold_rule"] and check.card["held_out_sources"]
    files = sorted((SHARED_AUDIO / "real").rglob("*.flac"))[::60][:6]
    assert len(files) == 6
    for i, path in enumerate(files):
        x = load_audio(path, RATE)
        assert check.reason(check.score(x)) is None, path
        assert check.reason(check.score(laudio.telephone(x, RATE))) is None, path  # band-limited, no codec
        assert check.reason(check.score(laudio.phone_call(x, RATE, "amr_nb", 12_200))) is not None, path
        data, ext = laudio.encoded_file(laudio.narrowband(x, RATE), 8_000, ("amr_nb", "mulaw")[i % 2],
                                        (12_200, 64_000)[i % 2])
        call = tmp_path / f"{i}.{ext}"
        call.write_bytes(data)
        assert check.reason(check.score(load_audio(call, RATE))) is not None, call


def test_check_files_are_package_data() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["deepfake_gui"]
    assert f"engine/{CHECK_DIR.name}/*" in patterns
