"""Unit tests of the scan pipeline's pure parts: windows, chunks, tiles, heatmaps, verdicts, calibration, caveats.

No encoder weights are needed (the calibration tests read only the shipped bundle's
probe arrays and JSON); every test asserts exact values or a brute-force reference.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from deepfake_gui.engine.caveat_rules import short_clip_caveats
from deepfake_gui.engine.score_audio import fixed_chunks, window_bounds, window_scores
from deepfake_gui.engine.score_image import TilePlan, paint_heatmap, plan_tiles, upsample_heatmap
from deepfake_gui.engine.track import TrackScore
from deepfake_gui.engine.verdicts import fuse_verdicts, track_verdict

MODELS = Path(__file__).resolve().parents[2] / "models"


# ----------------------------------------------------------------- audio windows
def test_window_bounds_short_clip_is_one_window_over_the_whole_clip() -> None:
    np.testing.assert_array_equal(window_bounds(1.3, 2.0, 0.5), [[0.0, 1.3]])
    np.testing.assert_array_equal(window_bounds(2.0, 2.0, 0.5), [[0.0, 2.0]])  # exactly one window long


def test_window_bounds_exact_fit_has_no_extra_window() -> None:
    bounds = window_bounds(6.0, 2.0, 0.5)
    np.testing.assert_allclose(bounds[:, 0], np.arange(0.0, 4.01, 0.5))
    np.testing.assert_allclose(bounds[:, 1], np.arange(2.0, 6.01, 0.5))
    assert len(bounds) == 9


def test_window_bounds_end_aligns_the_last_window() -> None:
    bounds = window_bounds(6.5, 4.0, 1.0)
    np.testing.assert_allclose(bounds, [[0.0, 4.0], [1.0, 5.0], [2.0, 6.0], [2.5, 6.5]])
    bounds = window_bounds(10.3, 2.0, 0.5)
    assert bounds[-1, 1] == pytest.approx(10.3)
    assert bounds[-1, 0] == pytest.approx(8.3)
    assert bounds[-2, 0] == pytest.approx(8.0)  # the regular grid stops before the end-aligned one


@pytest.mark.parametrize("duration", [4.01, 5.7, 6.0, 17.25, 61.3, 3600.0])
@pytest.mark.parametrize(("window", "hop"), [(2.0, 0.5), (4.0, 1.0), (1.0, 1.0), (3.0, 0.7), (2.0, 0.1)])
def test_window_bounds_cover_every_instant_with_hop_spacing(duration: float, window: float, hop: float) -> None:
    assert duration > window
    bounds = window_bounds(duration, window, hop)
    starts, ends = bounds[:, 0], bounds[:, 1]
    np.testing.assert_allclose(ends - starts, window, atol=1e-9)  # every window is full length
    assert starts[0] == 0.0
    assert ends[-1] == pytest.approx(duration, abs=1e-6)
    assert (starts >= -1e-12).all() and (ends <= duration + 1e-6).all()
    gaps = np.diff(starts)
    np.testing.assert_allclose(gaps[:-1], hop, atol=1e-9)  # the regular grid
    assert 0.0 < gaps[-1] <= hop + 1e-9  # the end-aligned last one steps at most one hop
    assert (starts[1:] <= ends[:-1] + 1e-9).all()  # hop <= window: consecutive windows leave no gap
    grid = np.linspace(0.0, duration, 20001)
    last_started = np.searchsorted(starts, grid + 1e-9, side="right") - 1  # the latest window begun at each instant
    assert (last_started >= 0).all() and (ends[last_started] >= grid - 1e-9).all()


def _brute_window_scores(times: np.ndarray, steps: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Mean of the steps with start <= t < end; a window holding no step takes the next step (else the last)."""
    order = np.argsort(times, kind="stable")
    times, steps = times[order], steps[order]
    out = []
    for start, end in bounds:
        inside = (times >= start) & (times < end)
        if inside.any():
            out.append(steps[inside].mean())
        else:
            after = np.flatnonzero(times >= start)
            out.append(steps[after[0]] if after.size else steps[-1])
    return np.asarray(out)


def test_window_scores_equal_brute_force_means() -> None:
    rng = np.random.default_rng(7)
    # 20 ms steps over 12.34 s (times that coincide exactly with window edges included), shuffled
    times = np.arange(0, 12.34, 0.02)
    steps = rng.normal(size=times.size)
    perm = rng.permutation(times.size)
    bounds = window_bounds(12.34, 2.0, 0.5)
    got = window_scores(times[perm], steps[perm], bounds)
    np.testing.assert_allclose(got, _brute_window_scores(times, steps, bounds), rtol=1e-12, atol=1e-12)
    # the first window is [0, 2): exactly the steps 0.00 .. 1.98
    assert got[0] == pytest.approx(steps[:100].mean(), abs=1e-12)


def test_window_scores_random_times_and_empty_windows() -> None:
    rng = np.random.default_rng(3)
    # irregular times with a hole between 5 and 7 s
    times = np.concatenate([rng.uniform(0, 5, 300), rng.uniform(7, 10, 200)])
    steps = rng.normal(size=times.size)
    bounds = np.concatenate([window_bounds(10.0, 1.5, 0.25),
                             [[5.2, 6.0],  # inside the hole: no step, takes the next one (the first after 7 s)
                              [3.0, 3.0],  # zero length
                              [12.0, 13.0]]])  # past every step: takes the last
    got = window_scores(times, steps, bounds)
    np.testing.assert_allclose(got, _brute_window_scores(times, steps, bounds), rtol=1e-12, atol=1e-12)
    first_after_hole = steps[times >= 7][np.argmin(times[times >= 7])]
    assert got[-3] == pytest.approx(first_after_hole)
    assert got[-1] == pytest.approx(steps[np.argmax(times)])


# ----------------------------------------------------------------- audio chunks
RATE = 100  # samples per second: 30 s chunks of 3000 samples keep these tests fast
SIZE = 30 * RATE


def _training_chunks(signal: np.ndarray, rate: int, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The chunks feature extraction for training cuts from the same whole signal (extract._decode itself;
    an empty track is an error there, "no audio samples", and no chunk here)."""
    from deepfake_gui.encoders import extract

    if not len(signal):
        return []
    monkeypatch.setattr(extract, "iter_detector_audio", lambda path, r, narrowband: iter([signal]))
    encoder = SimpleNamespace(modality="audio", spec=SimpleNamespace(preprocessing={"sample_rate": rate}))
    return extract._decode(encoder, Path("unused.wav"))  # type: ignore[arg-type]


def _pieces(signal: np.ndarray, rng: np.random.Generator, max_piece: int, log: dict):
    """Yield the signal in random-sized pieces, recording how much has been handed out."""
    pos = 0
    while pos < len(signal):
        n = int(rng.integers(1, max_piece + 1))
        piece = signal[pos : pos + n]
        pos += len(piece)
        log["consumed"] = pos
        yield piece


LENGTHS = [0, 1, 57, SIZE - 1, SIZE, SIZE + 1, SIZE + RATE - 1, SIZE + RATE, SIZE + 1234, 2 * SIZE,
           2 * SIZE + 5, 2 * SIZE + RATE, 3 * SIZE - 1, 7 * SIZE + 42, 7 * SIZE + 2 * RATE]


@pytest.mark.parametrize("length", LENGTHS)
def test_fixed_chunks_match_training_cut(length: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(length)
    signal = rng.normal(size=length).astype(np.float32)
    expected = _training_chunks(signal, RATE, monkeypatch)
    for max_piece in (1 + length // 3, 97, 2500):
        log = {"consumed": 0}
        held = []
        got = []
        for start, chunk in fixed_chunks(_pieces(signal, rng, max_piece, log), RATE):
            held.append(log["consumed"] - start)  # samples read from the stream but not yet handed past
            got.append((start, chunk))
        assert len(got) == len(expected)
        starts = [s for s, _ in got]
        expected_starts = [i * SIZE for i in range(len(expected))]
        if len(expected) > 1 and len(expected[-1]) == SIZE and length % SIZE:  # end-aligned sliver
            expected_starts[-1] = length - SIZE
        assert starts == expected_starts
        for (_, chunk), want in zip(got, expected, strict=True):
            assert chunk.dtype == np.float32
            np.testing.assert_array_equal(chunk, want)
        # the non-overlapping parts, in order, are the signal
        covered, parts = 0, []
        for start, chunk in got:
            parts.append(chunk[max(0, covered - start):])
            covered = start + len(chunk)
        rebuilt = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        np.testing.assert_array_equal(rebuilt, signal)
        # never more than two chunks (plus one piece) held, however long the stream
        assert max(held, default=0) <= 2 * SIZE + max_piece


def test_fixed_chunks_tail_rule_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    signal = np.arange(SIZE + RATE // 2, dtype=np.float32)  # 30.5 s: a 0.5 s sliver
    got = list(fixed_chunks(iter([signal[:10], signal[10:]]), RATE))
    assert [s for s, _ in got] == [0, RATE // 2]  # the second chunk is the last 30 s, end-aligned
    assert all(len(c) == SIZE for _, c in got)
    np.testing.assert_array_equal(got[1][1], signal[-SIZE:])
    signal = np.arange(SIZE + RATE, dtype=np.float32)  # 31 s: a 1 s tail is kept as it is
    got = list(fixed_chunks(iter([signal]), RATE))
    assert [(s, len(c)) for s, c in got] == [(0, SIZE), (SIZE, RATE)]
    assert [len(c) for c in _training_chunks(signal, RATE, monkeypatch)] == [SIZE, RATE]


def test_fixed_chunks_streams_a_long_signal_at_16khz() -> None:
    rate, seconds = 16000, 100.5  # 3 full chunks and a 10.5 s tail
    size = 30 * rate
    log = {"consumed": 0}
    total = int(seconds * rate)

    def stream():
        for pos in range(0, total, 4096):  # like decoder frames; never builds the whole signal
            piece = (np.arange(pos, min(pos + 4096, total)) // size).astype(np.float32)  # the chunk number
            log["consumed"] = pos + len(piece)
            yield piece

    held = []
    shapes = []
    for start, chunk in fixed_chunks(stream(), rate):
        held.append(log["consumed"] - start)
        shapes.append((start, len(chunk), float(chunk[0]), float(chunk[-1])))
    assert shapes == [(0, size, 0.0, 0.0), (size, size, 1.0, 1.0), (2 * size, size, 2.0, 2.0),
                      (3 * size, total - 3 * size, 3.0, 3.0)]
    assert max(held) <= 2 * size + 4096


# ----------------------------------------------------------------- image tiles
def test_plan_tiles_small_image_is_resized_from_its_centre_square() -> None:
    assert plan_tiles(100, 120, 224) == TilePlan("resize", ((0, 10, 100, 110),))
    assert plan_tiles(300, 200, 224) == TilePlan("resize", ((50, 0, 250, 200),))
    assert plan_tiles(223, 5000, 224).mode == "resize"


def test_plan_tiles_exact_multiples_tile_without_overlap() -> None:
    plan = plan_tiles(448, 672, 224)
    assert plan.mode == "tiles"
    assert plan.boxes == tuple((y, x, y + 224, x + 224) for y in (0, 224) for x in (0, 224, 448))
    assert plan_tiles(224, 224, 224).boxes == ((0, 0, 224, 224),)


def test_plan_tiles_non_multiples_end_align_the_last_row_and_column() -> None:
    plan = plan_tiles(300, 500, 224)
    ys = sorted({b[0] for b in plan.boxes})
    xs = sorted({b[1] for b in plan.boxes})
    assert ys == [0, 76] and xs == [0, 138, 276]  # evenly spread, last ones flush with the edges
    assert len(plan.boxes) == 6
    covered = np.zeros((300, 500), bool)
    for y0, x0, y1, x1 in plan.boxes:
        covered[y0:y1, x0:x1] = True
    assert covered.all()


@pytest.mark.parametrize("max_tiles", [1, 2, 5, 16, 64])
def test_plan_tiles_bounded_count_and_in_bounds(max_tiles: int) -> None:
    rng = np.random.default_rng(max_tiles)
    shapes = [(224, 224 * 100), (224 * 100, 224), (4000, 3000), (3000, 4000), (225, 225), (1080, 1920)]
    shapes += [tuple(int(v) for v in rng.integers(224, 6000, 2)) for _ in range(40)]
    for h, w in shapes:
        plan = plan_tiles(h, w, 224, max_tiles)
        assert plan.mode == "tiles"
        assert 1 <= len(plan.boxes) <= max_tiles, (h, w)
        assert len(set(plan.boxes)) == len(plan.boxes)
        for y0, x0, y1, x1 in plan.boxes:
            assert min(y0, x0) >= 0 and y1 <= h and x1 <= w, (h, w, plan.boxes)
            assert (y1 - y0, x1 - x0) == (224, 224)
        full = math.ceil(h / 224) * math.ceil(w / 224)
        if full <= max_tiles:  # room for all: the tiles cover the whole image, flush with both far edges
            assert len(plan.boxes) == full
            assert max(b[2] for b in plan.boxes) == h and max(b[3] for b in plan.boxes) == w
            assert min(b[0] for b in plan.boxes) == 0 and min(b[1] for b in plan.boxes) == 0
    one = plan_tiles(1000, 700, 224, 1)
    assert one.boxes == (((1000 - 224) // 2, (700 - 224) // 2, (1000 - 224) // 2 + 224, (700 - 224) // 2 + 224),)


# ----------------------------------------------------------------- heatmaps
def _const_maps(*values: float, grid: int = 7) -> np.ndarray:
    return np.stack([np.full((grid, grid), v, dtype=np.float32) for v in values])


def test_paint_heatmap_places_each_tile_map_on_its_box() -> None:
    plan = plan_tiles(224, 448, 224)
    assert plan.boxes == ((0, 0, 224, 224), (0, 224, 224, 448))
    heat, scale = paint_heatmap((224, 448), plan, _const_maps(1.0, 5.0), max_side=512)
    assert scale == 1.0 and heat.shape == (224, 448) and heat.dtype == np.float32
    np.testing.assert_allclose(heat[:, :224], 1.0, atol=1e-6)
    np.testing.assert_allclose(heat[:, 224:], 5.0, atol=1e-6)
    heat, scale = paint_heatmap((224, 448), plan, _const_maps(1.0, 5.0), max_side=224)  # stored at half size
    assert scale == 0.5 and heat.shape == (112, 224)
    np.testing.assert_allclose(heat[:, :112], 1.0, atol=1e-6)
    np.testing.assert_allclose(heat[:, 112:], 5.0, atol=1e-6)


def test_paint_heatmap_nan_where_uncovered_and_mean_where_overlapping() -> None:
    gap = TilePlan("tiles", ((0, 0, 100, 100), (0, 200, 100, 300)))
    heat, scale = paint_heatmap((100, 300), gap, _const_maps(1.0, 5.0), max_side=512)
    assert scale == 1.0
    np.testing.assert_allclose(heat[:, :100], 1.0, atol=1e-6)
    assert np.isnan(heat[:, 100:200]).all()
    np.testing.assert_allclose(heat[:, 200:], 5.0, atol=1e-6)
    overlap = plan_tiles(224, 300, 224)  # boxes at x = 0 and x = 76: they share columns 76..223
    heat, _ = paint_heatmap((224, 300), overlap, _const_maps(1.0, 5.0), max_side=512)
    np.testing.assert_allclose(heat[:, :76], 1.0, atol=1e-6)
    np.testing.assert_allclose(heat[:, 76:224], 3.0, atol=1e-6)
    np.testing.assert_allclose(heat[:, 224:], 5.0, atol=1e-6)
    small = plan_tiles(100, 120, 224)  # resize: the centre square only
    heat, _ = paint_heatmap((100, 120), small, _const_maps(2.0), max_side=512)
    assert np.isnan(heat[:, :10]).all() and np.isnan(heat[:, 110:]).all()
    np.testing.assert_allclose(heat[:, 10:110], 2.0, atol=1e-6)


def test_paint_heatmap_keeps_a_gradient_in_place() -> None:
    """A map rising left to right within its tile stays rising, and the left tile stays on the left."""
    ramp = np.tile(np.linspace(0, 1, 7, dtype=np.float32), (7, 1))
    heat, _ = paint_heatmap((224, 448), plan_tiles(224, 448, 224), np.stack([ramp, ramp + 10]), max_side=448)
    row = heat[100]
    assert (np.diff(row[:224]) >= -1e-6).all() and (np.diff(row[224:]) >= -1e-6).all()
    assert row[:224].max() <= 1.0 + 1e-6 and row[224:].min() >= 10.0 - 1e-6


def test_upsample_heatmap_keeps_nan_outside_and_values_inside() -> None:
    heat = np.full((50, 100), np.nan, dtype=np.float32)
    heat[:, :40] = 2.0
    heat[:, 60:] = 7.0
    up = upsample_heatmap(heat, (200, 400))
    assert up.shape == (200, 400)
    finite = np.isfinite(up)
    # the covered columns stay covered, the hole stays a hole (give or take one pixel at the edges)
    assert finite[:, :158].all() and finite[:, 242:].all()
    assert (~finite[:, 162:238]).all()
    # values are renormalised by the coverage: no blending towards 0 next to the hole
    np.testing.assert_allclose(up[:, :158], 2.0, atol=1e-5)
    np.testing.assert_allclose(up[:, 242:], 7.0, atol=1e-5)
    assert upsample_heatmap(heat, (50, 100)) is heat


# ----------------------------------------------------------------- verdict rules
@pytest.mark.parametrize(("verdicts", "expected"), [
    ([], None),
    ([None], None),
    ([None, None], None),
    (["fake"], "fake"),
    (["real"], "real"),
    (["inconclusive"], "inconclusive"),
    (["fake", "fake"], "fake"),
    (["real", "real"], "real"),
    (["fake", "real"], "inconclusive"),  # detectors disagree
    (["real", "fake"], "inconclusive"),
    (["real", None, "fake"], "inconclusive"),
    (["fake", "inconclusive"], "fake"),  # the lead decides when nobody says the opposite
    (["inconclusive", "fake"], "inconclusive"),
    (["real", "inconclusive"], "real"),
    ([None, "real"], "real"),  # a random-weight lead has no say: the next detector leads
    ([None, "fake", "inconclusive"], "fake"),
    (["inconclusive", "real", "fake"], "inconclusive"),
])
def test_track_verdict(verdicts: list, expected: str | None) -> None:
    assert track_verdict(verdicts) == expected


@pytest.mark.parametrize(("verdicts", "expected"), [
    ([], None),
    ([None, None], None),
    (["fake"], "fake"),
    (["real"], "real"),
    (["fake", "real"], "fake"),  # a real picture with a cloned voice is a fake
    (["real", "fake"], "fake"),
    (["inconclusive", "fake"], "fake"),
    (["real", "real"], "real"),
    (["real", "inconclusive"], "inconclusive"),
    (["inconclusive", "inconclusive"], "inconclusive"),
    (["real", None], "real"),  # an unscored track does not block a verdict
    ([None, "fake"], "fake"),
    ([None, "inconclusive"], "inconclusive"),
])
def test_fuse_verdicts(verdicts: list, expected: str | None) -> None:
    assert fuse_verdicts(verdicts) == expected


# ----------------------------------------------------------------- calibration
@pytest.fixture(scope="module")
def whisper_detector():
    from deepfake_gui.probes.detector import Detector

    # the previous telephone detector: it carries a scan calibration for 2 s / 0.5 s logsumexp windows
    return Detector.load(MODELS / "examples" / "audio-whisper-telephone")


def test_shipped_audio_detector_scores_the_whole_file_mean_its_held_out_calibration_was_fitted_for() -> None:
    from deepfake_gui.probes.detector import Detector

    shipped = Detector.load(MODELS / "audio-whisper")
    assert "held-out" in shipped.meta["calibration"]["fitted_on"]
    assert shipped.meta["scan_aggregation"]["audio"] == "mean"
    assert shipped.aggregation_for("audio", "logsumexp", 2.0, 0.5) == "mean"  # no calibration for logsumexp
    assert shipped.aggregation_for("audio", "mean", 2.0, 0.5) == "mean"
    old = Detector.load(MODELS / "examples" / "audio-whisper-telephone")
    assert old.aggregation_for("audio", "logsumexp", 2.0, 0.5) == "logsumexp"  # it has its own calibration
    assert old.aggregation_for("audio", "max", 2.0, 0.5) == "max"  # nothing preferred: as asked
    lo, hi = shipped.meta["inconclusive_band"]
    assert lo <= shipped.meta["threshold"] <= hi
    sel = shipped.meta["selective"]
    assert sel["accuracy_committed"] >= 0.95 and sel["false_accusation"] <= 0.05


def _platt(a: float, b: float, x: float) -> float:
    return 1.0 / (1.0 + math.exp(-(a * x + b)))


def test_mean_aggregation_uses_the_file_calibration(whisper_detector) -> None:
    meta = whisper_detector.meta
    cal = whisper_detector.calibration_for("audio", 2.0, 0.5, "mean")
    assert cal == whisper_detector.file_calibration
    assert cal.source == "file"
    assert cal.threshold == meta["threshold"]
    assert cal.band == tuple(meta["inconclusive_band"])
    assert (cal.platt.a, cal.platt.b) == (meta["calibration"]["a"], meta["calibration"]["b"])
    assert whisper_detector.calibration_for("audio", aggregation="mean") == cal  # no window needed
    assert float(cal.probability(np.array([0.3]))[0]) == pytest.approx(
        _platt(meta["calibration"]["a"], meta["calibration"]["b"], 0.3), abs=1e-12)


def test_scan_calibration_matched_by_window_hop_and_aggregation(whisper_detector) -> None:
    entries = [e for e in whisper_detector.meta.get("scan_calibration") or [] if e.get("track") == "audio"]
    assert entries, "the shipped audio-whisper bundle has an audio scan calibration"
    entry = entries[0]
    window, hop, agg = float(entry["window_s"]), float(entry["hop_s"]), entry["aggregation"]
    assert agg != "mean"
    for w, h in [(window, hop), (window + 5e-7, hop - 5e-7), (window * 0.1 * 10, hop * 3 / 3)]:
        cal = whisper_detector.calibration_for("audio", w, h, agg)
        assert cal is not None
        assert (cal.platt.a, cal.platt.b) == (entry["a"], entry["b"])
        assert cal.threshold == entry["threshold"]
        assert cal.band == tuple(entry["inconclusive_band"])
        assert cal.source == f"audio {w:g} s windows, {h:g} s hop, {agg}"
        assert cal != whisper_detector.file_calibration
    assert whisper_detector.calibration_for("audio", window + 1e-3, hop, agg) is None
    assert whisper_detector.calibration_for("audio", window, hop + 1e-3, agg) is None
    assert whisper_detector.calibration_for("audio", window, hop, "max") is None
    assert whisper_detector.calibration_for("frames", window, hop, agg) is None
    assert whisper_detector.calibration_for("audio", None, None, agg) is None


def test_scan_calibration_picks_the_matching_entry_among_several(whisper_detector) -> None:
    from deepfake_gui.probes.detector import Detector

    detector = Detector(whisper_detector.bundle)
    detector.meta = copy.deepcopy(whisper_detector.meta)
    extra = {"track": "audio", "window_s": 4.0, "hop_s": 1.0, "aggregation": "max", "a": 2.0, "b": -1.0,
             "threshold": 0.6, "inconclusive_band": [0.4, 0.6]}
    detector.meta["scan_calibration"] = [*detector.meta.get("scan_calibration", []), extra]
    cal = detector.calibration_for("audio", 4.0, 1.0, "max")
    assert cal is not None and (cal.platt.a, cal.platt.b, cal.threshold, cal.band) == (2.0, -1.0, 0.6, (0.4, 0.6))
    assert cal.source == "audio 4 s windows, 1 s hop, max"
    assert detector.calibration_for("audio", 4.0, 1.0, "logsumexp") is None
    assert detector.calibration_for("audio", 2.0, 0.5, "max") is None
    assert float(cal.probability(np.array([0.5]))[0]) == pytest.approx(0.5)  # 2 * 0.5 - 1 = 0


def test_calibration_verdict_band(whisper_detector) -> None:
    for cal in (whisper_detector.file_calibration, whisper_detector.calibration_for("audio", 2.0, 0.5, "logsumexp")):
        lo, hi = cal.band
        assert 0.0 < lo < hi < 1.0
        assert cal.verdict(hi) == "fake"  # the upper edge already calls it
        assert cal.verdict(hi + 1e-9) == "fake"
        assert cal.verdict(0.999) == "fake"
        assert cal.verdict((lo + hi) / 2) == "inconclusive"
        assert cal.verdict(lo) == "inconclusive"
        assert cal.verdict(hi - 1e-9) == "inconclusive"
        assert cal.verdict(lo - 1e-9) == "real"
        assert cal.verdict(0.001) == "real"
        assert cal.verdict(np.float32(0.999)) == "fake"


# ----------------------------------------------------------------- short-clip caveat
def _audio_score(track: str = "audio", trained_min: float | None = None) -> TrackScore:
    facts = {} if trained_min is None else {"trained_min_duration_s": trained_min}
    return TrackScore("d", track, 0.0, 0.5, None, np.zeros((1, 2), np.float32), "logsumexp", facts=facts)


@pytest.mark.parametrize(("duration", "window", "trained", "fires"), [
    (0.4, 2.0, [], True),  # no training minimum known: one second of speech is the floor
    (0.4, 2.0, [1.0], True),
    (0.99, 2.0, [1.0], True),
    (1.0, 2.0, [1.0], False),  # as long as the shortest training clip
    (0.4, 2.0, [0.5, 1.0], True),  # the shortest detector's minimum counts
    (0.7, 2.0, [0.5, 1.0], False),  # one detector was trained on shorter clips than this
    (0.4, 0.3, [1.0], False),  # not shorter than the window: scored like any clip
    (2.0, 2.0, [], False),
    (1.5, 2.0, [3.0], False),  # README: only clips under one second are too short to judge
    (0.9, 2.0, [3.0], True),
    (0.4, 2.0, [None, 0.0], True),  # unknown minima are ignored
])
def test_short_clip_caveat(duration: float, window: float, trained: list, fires: bool) -> None:
    scores = [_audio_score(trained_min=t) for t in trained]
    out = short_clip_caveats(duration, window, scores)
    assert bool(out) == fires
    if fires:
        floor = min([t for t in trained if t] or [1.0])
        (text,) = out
        assert f"the clip is {duration:.2f} s long" in text
        assert f"too short for a {window:g} s window" in text
        assert f"shorter than the {floor:g} s clips" in text


def test_short_clip_caveat_ignores_non_audio_tracks() -> None:
    frames = _audio_score("frames", trained_min=0.1)  # an image detector's minimum says nothing about audio
    assert short_clip_caveats(0.4, 2.0, [frames]) != []
    assert "1 s clips" in short_clip_caveats(0.4, 2.0, [frames])[0]
