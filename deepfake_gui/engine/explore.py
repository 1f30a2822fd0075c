"""The embedding explorer's jobs: a batch's per-layer features, mapped to 2-D, beside a labelled reference set.

Why per layer and all at once: the method's central claim is that real and fake
separate best in the *middle* of an encoder. ``embedding_job`` therefore extracts
every layer's pooled features (through the feature cache) and projects every
layer with PCA, which costs milliseconds a layer, so the GUI's layer slider
redraws with no new job. t-SNE (seconds) runs on demand for one layer
(``tsne_job``); k-means clusters likewise (``cluster_job``).

What each encoder takes: an image encoder takes image files only (one vector per
file; a video's frames are scored by scans, not mapped here); an audio encoder
takes audio files and the sound track of videos (long files pooled over 30 s
chunks, see encoders/extract.py). Anything else is listed in ``failed`` with the
reason, never raised.

Separation figure (per layer, only with a reference set holding real and fake
items): the pooled out-of-fold ROC AUC of a logistic probe, real vs fake, under
grouped 5-fold cross-validation (StratifiedGroupKFold, as the layer sweep), on
the reference items' first 32 principal components (PCA is unsupervised, so it
leaks no labels; 32 dims keep 25 layers x 5 folds well under a second). It is a
cheap picture of the layer sweep, not a detector's figure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress

SEPARATION_DIMS = 32
SEPARATION_FOLDS = 5
SEPARATION_METHOD = (f"grouped {SEPARATION_FOLDS}-fold CV AUC of a logistic probe, real vs fake reference items, "
                     f"on {SEPARATION_DIMS} PCA dims")
DEFAULT_REFERENCE_LIMIT = 400
# The encoders of the shipped default detectors; used when models/ cannot be read.
FALLBACK_DEFAULT_ENCODERS = {"image": "efficientnet-lite0", "audio": "whisper-tiny-en"}
# Which file modalities an encoder of each modality can embed (one vector per file).
ACCEPTS: dict[str, tuple[str, ...]] = {"image": ("image",), "audio": ("audio", "video")}
ACCEPTS_TEXT = {"image": "image files only (a video's frames are scored by scans, not mapped here)",
                "audio": "audio files and the sound track of videos"}


# --------------------------------------------------------------------------- types
@dataclass
class ExploreRequest:
    """What to map: the batch's files, with which encoder, and optionally beside which labelled set."""

    paths: list[str]
    encoder: str
    device: str = "auto"
    reference: str | None = None  # a labelled folder (real/ + fake/<generator>/) or a manifest.csv
    reference_limit: int = DEFAULT_REFERENCE_LIMIT
    seed: int = 0


@dataclass(frozen=True)
class FailedFile:
    path: str
    error: str


@dataclass
class EmbeddingSet:
    """Every usable row's features on every layer, and their PCA maps.

    Rows are the batch's usable files in input order, then the reference items.
    ``generators[i]`` is None for batch rows, else "real" or the generator's name.
    ``pca[l]`` is None (and ``pca_errors[l]`` says why) where a layer cannot be mapped.
    ``separation[l]`` is NaN where undefined; ``separation`` is None without labels.
    """

    encoder: str
    modality: str
    layer_names: list[str]
    random_init: bool
    paths: list[str]
    is_reference: np.ndarray  # (N,) bool
    generators: list[str | None]
    features: list[np.ndarray]  # per layer (N, D_l) float32
    pca: list[np.ndarray | None]  # per layer (N, 2) float32
    pca_errors: dict[int, str] = field(default_factory=dict)
    separation: np.ndarray | None = None  # (L,) float
    separation_note: str = ""  # what the figure is, or why there is none
    failed: list[FailedFile] = field(default_factory=list)  # batch files that could not be embedded
    reference_failed: list[FailedFile] = field(default_factory=list)
    reference: str | None = None
    cached: int = 0  # files whose features came from the cache
    computed: int = 0  # files run through the encoder
    seed: int = 0

    @property
    def n_layers(self) -> int:
        return len(self.layer_names)

    @property
    def batch_index(self) -> np.ndarray:
        return np.flatnonzero(~self.is_reference)

    @property
    def reference_index(self) -> np.ndarray:
        return np.flatnonzero(self.is_reference)

    @property
    def batch_paths(self) -> list[str]:
        return [self.paths[i] for i in self.batch_index]

    @property
    def best_layer(self) -> int | None:
        """The layer that separates the reference set best (the shallower one on a tie)."""
        if self.separation is None or not np.isfinite(self.separation).any():
            return None
        return int(np.nanargmax(self.separation))


@dataclass
class Projection:
    layer: int
    method: str  # "pca" | "tsne"
    xy: np.ndarray  # (N, 2) float32, rows as in the EmbeddingSet
    seed: int = 0


@dataclass
class Clusters:
    """k-means clusters of the batch rows on one layer (k chosen by silhouette)."""

    layer: int
    labels: np.ndarray  # (n_batch,) int, in EmbeddingSet.batch_index order
    k: int
    silhouette: float


@dataclass(frozen=True)
class EncoderChoice:
    name: str
    modality: str
    random_init: bool


# ----------------------------------------------------------------- encoder choice
def encoder_modality_for(file_modality: str | None) -> str | None:
    """The encoder modality that can embed a file of this modality (video -> its sound track)."""
    for encoder_modality, accepted in ACCEPTS.items():
        if file_modality in accepted:
            return encoder_modality
    return None


def majority_modality(file_modalities: Sequence[str | None]) -> str:
    """The encoder modality most of the files fit ("image" when there is nothing to count)."""
    counts: dict[str, int] = {}
    for m in file_modalities:
        target = encoder_modality_for(m)
        if target is not None:
            counts[target] = counts.get(target, 0) + 1
    return max(sorted(counts), key=lambda k: counts[k]) if counts else "image"


def default_encoder_for(modality: str) -> str:
    """The encoder of a modality's lead default detector (best unseen-generator AUC, then CV: as scan orders).

    Read from models/*/detector.json without loading anything; "video" maps to audio
    (the explorer embeds a video's sound track).
    """
    from deepfake_gui.core.config import shipped_models_dir

    target = encoder_modality_for(modality) or modality
    best: tuple[tuple[float, float], str] | None = None
    root = shipped_models_dir()
    for meta_path in sorted(root.glob("*/detector.json")) if root.is_dir() else []:
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        encoder = meta.get("encoder")
        if meta.get("modality") != target or not isinstance(encoder, dict) or not encoder.get("name"):
            continue
        metrics = meta.get("metrics") or {}
        auc = (float((metrics.get("headline") or {}).get("mean_auc") or 0.0), float(metrics.get("cv_auc") or 0.0))
        if best is None or auc > best[0]:
            best = (auc, str(encoder["name"]))
    if best is not None:
        return best[1]
    if target not in FALLBACK_DEFAULT_ENCODERS:
        raise LayerScopeError(f"no default encoder for {modality!r} files")
    return FALLBACK_DEFAULT_ENCODERS[target]


def available_encoders() -> list[EncoderChoice]:
    """Encoders that can run here: real weights present, then the random-init test encoders.

    Does not re-hash large weight files (``verify=False``), but may hash a packaged
    file once (memoised); call it off the GUI thread.
    """
    from deepfake_gui.encoders.registry import get_spec, list_encoders
    from deepfake_gui.encoders.weights import locate_weights

    real, random = [], []
    for name in list_encoders(include_test=True):
        spec = get_spec(name)
        try:
            status = locate_weights(spec, verify=False).status
        except (LayerScopeError, OSError):
            continue
        if status == "present":
            real.append(EncoderChoice(name, spec.modality, False))
        elif status == "random-init":
            random.append(EncoderChoice(name, spec.modality, True))
    return real + random


# ------------------------------------------------------------------- reference
def sample_reference(data, limit: int, seed: int = 0):
    """At most ``limit`` items: half real, half fake spread evenly over generators; deterministic.

    A side with too few items leaves its share to the other. Input order is kept.
    """
    gens = np.asarray(data.generators)
    if limit <= 0:
        raise LayerScopeError(f"reference_limit must be positive, got {limit}")
    if len(gens) <= limit:
        return data
    rng = np.random.default_rng(seed)
    real = rng.permutation(np.flatnonzero(gens == "real")).tolist()
    pools = [rng.permutation(np.flatnonzero(gens == g)).tolist() for g in sorted(set(gens.tolist()) - {"real"})]
    n_real = min(len(real), limit // 2)
    fakes: list[int] = []
    while len(fakes) < limit - n_real and any(pools):
        for pool in pools:
            if pool and len(fakes) < limit - n_real:
                fakes.append(pool.pop())
    n_real = min(len(real), limit - len(fakes))
    return data.subset(sorted(real[:n_real] + fakes))


# ------------------------------------------------------------------------ jobs
def embedding_job(request: ExploreRequest, cancel: CancelToken | None = None
                  ) -> Iterator[Progress | EmbeddingSet]:
    """Features (cached) of the batch and the reference set, PCA of every layer, per-layer separation."""
    from deepfake_gui.analysis.projection import project
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import iter_file_features
    from deepfake_gui.encoders.registry import build_encoder, get_spec
    from deepfake_gui.engine.datasets import load_dataset

    cancel = cancel or CancelToken()
    spec = get_spec(request.encoder)
    reference = None
    if request.reference:
        reference = sample_reference(load_dataset(request.reference), request.reference_limit, request.seed)
    if not request.paths and reference is None:
        raise LayerScopeError("nothing to map: no batch files and no reference set")
    ref_paths = [str(p) for p in reference.paths] if reference is not None else []
    all_paths = [str(p) for p in request.paths] + ref_paths
    n_batch = len(request.paths)
    yield Progress(0, len(all_paths), f"loading encoder {spec.name}")
    encoder = build_encoder(spec.name, request.device)
    cancel.raise_if_cancelled()

    pooled: dict[int, list[np.ndarray]] = {}
    errors: dict[int, str] = {}
    cached = 0
    for event in iter_file_features(encoder, all_paths, cache=FeatureCache(), cancel=cancel):
        if isinstance(event, Progress):
            yield Progress(event.done, event.total, f"features: {event.message}")
        elif event.pooled is None:
            errors[event.index] = _explain_failure(all_paths[event.index], event.error or "failed", spec)
        else:
            pooled[event.index] = event.pooled
            cached += int(event.cached)
    cancel.raise_if_cancelled()

    failed = [FailedFile(all_paths[i], errors[i]) for i in sorted(errors) if i < n_batch]
    ref_failed = [FailedFile(all_paths[i], errors[i]) for i in sorted(errors) if i >= n_batch]
    rows = sorted(pooled)  # batch rows first (lower indices), then reference rows
    if len(rows) < 3:
        reasons = "; ".join(f.error for f in failed + ref_failed) or "none"
        raise LayerScopeError(f"a map needs at least 3 files that {spec.name} can embed, got {len(rows)} "
                              f"(it takes {ACCEPTS_TEXT[spec.modality]}); problems: {reasons}")
    layer_names = list(encoder.layer_names)
    features = [np.stack([pooled[i][layer] for i in rows]).astype(np.float32) for layer in range(len(layer_names))]
    is_reference = np.array([i >= n_batch for i in rows], dtype=bool)
    generators: list[str | None] = [None if i < n_batch else reference.generators[i - n_batch]  # type: ignore[union-attr]
                                    for i in rows]

    pca: list[np.ndarray | None] = []
    pca_errors: dict[int, str] = {}
    for layer, name in enumerate(layer_names):
        cancel.raise_if_cancelled()
        yield Progress(layer, len(layer_names), f"PCA of layer {name}")
        try:
            pca.append(project(features[layer], "pca", request.seed))
        except LayerScopeError as exc:
            pca.append(None)
            pca_errors[layer] = str(exc)

    separation, note = None, "no reference set: add a labelled set to see how each layer separates real from fake"
    if reference is not None:
        ref_rows = [i - n_batch for i in rows if i >= n_batch]
        separation, note = yield from _separation(features, is_reference, reference.subset(ref_rows), layer_names,
                                                  request.seed, cancel)
    yield Progress(len(layer_names), len(layer_names), "done")
    yield EmbeddingSet(
        encoder=spec.name, modality=spec.modality, layer_names=layer_names,
        random_init=bool(spec.random_init or getattr(encoder.spec, "random_init", False)),
        paths=[all_paths[i] for i in rows], is_reference=is_reference, generators=generators,
        features=features, pca=pca, pca_errors=pca_errors, separation=separation, separation_note=note,
        failed=failed, reference_failed=ref_failed, reference=str(request.reference) if request.reference else None,
        cached=cached, computed=len(rows) - cached, seed=request.seed,
    )


def tsne_job(embedding_set: EmbeddingSet, layer: int, seed: int = 0, cancel: CancelToken | None = None
             ) -> Iterator[Progress | Projection]:
    """t-SNE of one layer (batch and reference together: t-SNE has no transform)."""
    from deepfake_gui.analysis.projection import project

    cancel = cancel or CancelToken()
    _check_layer(embedding_set, layer)
    cancel.raise_if_cancelled()
    name = embedding_set.layer_names[layer]
    yield Progress(0, 1, f"t-SNE of layer {name} ({len(embedding_set.paths)} points)")
    xy = project(embedding_set.features[layer], "tsne", seed)
    cancel.raise_if_cancelled()
    yield Progress(1, 1, f"t-SNE of layer {name} done")
    yield Projection(layer, "tsne", xy, seed)


def cluster_job(embedding_set: EmbeddingSet, layer: int, seed: int = 0, cancel: CancelToken | None = None
                ) -> Iterator[Progress | Clusters]:
    """k-means of the batch rows on one layer, k in 2..10 by silhouette (probes/clustering.py)."""
    from deepfake_gui.probes.clustering import cluster_embeddings

    cancel = cancel or CancelToken()
    _check_layer(embedding_set, layer)
    cancel.raise_if_cancelled()
    rows = embedding_set.batch_index
    if len(rows) < 3:
        raise LayerScopeError(f"clustering needs at least 3 batch files embedded, got {len(rows)}")
    yield Progress(0, 1, f"clustering layer {embedding_set.layer_names[layer]}")
    result = cluster_embeddings(embedding_set.features[layer][rows], seed=seed)
    cancel.raise_if_cancelled()
    yield Progress(1, 1, "clusters done")
    yield Clusters(layer, np.asarray(result.labels, dtype=int), int(result.k), float(result.silhouette))


# -------------------------------------------------------------------- helpers
def _check_layer(embedding_set: EmbeddingSet, layer: int) -> None:
    if not 0 <= layer < embedding_set.n_layers:
        raise LayerScopeError(f"layer {layer} is out of range: {embedding_set.encoder} has {embedding_set.n_layers} "
                              f"layers (0..{embedding_set.n_layers - 1})")


def _explain_failure(path: str, error: str, spec) -> str:
    """Say which kind of file the encoder takes when the file is of another kind."""
    if ": cannot read:" in error:
        return error
    from deepfake_gui.media import probe

    try:
        info = probe(path, with_hash=False)
    except LayerScopeError:
        return error
    if info.modality not in ACCEPTS[spec.modality]:
        return f"{path}: {spec.name} takes {ACCEPTS_TEXT[spec.modality]}; this is {_article(info.modality)} file"
    if info.modality == "video" and not info.has_audio:
        return f"{path}: {spec.name} embeds a video's sound track, and this video has none"
    return error


def _article(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _separation(features: list[np.ndarray], is_reference: np.ndarray, data, layer_names: list[str], seed: int,
                cancel: CancelToken):
    """Per-layer out-of-fold AUC on the reference rows; (None, why) when it is undefined."""
    from deepfake_gui.probes.dataset import grouped_folds

    labels = np.asarray(data.labels, dtype=int)
    if len(labels) == 0 or np.bincount(labels, minlength=2).min() < 2:
        return None, "the reference set needs at least 2 usable real and 2 usable fake items for a separation figure"
    try:
        folds = grouped_folds(data, SEPARATION_FOLDS, seed)
    except LayerScopeError as exc:
        return None, f"no separation figure: {exc}"
    values = np.full(len(layer_names), np.nan)
    for layer, name in enumerate(layer_names):
        cancel.raise_if_cancelled()
        yield Progress(layer, len(layer_names), f"separation of layer {name}")
        values[layer] = layer_separation(features[layer][is_reference], labels, folds, seed)
    return values, SEPARATION_METHOD


def layer_separation(X: np.ndarray, labels: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                     seed: int = 0, dims: int = SEPARATION_DIMS) -> float:
    """Pooled out-of-fold AUC of a logistic probe on the first ``dims`` principal components; NaN if undefined."""
    from sklearn.decomposition import PCA

    from deepfake_gui.analysis.metrics import roc_auc
    from deepfake_gui.analysis.projection import standardise
    from deepfake_gui.probes.linear import LinearProbe

    Z = standardise(X)
    k = min(dims, Z.shape[1], len(Z) - 1)
    if 1 <= k < Z.shape[1]:
        Z = PCA(n_components=k, svd_solver="full", random_state=seed).fit_transform(Z)
    oof = np.zeros(len(labels))
    for train, test in folds:
        if len(np.unique(labels[train])) < 2:
            return float("nan")
        oof[test] = LinearProbe("logreg", random_state=seed).fit(Z[train], labels[train]).decision_function(Z[test])
    try:
        return roc_auc(labels, oof)
    except ValueError:
        return float("nan")


__all__ = [
    "ACCEPTS",
    "SEPARATION_METHOD",
    "Clusters",
    "EmbeddingSet",
    "EncoderChoice",
    "ExploreRequest",
    "FailedFile",
    "Projection",
    "available_encoders",
    "cluster_job",
    "default_encoder_for",
    "embedding_job",
    "encoder_modality_for",
    "layer_separation",
    "majority_modality",
    "sample_reference",
    "tsne_job",
]
