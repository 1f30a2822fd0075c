"""The embedding explorer's jobs: real features of generated files, with a labelled reference set."""

from __future__ import annotations

from pathlib import Path

import media_factory
import numpy as np
import pytest
from PIL import Image

from deepfake_gui.analysis.projection import project
from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import Cancelled, CancelToken, Progress
from deepfake_gui.engine.explore import (
    SEPARATION_METHOD,
    Clusters,
    EmbeddingSet,
    ExploreRequest,
    Projection,
    available_encoders,
    cluster_job,
    default_encoder_for,
    embedding_job,
    majority_modality,
    sample_reference,
    tsne_job,
)
from deepfake_gui.probes.dataset import LabeledSet

N_REF_EACH = 5


def smooth_image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    img = rng.uniform(100, 150) + 40 * np.linspace(0, 1, 40)[:, None, None] * np.ones((1, 40, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def noise_image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(1000 + seed)
    Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(path)
    return path


def make_reference(root: Path) -> Path:
    """real/ (smooth pictures) and fake/gen_a/ (noise): easy to tell apart on some layer."""
    (root / "real").mkdir(parents=True)
    (root / "fake" / "gen_a").mkdir(parents=True)
    for i in range(N_REF_EACH):
        smooth_image(root / "real" / f"r{i}.png", i)
        noise_image(root / "fake" / "gen_a" / f"f{i}.png", i)
    return root


def make_batch(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"img{i}": (smooth_image if i % 2 else noise_image)(folder / f"img{i}.png", 50 + i) for i in range(4)}
    files["wav"] = media_factory.write_mono_wav(folder / "voice.wav", media_factory.tone(16000, 1.0, 1)[0], 16000)
    files["video"] = media_factory.write_video(folder / "clip.mp4")
    files["silent_video"] = media_factory.write_video(folder / "silent.mp4", with_audio=False)
    files["missing"] = folder / "missing.png"
    return files


def run(job) -> tuple[list[Progress], list[object]]:
    progress, results = [], []
    for event in job:
        (progress if isinstance(event, Progress) else results).append(event)
    return progress, results


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_batch(tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_reference(tmp_path_factory.mktemp("ref") / "labelled")


@pytest.fixture(scope="module")
def image_set(batch: dict[str, Path], reference: Path) -> EmbeddingSet:
    paths = [str(batch[k]) for k in ("img0", "img1", "wav", "img2", "video", "missing", "img3")]
    progress, results = run(embedding_job(ExploreRequest(paths, "test-efficientnet", "cpu", str(reference))))
    assert progress and all(isinstance(p, Progress) for p in progress)
    (result,) = results
    assert isinstance(result, EmbeddingSet)
    return result


def test_embedding_set_rows_layers_and_shapes(image_set: EmbeddingSet, batch: dict[str, Path]) -> None:
    s = image_set
    assert s.encoder == "test-efficientnet" and s.modality == "image" and s.random_init
    assert s.layer_names == ["stem", "stage1", "stage2", "head"]
    assert s.batch_paths == [str(batch[k]) for k in ("img0", "img1", "img2", "img3")]  # input order, failures out
    n = 4 + 2 * N_REF_EACH
    assert len(s.paths) == n and s.is_reference.tolist() == [False] * 4 + [True] * (2 * N_REF_EACH)
    assert s.generators[:4] == [None] * 4
    assert sorted(g for g in s.generators[4:] if g is not None) == ["gen_a"] * N_REF_EACH + ["real"] * N_REF_EACH
    assert len(s.features) == len(s.pca) == s.n_layers == 4
    for layer in range(s.n_layers):
        assert s.features[layer].dtype == np.float32 and s.features[layer].shape[0] == n
        assert s.pca[layer].shape == (n, 2) and s.pca[layer].dtype == np.float32
    assert [f.shape[1] for f in s.features] == [8, 8, 16, 32]


def test_pca_of_every_layer_is_the_projection_of_batch_and_reference_rows(image_set: EmbeddingSet) -> None:
    for layer in range(image_set.n_layers):
        np.testing.assert_array_equal(image_set.pca[layer], project(image_set.features[layer], "pca", 0))
    assert image_set.pca_errors == {}


def test_failed_batch_files_are_listed_with_the_reason(image_set: EmbeddingSet, batch: dict[str, Path]) -> None:
    failed = {Path(f.path).name: f.error for f in image_set.failed}
    assert set(failed) == {"voice.wav", "clip.mp4", "missing.png"}
    assert "test-efficientnet takes image files only" in failed["voice.wav"]
    assert failed["voice.wav"].endswith("this is an audio file")
    assert failed["clip.mp4"].endswith("this is a video file")
    assert "cannot read" in failed["missing.png"]
    assert image_set.reference_failed == []


def test_separation_per_layer_from_the_reference_labels(image_set: EmbeddingSet) -> None:
    sep = image_set.separation
    assert sep is not None and sep.shape == (4,)
    assert np.isfinite(sep).all() and ((sep >= 0) & (sep <= 1)).all()
    assert image_set.separation_note == SEPARATION_METHOD
    assert image_set.best_layer == int(np.argmax(sep))
    assert sep.max() > 0.9  # smooth pictures against noise separate on some layer, even with random weights


def test_no_reference_means_no_separation(batch: dict[str, Path]) -> None:
    paths = [str(batch[f"img{i}"]) for i in range(4)]
    (s,) = run(embedding_job(ExploreRequest(paths, "test-efficientnet", "cpu")))[1]
    assert s.separation is None and "no reference set" in s.separation_note
    assert not s.is_reference.any() and s.best_layer is None


def test_second_run_reads_the_feature_cache(batch: dict[str, Path], reference: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    request = ExploreRequest([str(batch[f"img{i}"]) for i in range(4)], "test-efficientnet", "cpu", str(reference))
    (first,) = run(embedding_job(request))[1]
    (second,) = run(embedding_job(request))[1]
    n = 4 + 2 * N_REF_EACH
    assert (first.cached, first.computed) == (0, n)
    assert (second.cached, second.computed) == (n, 0)
    for a, b in zip(first.features, second.features, strict=True):
        np.testing.assert_array_equal(a, b)


def test_audio_encoder_takes_sound_files_and_video_sound_tracks(batch: dict[str, Path]) -> None:
    paths = [str(batch[k]) for k in ("wav", "img0", "video", "silent_video")] + [str(batch["wav"])]
    with pytest.raises(LayerScopeError, match="at least 3 files"):
        run(embedding_job(ExploreRequest(paths[:4], "test-whisper", "cpu")))
    copy = Path(paths[0]).with_name("voice_copy.wav")
    copy.write_bytes(Path(paths[0]).read_bytes())
    (s,) = run(embedding_job(ExploreRequest(paths[:4] + [str(copy)], "test-whisper", "cpu")))[1]
    assert [Path(p).name for p in s.batch_paths] == ["voice.wav", "clip.mp4", "voice_copy.wav"]
    failed = {Path(f.path).name: f.error for f in s.failed}
    assert failed["img0.png"].endswith("takes audio files and the sound track of videos; this is an image file")
    assert "this video has none" in failed["silent.mp4"]


def test_tsne_job_maps_every_row(image_set: EmbeddingSet) -> None:
    progress, results = run(tsne_job(image_set, 2, seed=0))
    (proj,) = results
    assert isinstance(proj, Projection) and proj.layer == 2 and proj.method == "tsne"
    assert proj.xy.shape == (len(image_set.paths), 2) and proj.xy.dtype == np.float32
    np.testing.assert_array_equal(proj.xy, project(image_set.features[2], "tsne", 0))
    assert progress[-1].done == progress[-1].total == 1
    with pytest.raises(LayerScopeError, match="out of range"):
        run(tsne_job(image_set, 9))


def test_cluster_job_labels_the_batch_rows(image_set: EmbeddingSet) -> None:
    (clusters,) = run(cluster_job(image_set, 3))[1]
    assert isinstance(clusters, Clusters) and clusters.layer == 3
    assert clusters.labels.shape == (4,) and 2 <= clusters.k <= 3
    assert set(clusters.labels.tolist()) == set(range(clusters.k))


def test_cancel_stops_each_job(image_set: EmbeddingSet, batch: dict[str, Path]) -> None:
    cancelled = CancelToken()
    cancelled.cancel()
    for job in (tsne_job(image_set, 0, cancel=cancelled), cluster_job(image_set, 0, cancel=cancelled)):
        with pytest.raises(Cancelled):
            run(job)
    token = CancelToken()
    job = embedding_job(ExploreRequest([str(batch[f"img{i}"]) for i in range(4)], "test-efficientnet", "cpu"),
                        token)
    assert isinstance(next(job), Progress)
    token.cancel()
    with pytest.raises(Cancelled):
        run(job)


def test_reference_sample_is_even_and_deterministic() -> None:
    gens = ["real"] * 50 + ["a"] * 40 + ["b"] * 5 + ["c"] * 30
    data = LabeledSet(Path("."), [Path(f"{i}.png") for i in range(len(gens))],
                      np.array([g != "real" for g in gens], dtype=int), gens,
                      np.array([str(i) for i in range(len(gens))]), "test")
    sample = sample_reference(data, 40, seed=3)
    counts = {g: sample.generators.count(g) for g in ("real", "a", "b", "c")}
    assert counts == {"real": 20, "a": 8, "b": 5, "c": 7}
    assert [str(p) for p in sample.paths] == [str(p) for p in sample_reference(data, 40, seed=3).paths]
    assert sample.paths == sorted(sample.paths, key=lambda p: int(p.stem))  # input order kept
    assert sample_reference(data, 500) is data
    few_real = data.subset(list(range(45, len(gens))))  # 5 real left: fakes get the rest
    assert sum(g == "real" for g in sample_reference(few_real, 40).generators) == 5
    assert len(sample_reference(few_real, 40)) == 40


def test_default_encoders_and_majority_modality() -> None:
    assert default_encoder_for("image") == "efficientnet-lite0"
    assert default_encoder_for("audio") == "phase-coherence"  # the encoder of the detector that leads scan's verdict
    assert default_encoder_for("video") == "phase-coherence"
    assert majority_modality(["image", "audio", "video"]) == "audio"
    assert majority_modality(["image", "image", "video", None]) == "image"
    assert majority_modality([]) == "image"


def test_available_encoders_include_the_random_ones_marked() -> None:
    choices = {c.name: c for c in available_encoders()}
    assert choices["test-efficientnet"].random_init and choices["test-whisper"].modality == "audio"
    assert all(not c.random_init for c in choices.values() if not c.name.startswith("test-"))
