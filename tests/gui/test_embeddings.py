"""The embedding explorer on a real engine thread: what it plots is exactly what the engine computed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_gui.analysis.projection import project
from deepfake_gui.core.jobs import CancelToken
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explore import EmbeddingSet, Projection
from deepfake_gui.gui.views.common import VERDICT_COLORS
from deepfake_gui.gui.views.embeddings import REFERENCE_ALPHA, EmbeddingExplorer
from deepfake_gui.gui.worker import EngineThread

pytest.importorskip("pytestqt")

VERDICTS = ["fake", "real", "inconclusive", None, "fake"]
TIMEOUT = 60_000


def smooth_image(path: Path, seed: int) -> Path:
    level = np.random.default_rng(seed).uniform(100, 150)
    img = level + 40 * np.linspace(0, 1, 40)[:, None, None] * np.ones((1, 40, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def noise_image(path: Path, seed: int) -> Path:
    Image.fromarray((np.random.default_rng(1000 + seed).random((40, 40, 3)) * 255).astype(np.uint8)).save(path)
    return path


def make_reference(root: Path, n: int = 5) -> Path:
    """real/ (smooth pictures) and fake/gen_a/ (noise)."""
    (root / "real").mkdir(parents=True)
    (root / "fake" / "gen_a").mkdir(parents=True)
    for i in range(n):
        smooth_image(root / "real" / f"r{i}.png", i)
        noise_image(root / "fake" / "gen_a" / f"f{i}.png", i)
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    import media_factory

    folder = tmp_path_factory.mktemp("explorer")
    images = [(noise_image if i % 2 else smooth_image)(folder / f"pic{i}.png", 70 + i) for i in range(5)]
    wav = media_factory.write_mono_wav(folder / "voice.wav", media_factory.tone(16000, 1.0, 1)[0], 16000)
    return {"images": images, "wav": wav, "reference": make_reference(folder / "labelled")}


def batch_results(files: dict[str, object]) -> list[ScanResult]:
    results = []
    for path, verdict in zip(files["images"], VERDICTS, strict=True):  # type: ignore[arg-type]
        attribution = [{"class": "gen_a", "probability": 0.8, "detector": "d"}] if verdict == "fake" else []
        results.append(ScanResult(str(path), modality="image", verdict=verdict, attribution=attribution))
    results.append(ScanResult(str(files["wav"]), modality="audio", verdict="real"))
    results.append(ScanResult("/nowhere/broken.png", status="error", error="unreadable"))
    return results


@pytest.fixture
def engine() -> Iterator[EngineThread]:
    engine = EngineThread()
    yield engine
    assert engine.stop()


@pytest.fixture
def explorer(qtbot, engine: EngineThread, files: dict[str, object]) -> EmbeddingExplorer:
    widget = EmbeddingExplorer(engine)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    qtbot.waitUntil(lambda: widget.encoder_combo.findData("test-efficientnet") >= 0, timeout=TIMEOUT)
    widget.set_batch(batch_results(files))
    widget.set_encoder("test-efficientnet")
    widget.set_reference(str(files["reference"]))
    widget.compute()
    qtbot.waitUntil(lambda: widget.embedding_set is not None and not widget._jobs, timeout=TIMEOUT)
    return widget


def xy_of(item) -> np.ndarray:
    x, y = item.getData()
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])


def test_compute_plots_exactly_the_batch_points_at_the_engines_coordinates(explorer, files) -> None:
    s: EmbeddingSet = explorer.embedding_set
    images = [str(p) for p in files["images"]]
    assert s.batch_paths == images  # the wav went to an image encoder: listed, not plotted; errors left out
    assert list(explorer.batch_scatter.data["data"]) == images
    layer = explorer.current_layer()
    assert layer == s.best_layer  # the map opens on the layer that separates the reference set best
    np.testing.assert_allclose(explorer.displayed_coordinates(), s.pca[layer][s.batch_index], rtol=0, atol=0)
    assert any("test-efficientnet takes image files only" in p for p in explorer.problems)
    assert explorer.problems_list.count() == len(explorer.problems)
    assert "separation AUC" in explorer.layer_label.text()
    _, sep_y = explorer.separation_curve.getData()
    np.testing.assert_allclose(sep_y, s.separation)
    assert explorer.separation_marker.value() == layer


def test_layer_slider_redraws_from_that_layers_pca(qtbot, explorer) -> None:
    s: EmbeddingSet = explorer.embedding_set
    start = explorer.current_layer()
    for layer in [i for i in range(s.n_layers) if i != start] + [start]:
        with qtbot.waitSignal(explorer.layer_changed) as changed:
            explorer.layer_slider.setValue(layer)
        assert changed.args == [layer]
        np.testing.assert_array_equal(xy_of(explorer.batch_scatter), s.pca[layer][s.batch_index])
        np.testing.assert_array_equal(xy_of(explorer.reference_scatter), s.pca[layer][s.reference_index])
        assert s.layer_names[layer] in explorer.layer_label.text()
        assert explorer.separation_marker.value() == layer
    assert not explorer._jobs  # PCA needs no job


def test_verdict_colours_and_faint_reference_points(explorer) -> None:
    explorer.set_color_by("verdict")
    brushes = [spot.brush().color() for spot in explorer.batch_scatter.points()]
    assert [b.name() for b in brushes] == [VERDICT_COLORS[v] for v in VERDICTS]
    assert all(b.alpha() == 255 for b in brushes)
    s: EmbeddingSet = explorer.embedding_set
    ref_spots = explorer.reference_scatter.points()
    assert len(ref_spots) == len(s.reference_index) == 10
    expected = [VERDICT_COLORS["real" if s.generators[i] == "real" else "fake"] for i in s.reference_index]
    assert [spot.brush().color().name() for spot in ref_spots] == expected
    assert all(spot.brush().color().alpha() == REFERENCE_ALPHA for spot in ref_spots)
    assert all(spot.size() < explorer.batch_scatter.points()[0].size() for spot in ref_spots)
    assert ("fake", VERDICT_COLORS["fake"]) in explorer.legend_entries
    assert ("reference: real", VERDICT_COLORS["real"]) in explorer.legend_entries


def test_attribution_colours_share_the_generator_palette(explorer) -> None:
    explorer.set_color_by("attribution")
    s: EmbeddingSet = explorer.embedding_set
    batch = [spot.brush().color().name() for spot in explorer.batch_scatter.points()]
    ref = {s.generators[i]: spot.brush().color().name()
           for i, spot in zip(s.reference_index, explorer.reference_scatter.points(), strict=True)}
    assert batch[0] == batch[4] == ref["gen_a"]  # the fakes attributed to gen_a match the gen_a references
    assert batch[1] == VERDICT_COLORS[None]  # no attribution
    assert ref["real"] == VERDICT_COLORS["real"]


def test_click_emits_the_path_and_hover_names_the_file(qtbot, explorer, files) -> None:
    spots = explorer.batch_scatter.points()
    with qtbot.waitSignal(explorer.file_selected) as clicked:
        explorer._on_points_clicked(explorer.batch_scatter, [spots[2]], None)
    assert clicked.args == [str(files["images"][2])]
    np.testing.assert_array_equal(xy_of(explorer.selection_marker)[0], xy_of(explorer.batch_scatter)[2])
    explorer._on_points_hovered(explorer.batch_scatter, [spots[3]], None)
    assert explorer.hover_text.isVisible() and explorer.hover_text.textItem.toPlainText() == "pic3.png"
    explorer._on_points_hovered(explorer.batch_scatter, [], None)
    assert not explorer.hover_text.isVisible()
    ref_spot = explorer.reference_scatter.points()[0]
    explorer._on_points_hovered(explorer.reference_scatter, [ref_spot], None)
    assert explorer.hover_text.textItem.toPlainText().startswith("reference · ")
    with qtbot.assertNotEmitted(explorer.file_selected):
        explorer._on_points_clicked(explorer.batch_scatter, [], None)


def test_tsne_replaces_the_pca_preview_when_it_arrives(qtbot, explorer) -> None:
    s: EmbeddingSet = explorer.embedding_set
    layer = 1 if explorer.current_layer() != 1 else 2
    explorer.set_layer(layer)
    explorer.set_projection("tsne")
    assert explorer.shown_method == "pca"  # the preview, until the engine answers
    np.testing.assert_array_equal(xy_of(explorer.batch_scatter), s.pca[layer][s.batch_index])
    assert "PCA preview" in explorer.status_label.text()
    qtbot.waitUntil(lambda: explorer.shown_method == "tsne", timeout=TIMEOUT)
    tsne = project(s.features[layer], "tsne", 0)
    np.testing.assert_array_equal(explorer.tsne[layer], tsne)
    np.testing.assert_array_equal(xy_of(explorer.batch_scatter), tsne[s.batch_index])
    np.testing.assert_array_equal(xy_of(explorer.reference_scatter), tsne[s.reference_index])
    other = 0 if layer != 0 else 3
    explorer.set_layer(other)  # a layer with no t-SNE yet: its PCA at once, its t-SNE queued
    np.testing.assert_array_equal(xy_of(explorer.batch_scatter), s.pca[other][s.batch_index])
    qtbot.waitUntil(lambda: other in explorer.tsne and not explorer._jobs, timeout=TIMEOUT)
    explorer.set_layer(layer)  # back: the cached t-SNE, no new job
    assert not explorer._jobs and explorer.shown_method == "tsne"
    np.testing.assert_array_equal(xy_of(explorer.batch_scatter), tsne[s.batch_index])


def test_cluster_colouring_arrives_from_the_engine(qtbot, explorer) -> None:
    explorer.set_color_by("cluster")
    layer = explorer.current_layer()
    qtbot.waitUntil(lambda: layer in explorer.clusters and not explorer._jobs, timeout=TIMEOUT)
    clusters = explorer.clusters[layer]
    colours = [spot.brush().color().name() for spot in explorer.batch_scatter.points()]
    assert len(set(colours)) == clusters.k
    assert [label for label, _ in explorer.legend_entries][: clusters.k] == [f"cluster {i + 1}"
                                                                            for i in range(clusters.k)]


def test_other_jobs_on_the_shared_engine_are_ignored(qtbot, explorer, engine) -> None:
    s: EmbeddingSet = explorer.embedding_set
    before = xy_of(explorer.batch_scatter)

    def foreign(_cancel: CancelToken):
        yield Projection(explorer.current_layer(), "tsne", np.zeros((len(s.paths), 2), np.float32))

    job = engine.submit(foreign, "other")
    qtbot.waitUntil(lambda: engine.current_job_id is None and job.done, timeout=TIMEOUT)
    qtbot.wait(50)
    assert explorer.tsne == {} and explorer.embedding_set is s
    np.testing.assert_array_equal(xy_of(explorer.batch_scatter), before)


def test_a_failed_compute_is_reported_in_the_status_line(qtbot, engine, files) -> None:
    from deepfake_gui.engine.explore import EncoderChoice

    widget = EmbeddingExplorer(engine, encoders=[EncoderChoice("test-whisper", "audio", True)])
    qtbot.addWidget(widget)
    widget.set_batch([ScanResult(str(p), modality="image") for p in files["images"][:2]])
    assert widget.encoder() == "test-whisper"
    widget.compute()
    qtbot.waitUntil(lambda: not widget._jobs, timeout=TIMEOUT)
    assert widget.embedding_set is None
    assert "at least 3 files" in widget.status_label.text()
    assert widget.problems and "this is an image file" in widget.problems[0]


def test_default_encoder_follows_the_batch_modality(qtbot, engine) -> None:
    from deepfake_gui.engine.explore import EncoderChoice

    choices = [EncoderChoice("test-efficientnet", "image", True), EncoderChoice("test-whisper", "audio", True)]
    widget = EmbeddingExplorer(engine, encoders=choices)
    qtbot.addWidget(widget)
    widget.set_batch([ScanResult(f"/x/{i}.wav", modality="audio") for i in range(2)]
                     + [ScanResult("/x/a.png", modality="image")])
    assert widget.encoder() == "test-whisper"
    widget.set_batch([ScanResult(f"/x/{i}.png", modality="image") for i in range(2)])
    assert widget.encoder() == "test-efficientnet"
    assert "random weights" in widget.encoder_combo.currentText()
    assert Path(widget.reference_label.text()).name == "no reference set"


def test_a_grown_batch_keeps_the_map_and_says_what_is_new(explorer, files, tmp_path) -> None:
    s = explorer.embedding_set
    extra = ScanResult(str(smooth_image(tmp_path / "late.png", 9)), modality="image", verdict="real")
    explorer.set_batch([*batch_results(files), extra])
    assert explorer.embedding_set is s and len(explorer.batch_scatter.points()) == len(s.batch_index)
    assert "1 new file(s) in the batch not mapped yet" in explorer.status_label.text()
    explorer.set_batch([extra])  # a different batch: the old map no longer fits
    assert explorer.embedding_set is None and len(explorer.batch_scatter.points()) == 0


def test_users_are_not_offered_test_encoders_and_see_what_to_do_before_compute(qtbot, monkeypatch, engine) -> None:
    """Issue 22: no random-weight test-* encoders in the choices; an empty state instead of empty axes."""
    from deepfake_gui.engine.explore import EncoderChoice
    from deepfake_gui.gui.views.common import TEST_ENCODERS_ENV, offered_encoders
    from deepfake_gui.gui.views.embeddings import EmbeddingExplorer

    choices = [EncoderChoice("efficientnet-lite0", "image", False), EncoderChoice("test-efficientnet", "image", True),
               EncoderChoice("test-whisper", "audio", True)]
    monkeypatch.delenv(TEST_ENCODERS_ENV, raising=False)
    assert [c.name for c in offered_encoders(choices)] == ["efficientnet-lite0"]
    monkeypatch.setenv(TEST_ENCODERS_ENV, "1")
    assert len(offered_encoders(choices)) == 3
    monkeypatch.delenv(TEST_ENCODERS_ENV)
    widget = EmbeddingExplorer(engine, encoders=choices[:1])
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    widget._on_encoders(choices)  # what the background encoder listing delivers
    assert [widget.encoder_combo.itemData(i) for i in range(widget.encoder_combo.count())] == ["efficientnet-lite0"]
    assert widget.plot_stack.currentWidget() is widget.empty_label and "press Compute" in widget.empty_label.text()
    assert not widget.separation_plot.isVisible()


def test_compute_shows_progress_offers_cancel_and_says_when_the_map_is_ready(qtbot, engine, files) -> None:
    """Issue 22 item 3: a job over a second has a busy bar, a Cancel, and a message when it ends."""
    import re

    from deepfake_gui.engine.explore import EncoderChoice

    widget = EmbeddingExplorer(engine, encoders=[EncoderChoice("test-efficientnet", "image", True)])
    qtbot.addWidget(widget)
    widget.set_batch(batch_results(files))
    assert not widget.cancel_button.isEnabled()
    assert widget.compute() is not None
    assert widget.cancel_button.isEnabled() and widget.progress_bar.maximum() == 0
    assert widget.status_label.text().startswith("Computing test-efficientnet features of 6 file(s)")
    qtbot.waitUntil(lambda: not widget._jobs, timeout=TIMEOUT)
    status = widget.status_label.text()
    assert re.fullmatch(r"Map ready in \d+ s: 5 file\(s\) mapped with test-efficientnet; .*", status), status
    assert widget.progress_bar.format() == "ready" and not widget.cancel_button.isEnabled()

    shown = widget.embedding_set
    widget.compute()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget._jobs, timeout=TIMEOUT)
    assert widget.status_label.text() == "Cancelled; the map shown is the previous one."
    assert widget.embedding_set is shown and not widget.cancel_button.isEnabled()
