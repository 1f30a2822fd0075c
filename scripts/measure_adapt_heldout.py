"""Before/after `layerscope adapt` on a source held out of training entirely (issue 13, evaluation).

Protocol (engine/reference_split.py): for each case "<shipped detector>:<source>", the source (an audio
speaker, or an image photo source = the library a photo came from) is held out of training, fakes
included. Its groups (sentences / photos) are shuffled with the seed and halved: the real files of one
half are the genuine references, the other half (real and fake) is the test. A sentence or photo of the
test half is in neither training nor the references. Then:

1. BASE: `train` on the training rows with the shipped detector's encoder and recipe (layer sweep, as
   many top layers as the shipped bundle uses, grouped 5-fold calibration): it never saw the source.
2. BEFORE: the base on the test rows: AUC with a 95% group-bootstrap interval, EER, AUC per generator,
   share of real / fake test files whose verdict is "fake" (and "inconclusive").
3. ADAPT with the references (weight 5, threshold at 5% false alarms on held-out references), AFTER: the
   same figures, plus the AUC of the distance to the references; and `evaluate` on the adapted bundle.

    nice -n 5 .venv/bin/python scripts/measure_adapt_heldout.py --out heldout.json
    nice -n 5 .venv/bin/python scripts/measure_adapt_heldout.py --cases audio-ge2e:it_IT_m_Carlo \\
        --example-dir models/examples/audio-ge2e-adapted-it_IT_m_Carlo --out heldout-example.json

Image references are copied into the work folder as "<tile>_<photo>.jpg": adapt groups references by
file name (probes.dataset.guess_group keeps what follows the first "_"), and the set's own names
"<photo>_<tile>.jpg" would group tiles by tile number instead of by photo.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepfake_gui.engine.reference_split import (  # noqa: E402
    ReferenceSplit,
    read_manifest,
    reference_split,
    sources,
    write_manifest,
)

SOURCE_COLUMN = {"audio": "speaker", "image": "source"}
DEFAULT_CASES = {
    "audio-ge2e": ["en_US_f_Allison", "fr_CA_f_June", "it_IT_m_Carlo", "ru_RU_f_IvrvoiceRU"],
    "audio-whisper": ["en_US_f_Allison", "fr_CA_f_June", "it_IT_m_Carlo", "ru_RU_f_IvrvoiceRU"],
    "image-effnet": ["mate-backgrounds", "plasma-workspace-wallpapers"],
}
MAX_EXAMPLE_BYTES = 5 * 1024**2


def _drain(gen, kind: type):
    """Run an engine job to the end; return its last result of ``kind`` (progress goes to stderr, sparsely)."""
    result = None
    last = 0.0
    for event in gen:
        if isinstance(event, kind):
            result = event
        elif time.monotonic() - last > 20 and getattr(event, "message", None):
            print(f"    … {event.message}", file=sys.stderr, flush=True)
            last = time.monotonic()
    if result is None:
        raise RuntimeError(f"the job yielded no {kind.__name__}")
    return result


def _features(encoder_name: str, paths: list[Path]) -> list[np.ndarray]:
    from deepfake_gui.encoders.cache import FeatureCache
    from deepfake_gui.encoders.extract import collect_features
    from deepfake_gui.encoders.registry import build_encoder

    gen = collect_features(build_encoder(encoder_name, "cpu"), paths, cache=FeatureCache())
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        matrices, records = stop.value
    bad = [r for r in records if r.pooled is None]
    if bad:
        raise RuntimeError(f"{len(bad)} test files could not be read, e.g. {bad[0].path}: {bad[0].error}")
    return matrices


def measure(detector, layer_features: list[np.ndarray], test: list[dict]) -> dict:
    """The before/after figures of one detector on the test rows (features in test-row order)."""
    from deepfake_gui.analysis.metrics import binary_report, bootstrap_auc_ci
    from deepfake_gui.probes.sweep import per_generator_auc

    y = np.array([int(r["label"] == "fake") for r in test])
    groups = np.array([r["group"] for r in test])
    X = detector.select(layer_features)
    decision = detector.decision(X)
    report = binary_report(y, decision)
    verdicts = np.array(detector.verdicts(detector.probability(decision)))
    out = {
        "auc": report.auc, "auc_ci95": list(bootstrap_auc_ci(y, decision, groups)), "eer": report.eer,
        "per_generator": per_generator_auc(y, decision, [r["generator"] for r in test]),
        "real_called_fake": float((verdicts[y == 0] == "fake").mean()),
        "fake_called_fake": float((verdicts[y == 1] == "fake").mean()),
        "real_inconclusive": float((verdicts[y == 0] == "inconclusive").mean()),
        "fake_inconclusive": float((verdicts[y == 1] == "inconclusive").mean()),
        "threshold": detector.threshold, "inconclusive_band": [float(b) for b in detector.band],
    }
    distance = detector.reference_distance(X)
    if distance is not None:
        from deepfake_gui.analysis.metrics import roc_auc

        out["reference_distance_auc"] = roc_auc(y, distance)
        out["reference_distance_auc_ci95"] = list(bootstrap_auc_ci(y, distance, groups))
    return out


def _copy_references(split: ReferenceSplit, data: Path, dest: Path, modality: str) -> list[Path]:
    """The references in one folder (the bundle records one folder, not 45 paths); image tiles renamed."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    out = []
    for r in split.references:
        src = data / r["path"]
        name = src.name if modality == "audio" else f"{src.stem.rsplit('_', 1)[-1]}_{r['group']}{src.suffix}"
        shutil.copy2(src, dest / name)
        out.append(dest / name)
    return out


def run_case(shipped: str, source: str, args: argparse.Namespace) -> tuple[dict, Path]:
    from deepfake_gui.engine.adapt import AdaptOptions, AdaptReport, adapt_job
    from deepfake_gui.engine.evaluate import EvaluateReport, evaluate_job
    from deepfake_gui.engine.train import TrainOptions, TrainReport, train_job
    from deepfake_gui.probes.detector import Detector

    shipped_dir = REPO / "models" / shipped
    ship = Detector.load(shipped_dir)
    modality = str(ship.meta["modality"])
    data = (args.data_root / modality).resolve()
    manifest = data / "manifest.csv"
    rows = read_manifest(manifest)
    column = SOURCE_COLUMN[modality]
    if source not in sources(rows, column):
        raise SystemExit(f"{manifest}: unknown {column} {source!r}; known: {', '.join(sources(rows, column))}")
    split = reference_split(rows, source, column, seed=args.seed, where=str(manifest))
    work = args.work / f"{shipped}-{source}"
    work.mkdir(parents=True, exist_ok=True)
    train_csv = write_manifest(split.training, work / "train" / "manifest.csv", data)
    test_csv = write_manifest(split.test, work / "test" / "manifest.csv", data)
    refs = _copy_references(split, data, work / "references" / source, modality)
    case: dict = {
        "detector": shipped, "modality": modality, "held_out": {"column": column, "value": source},
        "seed": args.seed, "weight": args.weight, "drop_flagged": args.drop_flagged,
        "n_training": len(split.training), "n_training_groups": len({r["group"] for r in split.training}),
        "n_references": len(split.references), "reference_groups": split.reference_groups,
        "n_test_real": sum(r["label"] == "real" for r in split.test),
        "n_test_fake": sum(r["label"] == "fake" for r in split.test), "test_groups": split.test_groups,
        "test_generators": sorted({r["generator"] for r in split.test} - {"real"}),
    }
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    print(f"  training the base without {source}", file=sys.stderr, flush=True)
    base_report = _drain(train_job(TrainOptions(
        data=train_csv, encoder=ship.encoder_name, out=work / "base", sweep=True, top_k=len(ship.layers),
        classifier=str(ship.meta.get("classifier", "logreg")), folds=5, device="cpu", seed=args.seed,
        name=f"{shipped} (trained without {source})")), TrainReport)
    timings["train_base_s"] = time.perf_counter() - t0
    base = Detector.load(base_report.bundle_path)
    case["base"] = {"name": base.name, "layers": base.meta["layer_names"], "shipped_layers": ship.meta["layer_names"],
                    "cv_auc": base.meta["metrics"]["cv_auc"], "cv_eer": base.meta["metrics"]["cv_eer"]}

    t0 = time.perf_counter()
    test_features = _features(ship.encoder_name, [data / r["path"] for r in split.test])
    case["before"] = measure(base, test_features, split.test)
    timings["before_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    print(f"  adapting with {len(refs)} references", file=sys.stderr, flush=True)
    reference_name = f"{'Speaker' if modality == 'audio' else 'Photo source'}: {source} (half of its " \
                     f"{'sentences' if modality == 'audio' else 'photos'})"
    adapted = _drain(adapt_job(AdaptOptions(
        detector=base_report.bundle_path, real=[refs[0].parent], out=work / "adapted", weight=args.weight,
        reference_name=reference_name, name=f"{shipped}-adapted-{source}", training=train_csv,
        suspects=[data / r["path"] for r in split.test], drop_flagged=args.drop_flagged, device="cpu",
        seed=args.seed)), AdaptReport)
    timings["adapt_s"] = time.perf_counter() - t0
    after = Detector.load(adapted.bundle_path)
    case["after"] = measure(after, test_features, split.test)
    case["adapt_figures"] = adapted.figures
    case["adapt_warnings"] = adapted.warnings
    case["references_flagged_by_base"] = len(adapted.check.flagged)
    case["suspects_identical_to_a_reference"] = len(adapted.check.overlaps)

    t0 = time.perf_counter()
    ev = _drain(evaluate_job(adapted.bundle_path, test_csv, device="cpu"), EvaluateReport).metrics
    case["evaluate_adapted"] = {k: ev[k] for k in ("auc", "eer", "per_generator", "n_real", "n_fake", "threshold",
                                                   "inconclusive_rate", "caveats")}
    timings["evaluate_s"] = time.perf_counter() - t0
    case["timings"] = timings
    return case, adapted.bundle_path


# ------------------------------------------------------------------------- output
def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def table(cases: list[dict]) -> str:
    lines = ["| detector, held-out source | AUC before → after [95% CI] | EER before → after | "
             "real called fake | fakes called fake | reference-distance AUC |",
             "|---|---|---|---|---|---|"]
    for c in cases:
        b, a = c["before"], c["after"]
        lines.append(
            f"| {c['detector']}, {c['held_out']['value']} "
            f"| {b['auc']:.3f} [{b['auc_ci95'][0]:.2f}-{b['auc_ci95'][1]:.2f}] → "
            f"{a['auc']:.3f} [{a['auc_ci95'][0]:.2f}-{a['auc_ci95'][1]:.2f}] "
            f"| {b['eer']:.3f} → {a['eer']:.3f} "
            f"| {_pct(b['real_called_fake'])} → {_pct(a['real_called_fake'])} "
            f"| {_pct(b['fake_called_fake'])} → {_pct(a['fake_called_fake'])} "
            f"| {a.get('reference_distance_auc', float('nan')):.3f} |")
    return "\n".join(lines)


def generator_table(cases: list[dict]) -> str:
    gens = sorted({g for c in cases for g in c["before"]["per_generator"]})
    lines = ["| detector, held-out source | " + " | ".join(f"{g} AUC before → after" for g in gens) + " |",
             "|---|" + "---|" * len(gens)]
    for c in cases:
        cells = []
        for g in gens:
            b, a = c["before"]["per_generator"].get(g), c["after"]["per_generator"].get(g)
            cells.append(f"{b['auc']:.3f} → {a['auc']:.3f}" if b and a else "–")
        lines.append(f"| {c['detector']}, {c['held_out']['value']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card_section(case: dict, command: str) -> str:
    b, a, ev = case["before"], case["after"], case["evaluate_adapted"]
    audio = case["modality"] == "audio"
    who, unit = ("speaker", "sentence") if audio else ("photo source", "photo")
    fakes = "vocoded copies" if audio else "autoencoder reconstructions"
    others = "the other speakers and the TTS voices" if audio else "the other photo sources"
    n_groups = len(case["reference_groups"]) + len(case["test_groups"])
    gens = list(b["per_generator"])
    rows = [f"| {label} | {m['auc']:.3f} [{m['auc_ci95'][0]:.2f}-{m['auc_ci95'][1]:.2f}] | {m['eer']:.3f} | "
            f"{_pct(m['real_called_fake'])} | {_pct(m['fake_called_fake'])} | "
            + " | ".join(f"{m['per_generator'][g]['auc']:.3f}" for g in gens) + " |"
            for label, m in (("base, before adapting", b), ("this bundle, after adapting", a))]
    return "\n".join([
        "", f"## Measured on a held-out {who}", "",
        f"This bundle's base was trained **without {case['held_out']['value']}** (none of its real files and none "
        f"of its fakes): {case['n_training']} files of {others}, minus every {unit} of the test half; encoder and "
        f"recipe as the shipped `{case['detector']}` (layer sweep, the top {len(case['base']['layers'])} layers: "
        f"{', '.join(case['base']['layers'])}). The held-out {who}'s {n_groups} {unit}s were shuffled (seed "
        f"{case['seed']}) and halved: the real files of {len(case['reference_groups'])} {unit}s are the "
        f"{case['n_references']} references this bundle was adapted with (weight {case['weight']:g}); the other "
        f"{len(case['test_groups'])} {unit}s, {case['n_test_real']} real files and their {case['n_test_fake']} "
        f"{fakes} ({', '.join(case['test_generators'])}), are the test. No test {unit} is in training or among "
        f"the references (grouped by {unit}); 95% intervals by {unit} bootstrap. \"Called fake\" is the verdict at "
        "the bundle's own threshold. The base bundle is not kept; the command below rebuilds it.",
        "",
        "| | AUC [95% CI] | EER | real called fake | fakes called fake | "
        + " | ".join(f"AUC {g}" for g in gens) + " |",
        "|---|---|---|---|---|" + "---|" * len(gens),
        *rows,
        "",
        f"Distance to the references (its own line in a verdict): AUC {a['reference_distance_auc']:.3f} "
        f"[{a['reference_distance_auc_ci95'][0]:.2f}-{a['reference_distance_auc_ci95'][1]:.2f}] on the same test. "
        f"`layerscope evaluate` on this bundle and the test half: AUC {ev['auc']:.3f}, EER {ev['eer']:.3f}; "
        + ", ".join(f"{g} {v['auc']:.3f}" for g, v in ev["per_generator"].items()) + ".",
        "",
        "Reproduce (from the repository root, with the shared data at ../shared/data):",
        "", "```bash", command, "```", ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file for every figure")
    parser.add_argument("--cases", nargs="*", help="<shipped detector>:<source>, e.g. audio-ge2e:it_IT_m_Carlo "
                                                   "(default: every speaker / photo source for the three detectors)")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=Path("/tmp/layerscope-adapt-heldout"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight", type=float, default=5.0)
    parser.add_argument("--drop-flagged", action="store_true", help="adapt with --drop-flagged (leave out the "
                                                                    "references the base detector calls fake)")
    parser.add_argument("--example-dir", type=Path, help="copy the (single) case's adapted bundle here and append "
                                                         "the measurement to its MODEL_CARD.md")
    args = parser.parse_args(argv)
    cases = [c.split(":", 1) for c in args.cases] if args.cases else \
        [[d, s] for d, srcs in DEFAULT_CASES.items() for s in srcs]
    if args.example_dir and len(cases) != 1:
        parser.error("--example-dir needs exactly one --cases entry")
    results: list[dict] = []
    report = {"protocol": __doc__.split("\n\n")[1], "seed": args.seed, "weight": args.weight,
              "drop_flagged": args.drop_flagged, "cases": results}
    for shipped, source in cases:
        t0 = time.perf_counter()
        print(f"{shipped}, held out: {source}", file=sys.stderr, flush=True)
        case, bundle = run_case(shipped, source, args)
        case["seconds"] = time.perf_counter() - t0
        results.append(case)
        args.out.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
        print(table([case]).splitlines()[-1], file=sys.stderr, flush=True)
    if args.example_dir:
        size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
        if size > MAX_EXAMPLE_BYTES:
            print(f"{bundle}: {size / 1024**2:.1f} MB, over the {MAX_EXAMPLE_BYTES // 1024**2} MB an example may "
                  "take; not copied", file=sys.stderr)
        else:
            if args.example_dir.exists():
                if not (args.example_dir / "detector.json").is_file():
                    raise SystemExit(f"{args.example_dir}: exists and is not a detector bundle; not overwritten")
                shutil.rmtree(args.example_dir)
            shutil.copytree(bundle, args.example_dir)
            drop = " --drop-flagged" if args.drop_flagged else ""
            command = (f"nice -n 5 .venv/bin/python scripts/measure_adapt_heldout.py --cases {shipped}:{source} "
                       f"--seed {args.seed} --weight {args.weight:g}{drop} --example-dir {args.example_dir} "
                       "--out heldout-example.json")
            with open(args.example_dir / "MODEL_CARD.md", "a", encoding="utf-8") as fh:
                fh.write(model_card_section(results[0], command))
            print(f"example bundle: {args.example_dir} ({size / 1024:.0f} KB)", file=sys.stderr)
    print(table(results))
    print()
    print(generator_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
