"""The adapt job: a detector plus known-genuine files of one person / device / channel -> a new bundle.

Why: a probe trained on a few speakers, microphones and codecs loses much of its power on
another; genuine material of the person or channel in question is easy to find, fakes of
it are not. So the probe is refitted on its original training items plus the references,
added as *real* with a higher sample weight, and the bundle records which references,
how many, their content hash and the base detector.

Calibration without fakes of the new domain: Platt scaling is refitted on out-of-fold
scores (grouped folds over training items and references together); the threshold is the
larger of (a) the EER threshold on the training items, out of fold, and (b) the score that
only ``false_alarm`` (5%) of *held-out* references exceed. So the false-alarm rate on the
new genuine material is controlled; the detection rate on fakes of the new domain is
unknown and the model card says so.

Reference groups: held-out references are only honest when related files (tiles or crops
of one photo, clips of one recording) fall into the same fold. A ``manifest.csv`` with
columns ``path`` (relative to that folder) and ``group`` in any folder given as a reference
sets the group of every file it lists; files it does not list, and references without a
manifest, get the file-name guess (``guess_group``). A manifest that lacks a column, lists
a file that is not there, or leaves a group empty is an error naming it, never ignored:
a silently ignored manifest would bring back the optimistic split it was written to avoid.

Fallback when the training data is not on this machine: refuse, with a message naming the
path and the ``--training`` option. Refitting from the references alone would leave a probe
with no fake examples, and the bundle's weights alone do not hold the training items.

Guard rails: at least ``MIN_REFERENCE_FILES`` (10) files, and for audio at least
``MIN_REFERENCE_AUDIO_S`` (60 s) in total; references the base detector calls fake are
listed (``ReferenceCheck``) before anything is refitted and can be dropped
(``drop_flagged`` or ``exclude``); suspects that are also references are flagged by sha256.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.probes.reference import MIN_REFERENCE_AUDIO_S, MIN_REFERENCE_FILES

DEFAULT_WEIGHT = 5.0
DEFAULT_FALSE_ALARM = 0.05
REF_GROUP_PREFIX = "ref:"
REFERENCE_MANIFEST = "manifest.csv"  # path,group: the calibration groups of a reference folder
MODEL_CARD = "MODEL_CARD.md"


@dataclass
class AdaptOptions:
    detector: Path  # the base bundle folder
    real: list[Path]  # files or folders of known-genuine media
    out: Path
    weight: float = DEFAULT_WEIGHT
    reference_name: str | None = None  # e.g. "Speaker: Jane Doe, phone line"
    name: str | None = None  # the new detector's name; default "<base> + <reference name>"
    training: Path | None = None  # where the base's training data is, if not at training.root
    drop_flagged: bool = False  # leave out references the base detector calls fake
    exclude: list[Path] = field(default_factory=list)  # references the user dropped by hand
    suspects: list[Path] = field(default_factory=list)  # files under investigation: scored, overlap-checked
    false_alarm: float = DEFAULT_FALSE_ALARM
    folds: int = 5
    device: str = "auto"
    seed: int = 0
    min_files: int = MIN_REFERENCE_FILES
    min_audio_s: float = MIN_REFERENCE_AUDIO_S


@dataclass
class ScoredFile:
    path: str
    sha256: str | None
    probability: float | None  # the base detector's calibrated probability of "fake"
    verdict: str | None
    duration_s: float | None = None
    pixels: int | None = None
    error: str | None = None

    @property
    def flagged(self) -> bool:
        return self.verdict == "fake"


@dataclass
class ReferenceCheck:
    """What the base detector says about every reference (and suspect), before anything is refitted."""

    detector: str
    detector_folder: str
    modality: str
    references: list[ScoredFile]
    suspects: list[ScoredFile]
    threshold: float
    band: tuple[float, float]
    overlaps: list[str]  # suspects that are byte-identical to a reference

    @property
    def usable(self) -> list[ScoredFile]:
        return [r for r in self.references if r.error is None]

    @property
    def flagged(self) -> list[ScoredFile]:
        return [r for r in self.references if r.flagged]

    @property
    def failed(self) -> list[ScoredFile]:
        return [r for r in self.references if r.error is not None]

    def to_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "modality": self.modality, "threshold": self.threshold,
                "inconclusive_band": list(self.band),
                "n_references": len(self.references), "n_usable": len(self.usable),
                "flagged": [asdict(r) for r in self.flagged], "failed": [asdict(r) for r in self.failed],
                "overlapping_suspects": self.overlaps,
                "reference_probabilities": [r.probability for r in self.usable],
                "suspect_probabilities": [s.probability for s in self.suspects if s.error is None]}


@dataclass
class AdaptReport:
    bundle_path: Path
    meta: dict[str, Any]
    check: ReferenceCheck
    dropped: list[str]
    figures: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------- helpers
def list_reference_files(paths: Sequence[str | Path]) -> list[Path]:
    """Files given directly, and the media files inside given folders (side files skipped)."""
    from deepfake_gui.engine.datasets import SIDECAR_SUFFIXES
    from deepfake_gui.media.walk import iter_input_files

    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise LayerScopeError(f"{path}: reference file or folder not found")
        files = [path] if path.is_file() else [p for p in iter_input_files([path])
                                                if p.suffix.lower() not in SIDECAR_SUFFIXES]
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def read_reference_manifest(folder: str | Path) -> dict[Path, str]:
    """Resolved path -> group from ``folder/manifest.csv``; {} when the folder has none.

    Why strict: the manifest exists to keep related files (tiles of one photo) in one fold;
    a column that is missing, a listed file that is not there or an empty group raise
    LayerScopeError naming the manifest instead of falling back to the file-name guess.
    """
    folder = Path(folder)
    manifest = folder / REFERENCE_MANIFEST
    if not manifest.is_file():
        return {}
    groups: dict[Path, str] = {}
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"path", "group"} - {(c or "").strip() for c in reader.fieldnames or []}
            if missing:
                raise LayerScopeError(f"{manifest}: missing column(s) {', '.join(sorted(missing))}; a reference "
                                      f"manifest needs path (relative to {folder}) and group")
            for line, raw in enumerate(reader, start=2):
                row = {k.strip(): (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
                rel, group = row.get("path", ""), row.get("group", "")
                if not rel:
                    raise LayerScopeError(f"{manifest}:{line}: empty path")
                if not group:
                    raise LayerScopeError(f"{manifest}:{line}: {rel} has no group")
                target = folder / rel
                if not target.is_file():
                    raise LayerScopeError(f"{manifest}:{line}: lists {rel}, which is not a file in {folder}")
                key = target.resolve()
                if groups.setdefault(key, group) != group:
                    raise LayerScopeError(f"{manifest}:{line}: {rel} is listed in two groups "
                                          f"({groups[key]!r} and {group!r})")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LayerScopeError(f"{manifest}: cannot be read ({exc})") from exc
    return groups


def reference_groups(paths: Sequence[str | Path], folders: Sequence[str | Path]) -> list[str]:
    """The calibration group of each reference ("ref:" + group), in the order of ``paths``.

    A file listed by the ``manifest.csv`` of one of ``folders`` (the folders given as
    references) takes the manifest's group; any other file the file-name guess. Two
    manifests that list one file in different groups are an error.
    """
    from deepfake_gui.probes.dataset import guess_group

    listed: dict[Path, str] = {}
    listed_by: dict[Path, Path] = {}
    done: set[Path] = set()
    for folder in map(Path, folders):
        if not folder.is_dir() or folder.resolve() in done:
            continue
        done.add(folder.resolve())
        for key, group in read_reference_manifest(folder).items():
            if listed.setdefault(key, group) != group:
                raise LayerScopeError(f"{folder / REFERENCE_MANIFEST}: puts {key} in group {group!r}, "
                                      f"{listed_by[key]} in group {listed[key]!r}; a file belongs to one group")
            listed_by.setdefault(key, folder / REFERENCE_MANIFEST)
    out = []
    for raw in paths:
        path = Path(raw)
        group = listed.get(path.resolve())
        out.append(REF_GROUP_PREFIX + (group if group is not None else guess_group(path)))
    return out


def reference_content_hash(sha256s: Sequence[str]) -> str:
    """Hash of the sorted file hashes: the same files give the same hash, whatever their names or order."""
    return hashlib.sha256("\n".join(sorted(sha256s)).encode()).hexdigest()


def resolve_training_root(meta: dict, folder: Path, override: Path | None = None) -> Path:
    """Where the base detector's training data is; LayerScopeError naming what was tried when it is nowhere."""
    if override is not None:
        if not Path(override).exists():
            raise LayerScopeError(f"{override}: training data not found")
        return Path(override)
    stated = str((meta.get("training") or {}).get("root") or "")
    if not stated:
        raise LayerScopeError(f"{folder / 'detector.json'}: records no training.root; pass --training PATH")
    root = Path(stated).expanduser()
    tried = [root] if root.is_absolute() else [Path.cwd() / root, folder / root, folder.parent / root,
                                                folder.parent.parent / root]
    for candidate in tried:
        if candidate.exists():
            return candidate.resolve()
    raise LayerScopeError(
        f"{folder}: its training data ({stated}) is not on this machine (tried {', '.join(map(str, tried))}). "
        "Adapting refits the probe on the original training items plus the references, so it needs them: "
        "pass --training PATH (the same folder or manifest.csv). It will not refit from the references alone: "
        "a probe with no fake examples learns nothing about fakes.")


def _media_size(path: Path, modality: str) -> tuple[float | None, int | None]:
    from deepfake_gui.media.probe import probe

    try:
        info = probe(path, with_hash=False)
    except LayerScopeError:
        return None, None
    if modality == "audio":
        return info.duration_s, None
    return None, (info.width or 0) * (info.height or 0) or None


def _load_base(opts: AdaptOptions):
    """The base detector, through the detector protocol; only kinds that can be refitted (``adaptable``)."""
    from deepfake_gui.probes.interface import load_detector

    detector = load_detector(opts.detector, "adapt")
    if not detector.adaptable:
        raise LayerScopeError(f"{opts.detector}: a detector of kind {detector.kind!r} cannot be adapted; "
                              "`layerscope adapt` refits linear-probe detectors")
    if not detector.meta.get("training"):
        raise LayerScopeError(f"{opts.detector}: the bundle records no training set; only detectors made by "
                              "`layerscope train` (or the probe lab) can be adapted")
    return detector


def _encoders_for(detector, device: str) -> dict:
    """The encoders the detector reads, with the weights it was trained on (engine/detector_features.py)."""
    from deepfake_gui.engine.detector_features import build_encoders

    return build_encoders(detector, device)


def _score(detector, encoders: dict, paths: Sequence[Path], cancel: CancelToken
           ) -> Iterator[Progress | tuple[list[ScoredFile], np.ndarray]]:
    """Cached features of the detector's encoder(s) and the base detector's verdict of each file."""
    from deepfake_gui.engine.detector_features import layer_features

    found = yield from layer_features(detector, encoders, paths, cancel)
    X = detector.inputs(found.features) if found.keep else np.zeros((0, detector.n_features))
    prob = detector.probability(detector.decision(X)) if len(X) else np.zeros(0)
    by_index = {i: row for row, i in enumerate(found.keep)}
    scored = []
    for i, path in enumerate(paths):
        row, sha = by_index.get(i), found.sha256.get(i)
        if row is None:
            scored.append(ScoredFile(str(path), sha, None, None, error=found.errors.get(i) or "unreadable"))
        else:
            p = float(prob[row])
            scored.append(ScoredFile(str(path), sha, p, detector.verdicts(np.array([p]))[0]))
    yield scored, X


# ---------------------------------------------------------------------------- jobs
def check_references_job(opts: AdaptOptions, cancel: CancelToken | None = None
                         ) -> Iterator[Progress | ReferenceCheck]:
    """Score every reference (and suspect) with the base detector; nothing is refitted."""
    check, _ = yield from _check(opts, cancel or CancelToken())
    yield check


def _check(opts: AdaptOptions, cancel: CancelToken
           ) -> Generator[Progress, None, tuple[ReferenceCheck, np.ndarray]]:
    yield Progress(0, None, "listing the references")
    detector = _load_base(opts)
    files = list_reference_files(opts.real)
    if not files:
        raise LayerScopeError(f"{', '.join(map(str, opts.real))}: no media files among the references")
    reference_groups(files, opts.real)  # a broken manifest.csv fails now, before minutes of scoring
    suspects = list_reference_files(opts.suspects) if opts.suspects else []
    yield Progress(0, len(files), f"loading encoder {detector.encoder_name}")
    encoders = _encoders_for(detector, opts.device)
    refs: list[ScoredFile] = []
    X_ref = np.zeros((0, 0))
    for event in _score(detector, encoders, files, cancel):
        if isinstance(event, Progress):
            yield event
        else:
            refs, X_ref = event
    sus: list[ScoredFile] = []
    for event in _score(detector, encoders, suspects, cancel) if suspects else ():
        if isinstance(event, Progress):
            yield Progress(event.done, event.total, f"suspects: {event.message}")
        else:
            sus = event[0]
    modality = str(detector.meta["modality"])
    for r in refs:
        if r.error is None:
            r.duration_s, r.pixels = _media_size(Path(r.path), modality)
    ref_hashes = {r.sha256 for r in refs if r.sha256}
    overlaps = [s.path for s in sus if s.sha256 in ref_hashes]
    check = ReferenceCheck(detector.name, str(opts.detector), modality, refs, sus, detector.threshold,
                           (float(detector.band[0]), float(detector.band[1])), overlaps)
    return check, X_ref


def check_minimum(check: ReferenceCheck, keep: Sequence[ScoredFile], opts: AdaptOptions) -> None:
    """Fewer than the documented minimum of references: a clear error, before any refit."""
    where = ", ".join(map(str, opts.real))
    n = len(keep)
    dropped = len(check.usable) - n
    note = f" ({dropped} dropped as flagged or excluded)" if dropped else ""
    note += f" ({len(check.failed)} unreadable)" if check.failed else ""
    if n < opts.min_files:
        raise LayerScopeError(f"{where}: only {n} usable reference files{note}; adapting needs at least "
                              f"{opts.min_files} genuine files of the person, device or channel "
                              f"(and {opts.min_audio_s:g} s of audio in total)")
    if check.modality == "audio":
        total = sum(r.duration_s or 0.0 for r in keep)
        if total < opts.min_audio_s:
            raise LayerScopeError(f"{where}: the {n} usable references hold {total:.1f} s of audio{note}; adapting "
                                  f"needs at least {opts.min_audio_s:g} s")
    groups = set(reference_groups([r.path for r in keep], opts.real))
    if len(groups) < 2:
        raise LayerScopeError(f"{where}: all references fall into one group; name files so that different "
                              "recordings/photos have different names (the group is the file name), or list "
                              f"them in a {REFERENCE_MANIFEST} with columns path,group")


def adapt_job(opts: AdaptOptions, cancel: CancelToken | None = None
              ) -> Iterator[Progress | ReferenceCheck | AdaptReport]:
    """Check the references, then refit probe + calibration + domain and reference models, save the bundle.

    References are held out by group (``reference_groups``): the groups of a ``manifest.csv``
    (columns path, group) in a reference folder where there is one, else the file-name guess.
    """
    from deepfake_gui.engine.datasets import load_dataset
    from deepfake_gui.engine.detector_features import layer_features
    from deepfake_gui.probes.dataset import LabeledSet

    cancel = cancel or CancelToken()
    if not opts.weight > 0:
        raise LayerScopeError(f"--weight must be positive, got {opts.weight}")
    if not 0.0 < opts.false_alarm < 0.5:
        raise LayerScopeError(f"the false-alarm target must be in (0, 0.5), got {opts.false_alarm}")
    check, X_all_refs = yield from _check(opts, cancel)
    yield check
    excluded = {Path(p).resolve() for p in opts.exclude}
    keep_rows, keep, dropped = [], [], []
    for row, r in enumerate(check.usable):
        if Path(r.path).resolve() in excluded or (opts.drop_flagged and r.flagged):
            dropped.append(r.path)
        else:
            keep_rows.append(row)
            keep.append(r)
    check_minimum(check, keep, opts)
    X_ref = X_all_refs[keep_rows].astype(np.float64)
    ref_groups = np.array(reference_groups([r.path for r in keep], opts.real))

    detector = _load_base(opts)
    meta = detector.meta
    root = resolve_training_root(meta, Path(opts.detector), opts.training)
    data = load_dataset(root)
    encoders = _encoders_for(detector, opts.device)
    yield Progress(0, len(data), f"features of the {len(data)} training items")
    found = yield from layer_features(detector, encoders, data.paths, cancel)
    keep_tr = np.array(found.keep, dtype=int)
    if len(keep_tr) < 4:
        raise LayerScopeError(f"{root}: only {len(keep_tr)} training files could be read")
    data = data.subset(keep_tr)
    X_tr = detector.inputs(found.features).astype(np.float64)
    cancel.raise_if_cancelled()

    yield Progress(0, None, "refitting the probe with the references")
    n_tr, n_ref = len(X_tr), len(X_ref)
    combined = LabeledSet(data.root, list(data.paths) + [Path(r.path) for r in keep],
                          np.r_[data.labels, np.zeros(n_ref, dtype=int)], list(data.generators) + ["real"] * n_ref,
                          np.r_[data.groups.astype(str), ref_groups], data.source)
    X = np.vstack([X_tr, X_ref])
    weights = np.r_[np.ones(n_tr), np.full(n_ref, float(opts.weight))]
    fit = _refit(X, combined, weights, n_tr, str(meta.get("classifier", "logreg")), opts)
    cancel.raise_if_cancelled()

    yield Progress(0, None, "fitting the domain and reference-set models")
    from deepfake_gui.probes.oneclass import fit_domain_model
    from deepfake_gui.probes.reference import fit_reference_model

    arrays = {k: v for k, v in detector.bundle.arrays.items() if not k.startswith(("domain_", "reference_"))}
    arrays.update(fit["probe"].to_arrays())
    domain_arrays, domain_threshold = fit_domain_model(X, combined.groups)
    arrays.update(domain_arrays)
    ref_arrays, ref_record = fit_reference_model(X_ref, ref_groups, seed=opts.seed)
    arrays.update(ref_arrays)

    base_probs = np.array([r.probability for r in check.usable], dtype=float)  # before any was dropped
    ref_name = (opts.reference_name or "").strip() or f"{len(keep)} genuine references"
    figures = _figures(fit, base_probs, check, opts)
    content_matches = data.content_hash() == (meta.get("training") or {}).get("content_hash")
    warnings = _warnings(check, keep, dropped, content_matches, root, detector)
    new_meta = _adapted_meta(detector, opts, keep, dropped, ref_name, fit, figures, ref_record,
                             domain_threshold, root, content_matches, len(set(ref_groups.tolist())))
    from deepfake_gui.probes.bundle import DetectorBundle, save_bundle

    bundle = DetectorBundle(new_meta, arrays)
    out = save_bundle(bundle, opts.out)
    (out / MODEL_CARD).write_text(model_card(bundle.meta, figures, warnings), encoding="utf-8")
    yield AdaptReport(out, bundle.meta, check, dropped, figures, warnings)


def _refit(X: np.ndarray, combined, weights: np.ndarray, n_tr: int, classifier: str,
           opts: AdaptOptions) -> dict[str, Any]:
    """Grouped out-of-fold scores -> Platt, thresholds; then the final probe on everything."""
    from deepfake_gui.analysis.calibration import Platt, inconclusive_band
    from deepfake_gui.analysis.metrics import binary_report, bootstrap_auc_ci
    from deepfake_gui.probes.dataset import grouped_folds
    from deepfake_gui.probes.linear import LinearProbe
    from deepfake_gui.probes.sweep import per_generator_auc

    y = combined.labels.astype(int)
    folds = grouped_folds(combined, opts.folds, opts.seed)
    oof = np.zeros(len(y))
    for train, test in folds:
        probe = LinearProbe(classifier).fit(X[train], y[train], sample_weight=weights[train])
        oof[test] = probe.decision_function(X[test])
    platt = Platt.fit(oof, y)
    prob = platt(oof)
    tr, ref = slice(0, n_tr), slice(n_tr, len(y))
    report = binary_report(y[tr], prob[tr])
    ref_prob = prob[ref]
    ref_cut = float(np.quantile(ref_prob, 1.0 - opts.false_alarm))
    threshold = max(float(report.eer_threshold), ref_cut)
    band = inconclusive_band(prob[tr], y[tr], threshold)
    band = (float(band[0]), float(max(band[1], threshold)))
    groups_tr = combined.groups[tr]
    return {
        "probe": LinearProbe(classifier).fit(X, y, sample_weight=weights), "platt": platt, "report": report,
        "threshold": threshold, "band": band, "eer_threshold": float(report.eer_threshold), "ref_cut": ref_cut,
        "ref_prob": ref_prob, "ci": bootstrap_auc_ci(y[tr], oof[tr], groups_tr),
        "per_generator": per_generator_auc(y[tr], oof[tr], combined.generators[:n_tr]), "folds": len(folds),
    }


def _figures(fit: dict, base_probs: np.ndarray, check: ReferenceCheck, opts: AdaptOptions) -> dict[str, Any]:
    ref_prob = fit["ref_prob"]
    lo, hi = check.band
    return {
        "training_cv_auc_after": fit["report"].auc, "training_cv_auc_ci95_after": list(fit["ci"]),
        "training_cv_eer_after": fit["report"].eer,
        "false_alarm_target": opts.false_alarm,
        "reference_false_alarm_after": float((ref_prob >= fit["band"][1]).mean()),
        "reference_flagged_or_inconclusive_after": float((ref_prob >= fit["band"][0]).mean()),
        "reference_false_alarm_before": float((base_probs >= hi).mean()),
        "reference_flagged_or_inconclusive_before": float((base_probs >= lo).mean()),
        "reference_probability_median_before": float(np.median(base_probs)),
        "reference_probability_median_after": float(np.median(ref_prob)),
        "note": "after = out-of-fold under grouped folds (references held out by group); "
                "before = the base detector on the same references",
    }


def _warnings(check: ReferenceCheck, keep: list[ScoredFile], dropped: list[str], content_matches: bool,
              root: Path, detector) -> list[str]:
    out = []
    kept_flagged = [r.path for r in keep if r.flagged]
    if kept_flagged:
        out.append(f"{len(kept_flagged)} reference(s) look manipulated to the base detector and were kept, e.g. "
                   f"{kept_flagged[0]}; drop them (--drop-flagged) unless you are sure they are genuine")
    if check.failed:
        out.append(f"{len(check.failed)} reference file(s) could not be read, e.g. {check.failed[0].error}")
    if check.overlaps:
        out.append(f"{len(check.overlaps)} suspect file(s) are also references, e.g. {check.overlaps[0]}: "
                   "their scores prove nothing")
    if not content_matches:
        out.append(f"the training data at {root} differs from what {detector.name} was trained on "
                   "(content hash); the adapted probe is fitted on the data found there")
    if dropped:
        out.append(f"{len(dropped)} reference(s) left out: {', '.join(Path(p).name for p in dropped[:5])}"
                   + ("…" if len(dropped) > 5 else ""))
    return out


def _adapted_meta(detector, opts: AdaptOptions, keep: list[ScoredFile], dropped: list[str], ref_name: str,
                  fit: dict, figures: dict, ref_record: dict, domain_threshold: float, root: Path,
                  content_matches: bool, n_groups: int) -> dict[str, Any]:
    base = detector.meta
    platt, report = fit["platt"], fit["report"]
    durations = [r.duration_s for r in keep if r.duration_s is not None]
    pixels = [r.pixels for r in keep if r.pixels is not None]
    reference_set = {
        "name": ref_name, "n_files": len(keep), "content_hash": reference_content_hash([r.sha256 or "" for r in keep]),
        "total_duration_s": round(float(sum(durations)), 3) if durations else None,
        "total_pixels": int(sum(pixels)) if pixels else None, "n_groups": n_groups,
        "folders": [str(p) for p in opts.real], "dropped": [Path(p).name for p in dropped],
        "files": [{"name": Path(r.path).name, "sha256": r.sha256} for r in keep],
    }
    note = (f"No fakes of the new domain were available: the threshold is the larger of the training EER threshold "
            f"({fit['eer_threshold']:.3f}) and the probability that {opts.false_alarm:.0%} of held-out references "
            f"exceed ({fit['ref_cut']:.3f}); the false-alarm rate on genuine material of this reference set is "
            "controlled, the detection rate on its fakes is not measured.")
    metrics = dict(base.get("metrics") or {})
    metrics.update({"cv_auc": report.auc, "cv_auc_ci95": list(fit["ci"]), "cv_eer": report.eer,
                    "cv_ap": report.ap, "cv_min_dcf": report.min_dcf, "per_generator": fit["per_generator"],
                    "adaptation": figures,
                    "note": "cv_* are out-of-fold on the base's training items after adapting; layer_sweep and "
                            "learning_curve are the base detector's"})
    domain = dict(base.get("domain") or {})
    domain.update({"threshold": float(domain_threshold),
                   "method": "mahalanobis (PCA + Ledoit-Wolf) on all training items and the references, "
                             "chosen layer"})
    return {
        **{k: v for k, v in base.items() if k not in ("tensors", "weights_sha256", "weights_file", "created")},
        "name": opts.name or f"{base['name']} + {ref_name}",
        "calibration": {"method": "platt", "a": platt.a, "b": platt.b,
                        "fitted_on": "out-of-fold scores of the training items and the references (grouped)"},
        "threshold": fit["threshold"],
        "inconclusive_band": [fit["band"][0], fit["band"][1]],
        "metrics": metrics,
        "domain": domain,
        "reference": ref_record,
        "adaptation": {
            "base": {"name": base["name"], "bundle_sha256": detector.bundle.content_hash(),
                     "folder": str(opts.detector)},
            "reference_set": reference_set, "weight": float(opts.weight),
            "training_root_used": str(root), "training_content_hash_matches": bool(content_matches),
            "threshold_calibration": note, "false_alarm_target": opts.false_alarm, "folds": fit["folds"],
        },
    }


def model_card(meta: dict, figures: dict, warnings: Sequence[str]) -> str:
    """A short, honest model card for an adapted detector (written next to detector.json)."""
    a = meta["adaptation"]
    refs = a["reference_set"]
    size = (f"{refs['total_duration_s']:.1f} s of audio" if refs.get("total_duration_s")
            else f"{refs.get('total_pixels') or 0:,} pixels")
    lo, hi = meta["metrics"]["cv_auc_ci95"]
    lines = [
        f"# {meta['name']}", "",
        f"Adapted from **{a['base']['name']}** (bundle sha256 {a['base']['bundle_sha256'][:16]}…) with the reference "
        f"set **{refs['name']}**: {refs['n_files']} genuine files, {size}, content hash {refs['content_hash'][:16]}…, "
        f"added as real with weight {a['weight']:g}.", "",
        "## Calibration", "", a["threshold_calibration"], "",
        "## Figures (out-of-fold, grouped)", "",
        f"- Training items after adapting: AUC {meta['metrics']['cv_auc']:.3f} (95% CI by group {lo:.3f}-{hi:.3f}), "
        f"EER {meta['metrics']['cv_eer']:.3f}.",
        f"- References called fake: {figures['reference_false_alarm_before']:.1%} by the base detector, "
        f"{figures['reference_false_alarm_after']:.1%} after adapting (held-out; target "
        f"{figures['false_alarm_target']:.0%}).",
        f"- Reference distance: Mahalanobis on PCA of the references, threshold {meta['reference']['threshold']:.3g} "
        f"({meta['reference']['percentile']:g}th percentile of held-out references). It is shown beside the probe "
        "score and never replaces it.", "",
        "## Limits", "",
        "- Only the false-alarm rate on genuine material of this reference set is measured; no fakes of it were seen.",
        "- A file that is also one of the references proves nothing (scans flag it by sha256).",
    ]
    lines += [f"- {w}" for w in warnings]
    return "\n".join(lines) + "\n"


def report_dict(report: AdaptReport) -> dict[str, Any]:
    """The CLI's JSON summary."""
    a = report.meta["adaptation"]
    return {"detector": str(report.bundle_path), "name": report.meta["name"], "base": a["base"],
            "reference_set": {k: v for k, v in a["reference_set"].items() if k != "files"},
            "weight": a["weight"], "threshold": report.meta["threshold"],
            "inconclusive_band": report.meta["inconclusive_band"], "reference": report.meta["reference"],
            "figures": report.figures, "check": report.check.to_dict(), "dropped": report.dropped,
            "warnings": report.warnings}
