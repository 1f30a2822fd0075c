"""`layerscope train`: sweep encoder layers with grouped CV and save a detector bundle (or the fusion MLP)."""

from __future__ import annotations

import argparse
import json
import sys

from deepfake_gui.cli.common import _na, _run_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    """`train --data ... --encoder ... --out ...`."""
    p = sub.add_parser("train", help="sweep encoder layers with grouped CV and save a detector bundle")
    p.add_argument("--data", required=True, action="append",
                   help="folder with real/ and fake/<generator>/, or a manifest.csv; repeat to train on several "
                        "data sets together (groups stay apart, each set's sources are held out in turn)")
    p.add_argument("--encoder", required=True,
                   help="encoder name (see `layerscope models list`), or `fusion` for the CLIP + prompt + ResNet MLP")
    p.add_argument("--select-by", choices=["auto", "logo", "cv"], default="auto",
                   help="choose layers by leave-one-generator-out mean AUC (logo; auto = when there are at least "
                        "two generators) or by grouped-CV AUC (cv)")
    p.add_argument("--image-tiles", type=int, default=9, metavar="N",
                   help="images: average the features of up to N native-resolution tiles, as scan sees a picture "
                        "(default 9; 0 = resize the whole picture)")
    p.add_argument("--map-head", metavar="I,J,...:G",
                   help="images: also train a heatmap head on these encoder layers, on layer G's grid (e.g. 3,4,5:4 "
                        "for efficientnet-lite0), from generated copies of real pictures pasted into them")
    p.add_argument("--no-protocols", action="store_true",
                   help="skip the leave-one-generator-out / leave-one-source-out tables and held-out calibration")
    p.add_argument("--no-shortcut-audit", action="store_true",
                   help="skip the classic model on duration, loudness, size and colour statistics")
    p.add_argument("--no-face-check", action="store_true",
                   help="pictures: skip counting faces per class (MTCNN on every training picture, once: "
                        "cached); the bundle then never withholds verdicts on faces, even if only its fakes show them")
    p.add_argument("--fusion-encoders", default="clip-vit-b-32,resnet-101", metavar="CLIP,RESNET",
                   help="the two encoders of --encoder fusion (default: clip-vit-b-32,resnet-101)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sweep", action="store_true", help="probe every layer and keep the best (default)")
    mode.add_argument("--layer", type=int, help="probe only this layer index")
    mode.add_argument("--layers", metavar="I,J,...", help="probe exactly these layer indices together (no sweep)")
    p.add_argument("--top-k", type=int, default=1, help="concatenate the k best layers (default 1)")
    p.add_argument("--classifier", choices=["logreg", "svm"], default="logreg")
    p.add_argument("--C", type=float, default=1.0,
                   help="inverse regularisation strength of the probe (default 1; smaller = simpler, which can carry "
                        "better to unseen generators: compare the leave-one-generator-out figures)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--out", required=True, help="detector bundle folder to write")
    p.add_argument("--name", help="detector name (default: encoder and layer)")
    p.add_argument("--domain-note", metavar="TEXT",
                   help="the training data in words (e.g. '8 kHz telephone read speech; TTS fakes'); every scan "
                        "result with this detector repeats it")
    p.add_argument("--augment", choices=["none", "social", "codec"], default="none",
                   help="train also on laundered copies of the training items: social (images: social-network "
                        "chain, JPEG, rescale, WebP; audio: low bit-rate codecs and phone band) or codec "
                        "(re-compression only); copies stay in their original's group and are cached")
    p.add_argument("--augment-copies", type=int, default=1, metavar="N", help="laundered copies per item (default 1)")
    p.add_argument("--robustness", nargs="?", const="", default=None, metavar="A,B,...",
                   help="also measure grouped-CV AUC/EER under laundering conditions (default: the modality's "
                        "standard set) into the model card and robustness.png")
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and the laundering draws (default 0)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepfake_gui.engine.train import TrainOptions, train_job

    layers = _int_list(args.layers, "--layers") if args.layers else None
    map_head = None
    if args.map_head:
        head_layers, _, grid = args.map_head.partition(":")
        if not grid:
            raise SystemExit(f"layerscope: --map-head {args.map_head}: give the grid layer after a colon, e.g. 3,4,5:4")
        map_head = (*_int_list(head_layers, "--map-head"), *_int_list(grid, "--map-head"))
    robustness: bool | list[str] = False
    if args.robustness is not None:
        robustness = [c for c in args.robustness.split(",") if c.strip()] or True
    data = [Path(d) for d in args.data]
    opts = TrainOptions(data=data if len(data) > 1 else data[0], encoder=args.encoder, out=Path(args.out),
                        sweep=args.layer is None and layers is None, layer=args.layer, layers=layers,
                        top_k=args.top_k, classifier=args.classifier, folds=args.folds, device=args.device,
                        name=args.name, domain_note=args.domain_note, augment=args.augment,
                        augment_copies=args.augment_copies, robustness=robustness, seed=args.seed,
                        select_by=args.select_by, protocols=not args.no_protocols,
                        shortcut_audit=not args.no_shortcut_audit, image_tiles=args.image_tiles, C=args.C,
                        map_head=map_head, face_check=not args.no_face_check)
    if args.encoder == "fusion":
        from deepfake_gui.engine.train_fusion import train_fusion_job

        clip_name, resnet_name = args.fusion_encoders.split(",")
        report = _run_job(train_fusion_job(opts, clip_name, resnet_name), "train fusion")
        m = report.meta["metrics"]
        summary = {"detector": str(report.bundle_path), "encoder": "fusion", "encoders": [clip_name, resnet_name],
                   "cv": {k: m[k] for k in ("cv_auc", "cv_auc_ci95", "cv_eer", "cv_min_dcf")},
                   "per_generator": m["per_generator"], "per_fold": m["per_fold"], "timings_s": report.timings,
                   "failed_files": report.failed}
        print(json.dumps(summary, indent=2) if args.json else
              f"fusion detector: out-of-fold AUC {m['cv_auc']:.3f}, EER {m['cv_eer']:.3f}; saved {report.bundle_path}")
        return 0
    report = _run_job(train_job(opts), "train")
    chosen_names = [report.meta["layer_names"][i] for i in range(len(report.chosen))]
    m = report.meta["metrics"]
    if args.json:
        print(json.dumps({
            "detector": str(report.bundle_path),
            "encoder": args.encoder,
            "layers": [{"layer": r["layer"], "name": r["name"], "auc": r["auc"], "auc_std": r["auc_std"],
                        "eer": r["eer"], "eer_std": r["eer_std"], "accuracy": r["accuracy"],
                        "accuracy_std": r["accuracy_std"], "logo_mean_auc": r.get("logo_mean_auc")}
                       for r in report.layers],
            "headline": m.get("headline"),
            "logo": m.get("logo"),
            "loso": m.get("loso"),
            "selective": report.meta.get("selective"),
            "shortcut_audit": m.get("shortcut_audit"),
            "chosen_layer": report.chosen[0] if len(report.chosen) == 1 else report.chosen,
            "chosen_layer_names": chosen_names,
            "cv": {k: m[k] for k in ("cv_auc", "cv_auc_ci95", "cv_eer", "cv_min_dcf")},
            "per_generator": m["per_generator"],
            "learning_curve": m["learning_curve"],
            "attribution_cv": report.meta.get("attribution_cv"),
            "one_class": m.get("one_class"),
            "clustering": m.get("clustering"),
            "timings_s": report.timings,
            "failed_files": report.failed,
            "augmentation": report.meta.get("augmentation"),
            "robustness": report.robustness,
        }, indent=2))
        return 0
    by_logo = any(r.get("logo_mean_auc") is not None for r in report.layers)
    print(f"{'layer':>5}  {'name':12s} {'dim':>5}  {'AUC':>15}  {'EER':>15}  {'accuracy':>15}"
          + ("  LOGO AUC" if by_logo else ""))
    for r in report.layers:
        mark = " <- chosen" if r["layer"] in report.chosen else ""
        logo = f"  {r['logo_mean_auc']:.3f}   " if r.get("logo_mean_auc") is not None else ""
        print(f"{r['layer']:>5}  {r['name']:12s} {r['dim']:>5}  {r['auc']:.3f} ± {r['auc_std']:.3f}    "
              f"{r['eer']:.3f} ± {r['eer_std']:.3f}    {r['accuracy']:.3f} ± {r['accuracy_std']:.3f}{logo}{mark}")
    if by_logo:
        print("layers chosen by leave-one-generator-out mean AUC (LOGO), not by in-domain CV")
    print("\n".join(_protocol_lines(m, report.meta)))
    lo, hi = m["cv_auc_ci95"]
    print(f"\nchosen: {', '.join(chosen_names)}; out-of-fold AUC {m['cv_auc']:.3f} (95% CI by group {lo:.3f}-{hi:.3f}),"
          f" EER {m['cv_eer']:.3f}, minDCF {m['cv_min_dcf']:.3f}")
    for gen, v in m["per_generator"].items():
        print(f"  real vs {gen:24s} AUC {v['auc']:.3f}  (n={v['n']})")
    oc = m.get("one_class") or {}
    if oc:
        print(f"one-class (real only, Mahalanobis): AUC {oc['auc']:.3f}; per generator: "
              + ", ".join(f"{g} {v['auc']:.3f}" for g, v in oc["per_generator"].items()))
    cl = m.get("clustering")
    if cl:
        print(f"clusters of the fakes: k={cl['k']} (silhouette {cl['silhouette']:.2f}), purity {cl['purity']:.3f} "
              f"against {cl['n_generators']} generators, ARI {cl['adjusted_rand']:.3f}")
    if report.meta.get("attribution_cv"):
        print(f"attribution (real + each generator), cross-validated accuracy "
              f"{report.meta['attribution_cv']['accuracy']:.3f}")
    print("learning curve: " + ", ".join(f"{c['fraction']:.0%}: {c['auc']:.3f}" for c in m["learning_curve"]))
    aug = report.meta.get("augmentation")
    if aug:
        print(f"augmentation {aug['policy']}: {aug['n_copies']} laundered copies ("
              + ", ".join(f"{k} {v}" for k, v in aug["per_condition"].items()) + ")")
    if report.robustness:
        print("\n".join(_robustness_lines(report.robustness)))
    t = report.timings
    print(f"timings: features {t['features_s']:.1f} s, sweep {t['sweep_s']:.1f} s, final fit {t['final_fit_s']:.1f} s")
    if report.failed:
        print(f"{len(report.failed)} file(s) could not be used, e.g. {report.failed[0]}", file=sys.stderr)
    print(f"saved {report.bundle_path}")
    return 0


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"layerscope: {option} takes comma-separated integers, got {text!r}") from None


def _robustness_lines(table: dict) -> list[str]:
    seen = set(table.get("in_augmentation") or [])
    lines = [f"robustness ({table['method']}; augmentation: {table['augment']}):"]
    for name, row in table["conditions"].items():
        auc, eer = _na(row["auc"]), _na(row["eer"])
        mark = "  (in the augmentation pool)" if name in seen else ""
        lines.append(f"  {name:16s} AUC {auc:>6}  EER {eer:>6}  n={row['n']}{mark}")
    return lines


def _protocol_lines(m: dict, meta: dict) -> list[str]:
    """The held-out figures of a freshly trained detector: what users will see on new generators and sources."""
    out: list[str] = []
    for key, title in (("logo", "leave-one-generator-out"), ("loso", "leave-one-source-out")):
        table = m.get(key) or {}
        if not table.get("held_out"):
            continue
        out.append(f"{title}: mean AUC {table['mean_auc']:.3f}, worst {table['min_auc']:.3f}")
        for name, row in table["held_out"].items():
            ci = row.get("ci95")
            ci_text = f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci else ""
            auc = _na(row["auc"])
            out.append(f"  {name:32s} AUC {auc}{ci_text}  real {row['n_real']}, fake {row['n_fake']}")
    sel = meta.get("selective")
    if sel:
        out.append(f"held-out calibration: coverage {sel['coverage']:.1%}, accuracy on committed files "
                   f"{sel['accuracy_committed']:.1%}, real files called fake {sel['false_accusation']:.1%} "
                   f"(band {meta['inconclusive_band'][0]:.3f}-{meta['inconclusive_band'][1]:.3f})")
    audit = m.get("shortcut_audit")
    if audit:
        out.append(f"shortcut audit: {audit['verdict']}")
    return out
