"""ExplorerModel without Qt: the request a Compute builds, how results fold in, what the labels say."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_gui.core.jobs import Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.explore import (
    Clusters,
    EmbeddingSet,
    EncoderChoice,
    ExploreRequest,
    FailedFile,
    Projection,
    cluster_job,
    embedding_job,
    tsne_job,
)
from deepfake_gui.gui.models.common import VERDICT_COLORS, Status
from deepfake_gui.gui.models.embeddings import NONE_COLOR, PALETTE, ExplorerModel
from gui_models.stand_ins import Handle

ENCODERS = [EncoderChoice("test-efficientnet", "image", True), EncoderChoice("test-whisper", "audio", True)]
BATCH = [("/b/a.png", "fake"), ("/b/b.png", "real"), ("/b/c.png", "inconclusive"), ("/b/d.png", None)]
REFERENCE = [("/r/real0.png", "real"), ("/r/real1.png", "real"), ("/r/gan0.png", "gan")]


def results() -> list[ScanResult]:
    out = [ScanResult(p, modality="image", verdict=v,
                      attribution=[{"class": "gan", "probability": 0.8}] if v == "fake" else [])
           for p, v in BATCH]
    return [*out, ScanResult("/b/broken.png", status="error", error="unreadable")]


def embedding_set(separation: list[float] | None = (0.5, 0.9, 0.7)) -> EmbeddingSet:
    n_layers, paths = 3, [p for p, _ in BATCH] + [p for p, _ in REFERENCE]
    rng = np.random.default_rng(0)
    pca = [rng.normal(size=(len(paths), 2)).astype(np.float32) for _ in range(n_layers)]
    return EmbeddingSet(
        encoder="test-efficientnet", modality="image", layer_names=["stem", "mid", "head"], random_init=True,
        paths=paths, is_reference=np.array([False] * len(BATCH) + [True] * len(REFERENCE)),
        generators=[None] * len(BATCH) + [g for _, g in REFERENCE],
        features=[rng.normal(size=(len(paths), 4)).astype(np.float32) for _ in range(n_layers)], pca=pca,
        separation=None if separation is None else np.array(separation), separation_note="grouped CV AUC",
        failed=[FailedFile("/b/e.wav", "test-efficientnet takes image files only")], reference="/r", cached=2)


def computed(model: ExplorerModel, s: EmbeddingSet | None = None):
    """Compute, submit (as the view does), feed the engine's set; returns the job and the set."""
    job = model.compute()
    (submitted,) = model.take_queued()
    assert submitted is job
    job.handle = Handle()
    s = s or embedding_set()
    model.job_started()
    model.job_result(job, s)
    return job, s


@pytest.fixture
def model() -> ExplorerModel:
    m = ExplorerModel(device="cpu", seed=3, reference_limit=50, encoders=ENCODERS)
    m.set_batch(results())
    return m


def test_before_compute_the_model_says_what_to_do(model: ExplorerModel) -> None:
    fresh = ExplorerModel(encoders=ENCODERS)
    assert fresh.status.text == "Set a batch, pick an encoder and press Compute." and not fresh.status.error
    assert fresh.bar.maximum == 1 and fresh.bar.value == 0 and fresh.bar.text == ""
    assert not fresh.cancel_enabled and not fresh.slider_enabled and fresh.layer_text == "layer —"
    assert model.status.text == "4 file(s) in the batch (1 unreadable left out): press Compute."
    assert model.encoder == "test-efficientnet"  # the batch is pictures: the image encoder
    assert model.encoder_items() == [("test-efficientnet (image, random weights)", "test-efficientnet"),
                                     ("test-whisper (audio, random weights)", "test-whisper")]
    assert model.map_points() is None and model.legend_entries == [] and model.reference_text == "no reference set"


def test_compute_builds_the_request_from_the_choices(model: ExplorerModel) -> None:
    model.set_reference("/data/labelled")
    assert model.take_queued() == []  # no map yet: choosing a reference set does not compute
    job = model.compute()
    assert job.kind == "embed" and job.factory.func is embedding_job
    assert job.factory.args == (ExploreRequest(["/b/a.png", "/b/b.png", "/b/c.png", "/b/d.png"], "test-efficientnet",
                                               "cpu", "/data/labelled", 50, 3),)
    assert model.status.text == "Computing test-efficientnet features of 4 file(s) and the reference set…"
    assert model.bar.maximum == 0 and model.bar.text == "starting…" and model.cancel_enabled
    assert model.reference_text == "labelled"


def test_compute_refuses_without_an_encoder_or_files() -> None:
    none = ExplorerModel(encoders=[])
    assert none.status.text.startswith("Set a batch")
    assert none.compute() is None and none.status.error
    assert none.status.text == "No encoder to compute with: no weights are on this machine."
    empty = ExplorerModel(encoders=ENCODERS)
    assert empty.compute() is None and empty.status.text.startswith("Nothing to map")
    with pytest.raises(ValueError, match="not available"):
        empty.pick_encoder("clip")


def test_a_set_folds_in_at_its_best_layer_and_the_compute_ends_ready(model: ExplorerModel) -> None:
    job, s = computed(model)
    assert model.embedding_set is s and model.layer == 1  # the best-separating layer
    assert model.layer_text == "2/3: mid · separation AUC 0.90 (best)" and model.slider_enabled
    assert model.problems == ["test-efficientnet takes image files only"]
    assert model.status.text == ("4 file(s) mapped with test-efficientnet; 3 reference item(s); 1 file(s) could not "
                                 "be embedded (listed below) (2 from the feature cache). Random weights: the map "
                                 "shows the architecture, not what pretraining learnt.")
    model.job_ended(job, False)
    assert model.jobs == [] and not model.cancel_enabled
    assert model.bar.maximum == 1 and model.bar.value == 1 and model.bar.text == "ready"
    assert model.status.text.startswith("Map ready in 0 s: 4 file(s) mapped with test-efficientnet")
    curve = model.separation_curve()
    assert curve.y.tolist() == [0.5, 0.9, 0.7] and curve.ticks == [(0, "stem"), (1, "mid"), (2, "head")]
    assert curve.y_range == (pytest.approx(0.4), 1.02) and curve.x_range == (-0.5, 2.5)


def test_verdict_colours_legend_and_selection(model: ExplorerModel) -> None:
    _, s = computed(model)
    points = model.map_points()
    np.testing.assert_array_equal(points.batch_xy, s.pca[1][:4])
    np.testing.assert_array_equal(points.reference_xy, s.pca[1][4:])
    assert points.batch_colors == [VERDICT_COLORS[v] for _, v in BATCH]
    assert points.reference_colors == [VERDICT_COLORS["real"]] * 2 + [VERDICT_COLORS["fake"]]
    assert points.legend == [("fake", VERDICT_COLORS["fake"]), ("real", VERDICT_COLORS["real"]),
                             ("inconclusive", VERDICT_COLORS["inconclusive"]), ("no verdict", VERDICT_COLORS[None]),
                             ("reference: fake", VERDICT_COLORS["fake"]), ("reference: real", VERDICT_COLORS["real"])]
    html = model.legend_html()
    assert "rgba(198,40,40,1.00)'>●</span> fake" in html and "rgba(46,125,50,0.35)'>●</span> reference: real" in html
    model.select_path("/b/c.png")
    assert model.selection_xy() == (pytest.approx(s.pca[1][2, 0]), pytest.approx(s.pca[1][2, 1]))
    model.select_path("/r/gan0.png")  # a reference item is never ringed
    assert model.selection_xy() is None
    assert model.hover_text(["/b/a.png"], reference=False) == "a.png"
    assert model.hover_text(["/r/gan0.png"], reference=True) == "reference · gan · gan0.png"
    assert model.hover_text([f"/b/{i}.png" for i in range(6)], False).endswith("3.png\n… and 2 more")


def test_attribution_colours_share_the_generator_palette(model: ExplorerModel) -> None:
    computed(model)
    model.set_color_by("attribution")
    points = model.map_points()
    assert points.batch_colors == [PALETTE[0], NONE_COLOR, NONE_COLOR, NONE_COLOR]  # a.png: closest to "gan"
    assert points.reference_colors == [VERDICT_COLORS["real"]] * 2 + [PALETTE[0]]
    assert ("gan", PALETTE[0]) in points.legend and ("no attribution", NONE_COLOR) in points.legend


def test_tsne_is_queued_for_the_layer_shown_and_a_new_layer_cancels_the_stale_one(model: ExplorerModel) -> None:
    embed, s = computed(model)
    model.job_ended(embed, False)
    model.set_projection("tsne")
    (tsne,) = model.take_queued()
    tsne.handle = Handle()
    assert tsne.kind == "tsne" and tsne.factory.func is tsne_job and tsne.factory.args == (s, 1, 3)
    assert model.shown_method == "pca" and model.bar.text == "t-SNE of layer mid…"
    assert model.status.text.startswith("t-SNE of layer mid is computing: PCA preview shown. ")
    assert model.set_layer(2)
    assert tsne.handle.cancelled and tsne.cancelled
    (next_tsne,) = model.take_queued()
    assert next_tsne.factory.args == (s, 2, 3)
    xy = np.ones((len(s.paths), 2), np.float32)
    model.job_result(tsne, Projection(1, "tsne", xy))  # the cancelled one still answers: kept for layer 1
    assert model.shown_method == "pca" and 1 in model.tsne
    model.job_result(next_tsne, Projection(2, "tsne", 2 * xy))
    assert model.shown_method == "tsne"
    np.testing.assert_array_equal(model.map_points().batch_xy, 2 * xy[:4])
    model.job_ended(tsne, True)
    model.job_ended(next_tsne, False)
    assert model.jobs == [] and model.bar.text == "ready"
    assert model.set_layer(1) and model.take_queued() == []  # its t-SNE is kept: no new job


def test_clusters_need_three_files_and_colour_the_batch(model: ExplorerModel) -> None:
    _, s = computed(model)
    model.set_color_by("cluster")
    (job,) = model.take_queued()
    assert job.factory.func is cluster_job and job.factory.args == (s, 1, 3)
    assert model.legend_entries == [("clusters: computing…", NONE_COLOR)]
    model.job_result(job, Clusters(1, np.array([0, 1, 1, 0]), 2, 0.4))
    assert model.map_points().batch_colors == [PALETTE[0], PALETTE[1], PALETTE[1], PALETTE[0]]
    assert [label for label, _ in model.legend_entries] == ["cluster 1", "cluster 2", "reference (not clustered)"]
    other = ExplorerModel(encoders=ENCODERS)
    other.set_batch(results()[:2])
    computed(other, _two_file_set())
    other.set_color_by("cluster")
    assert other.take_queued() == [] and other.status == Status("Clusters need at least 3 mapped batch files.", True)


def _two_file_set() -> EmbeddingSet:
    s = embedding_set()
    s.is_reference = np.array([False, False, True, True, True, True, True])
    return s


def test_progress_cancel_failure_and_a_batch_that_no_longer_fits(model: ExplorerModel) -> None:
    embed, s = computed(model)
    model.job_progress(Progress(1, 4, "encoding"))
    assert model.bar.maximum == 1000 and model.bar.value == 250 and model.bar.text == "encoding"
    model.job_progress(Progress(0, None, "loading"))
    assert model.bar.maximum == 0 and model.bar.text == "loading"
    model.job_ended(embed, False)
    second = model.compute()
    model.take_queued()
    second.handle = Handle()
    model.cancel()
    assert second.handle.cancelled and model.bar.text == "Cancelling…"
    model.job_ended(second, True)
    assert model.status.text == "Cancelled; the map shown is the previous one." and model.embedding_set is s
    third = model.compute()
    model.take_queued()
    model.job_failed(third, "RuntimeError: boom")
    assert model.problems[-1] == "Computing the map failed: RuntimeError: boom"
    assert model.status.text == "Computing the map failed: RuntimeError: boom" and model.status.error
    model.set_batch([ScanResult("/other.png", modality="image")])  # the old map no longer fits
    assert model.embedding_set is None and model.map_points() is None and model.layer_text == "layer —"


def test_the_user_picked_encoder_is_kept_and_a_change_is_announced(model: ExplorerModel) -> None:
    computed(model)
    model.pick_encoder("test-whisper")
    assert model.status.text == "Encoder changed to test-whisper: press Compute to map with it."
    model.set_batch(results())
    assert model.encoder == "test-whisper"  # not replaced by the batch's default any more
    model.encoders_failed("no registry")
    assert model.encoder is None and model.encoder_items() == []
    assert model.status.text == "Could not list the encoders: no registry" and model.status.error
