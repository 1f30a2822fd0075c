"""LabModel and ReferencesModel without Qt: the request built from the picks, results folded in, the rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import Progress
from deepfake_gui.engine.adapt import (
    AdaptOptions,
    AdaptReport,
    ReferenceCheck,
    ScoredFile,
    adapt_job,
    check_references_job,
)
from deepfake_gui.engine.probe_lab import (
    EncoderChoice,
    LabRequest,
    LabResult,
    LayerMap,
    LayerScore,
    lab_job,
    tsne_job,
)
from deepfake_gui.gui.models import probe_lab
from deepfake_gui.gui.models.common import Status
from deepfake_gui.gui.models.probe_lab import (
    CLEARED_SUMMARY,
    EMPTY_SUMMARY,
    FAKE_PALETTE,
    HISTOGRAM_BINS,
    REAL_COLOR,
    LabActions,
    LabModel,
    curve,
)
from gui_models.stand_ins import Handle

IMAGE_ENCODERS = [EncoderChoice("test-efficientnet", "image", True, True, 9),
                  EncoderChoice("clip", "image", False, False, 12, "weights missing: run layerscope models fetch")]


def scores() -> list[LayerScore]:
    return [LayerScore(i, name, auc, 0.05, 0.2, 0.01, 0.8, i, 3)
            for i, (name, auc) in enumerate([("stem", 0.6), ("mid", 0.97), ("head", 0.8)])]


def lab_result(run_id: str = "run-1") -> LabResult:
    rng = np.random.default_rng(0)
    meta = {"metrics": {"cv_auc": 0.9, "cv_auc_ci95": [0.8, 0.95], "cv_eer": 0.12,
                        "per_generator": {"gan": {"auc": 0.91, "n": 2}}},
            "training": {"n_real": 2, "n_fake": 2, "n_groups": 4}, "attribution_cv": {"accuracy": 0.75}}
    return LabResult(run_id, Path("/staged/run-1"), "gan-test-efficientnet", "test-efficientnet", True, meta,
                     scores(), 1, [rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), None],
                     np.array([0, 0, 1, 1]), ["real", "real", "gan", "diffusion"], ["a", "b", "c", "d"],
                     ["/d/r0.png", "/d/r1.png", "/d/g0.png", "/d/d0.png"],
                     [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3)],
                     warnings=["random weights: test only"])


@pytest.fixture
def lab(tmp_path: Path) -> LabModel:
    model = LabModel(device="cpu", folds=3, seed=7, staging=tmp_path / "staging", detectors_dir=tmp_path / "mine")
    model.encoders_listed(IMAGE_ENCODERS)
    return model


def swept(lab: LabModel) -> LabResult:
    lab.add_real_folder("/data/real")
    lab.add_fake_folder("/data/gan")
    lab.start_sweep()
    lab.sweep_job = Handle()
    result = lab_result()
    lab.sweep_result(result)
    lab.end_sweep("finished")
    return result


def test_a_fresh_lab_says_what_to_do_and_offers_only_usable_encoders(lab: LabModel) -> None:
    assert lab.summary == EMPTY_SUMMARY and lab.bar is None and lab.status == Status()
    assert lab.encoder == "test-efficientnet"  # clip's weights are missing: not picked
    assert lab.actions() == LabActions(run=True, cancel=False, save=False, tsne=False, pca=False)
    lab.encoders_listed([EncoderChoice("test-whisper", "audio", True, True, 4)])  # a list for another kind: stale
    assert [c.name for c in lab.encoders] == ["test-efficientnet", "clip"]
    lab.encoders_listed(IMAGE_ENCODERS[1:])
    assert lab.encoder is None and lab.status.error
    assert lab.status.text == "No images encoder has its weights here: weights missing: run layerscope models fetch"


def test_the_request_is_built_from_the_picks(lab: LabModel, tmp_path: Path) -> None:
    assert lab.add_real_folder("/data/real") and not lab.add_real_folder("/data/real")
    assert lab.add_fake_folder("/data/gan_a") == ("/data/gan_a", "gan_a")
    lab.add_fake_folder("/data/b", "checker")
    lab.rename_generator(0, "  stylegan ")
    lab.name = " My detector "
    assert lab.fake_folders() == [("/data/gan_a", "stylegan"), ("/data/b", "checker")]
    assert lab.request() == LabRequest(
        encoder="test-efficientnet", real_folders=[Path("/data/real")],
        fake_folders=[(Path("/data/gan_a"), "stylegan"), (Path("/data/b"), "checker")], manifest=None,
        name="My detector", device="cpu", folds=3, seed=7, staging=tmp_path / "staging")
    factory = lab.start_sweep()
    assert factory.func is lab_job and factory.args == (lab.request(),)
    assert lab.status == Status("Sweeping test-efficientnet…") and lab.bar.maximum == 0
    assert lab.bar.text == "waiting for the engine…" and lab.summary == CLEARED_SUMMARY
    lab.sweep_job = Handle()
    assert lab.actions() == LabActions(run=False, cancel=True, save=False, tsne=False, pca=False)
    assert lab.start_sweep() is None  # one sweep at a time
    lab.remove_fake_rows([0])
    assert lab.fake_folders() == [("/data/b", "checker")]


def test_no_encoder_means_no_sweep(lab: LabModel) -> None:
    lab.pick_encoder(None)
    with pytest.raises(LayerScopeError, match="choose an encoder first"):
        lab.request()
    assert lab.start_sweep() is None and lab.status == Status("choose an encoder first", True)


def test_the_curve_grows_and_the_run_is_shown_at_its_chosen_layer(lab: LabModel) -> None:
    lab.start_sweep()
    lab.sweep_job = Handle()
    lab.sweep_started()
    assert lab.bar.text == "starting…"
    lab.show_progress(Progress(2, 4, "layer 2/4"), probe_lab.SWEEP_NAME)
    assert lab.bar.maximum == 1000 and lab.bar.value == 500 and lab.bar.text == "layer 2/4"
    assert lab.status.text == "Probe lab at work: layer 2/4… (Cancel stops it)"
    for score in scores():
        lab.sweep_result(score)
    drawn = curve(lab.scores)
    assert drawn.x.tolist() == [0, 1, 2] and drawn.auc.tolist() == [0.6, 0.97, 0.8]
    assert drawn.upper.tolist() == pytest.approx([0.65, 1.0, 0.85]) and drawn.x_range == (-0.5, 2.5)
    assert drawn.ticks == [(0.0, "stem"), (1.0, "mid"), (2.0, "head")]
    result = lab_result()
    lab.sweep_result(result)
    assert lab.result is result and lab.selected_layer == 1 and lab.name_placeholder == "gan-test-efficientnet"
    np.testing.assert_array_equal(lab.points.coords, result.coords[1])
    assert lab.points.colors == [REAL_COLOR, REAL_COLOR, FAKE_PALETTE[1], FAKE_PALETTE[0]]  # fakes by name
    assert lab.points.symbols == ["o", "o", "t1", "t1"] and lab.points.names[2] == "g0.png (gan)"
    assert lab.map_label == "Layer mid (1) (PCA): 4 items"
    assert lab.legend.startswith(f"<span style='color:{REAL_COLOR}'>●</span> real (2) · ")
    assert "CV AUC <b>0.900</b> (95% CI by group 0.800–0.950) · EER 0.120" in lab.summary
    assert "AUC per generator: gan 0.910 (n=2)" in lab.summary and "CV accuracy 0.750" in lab.summary
    assert lab.warnings_html() == "⚠ random weights: test only"
    lab.end_sweep("finished")
    assert lab.status.text == ("Sweep done: chosen layer mid, CV AUC 0.900; detector staged at /staged/run-1. "
                               "Check the warnings, then Save and activate.")
    assert lab.bar.maximum == 1 and lab.bar.value == 1 and lab.bar.text == "done"
    assert lab.actions() == LabActions(run=True, cancel=False, save=True, tsne=True, pca=True)
    assert not lab.select_layer(5) and lab.select_layer(2)
    assert lab.points is None and lab.map_label == "Layer head (2): all items have identical features, nothing to map"


def test_a_failed_or_cancelled_sweep_says_so(lab: LabModel) -> None:
    lab.start_sweep()
    lab.sweep_job = Handle()
    lab.end_sweep("failed", "LayerScopeError: no real files in /data", "Traceback…")
    assert lab.status == Status("Sweep failed: no real files in /data", True) and lab.status_tip == "Traceback…"
    assert lab.bar.text == "" and lab.actions().run and not lab.actions().save
    lab.start_sweep()
    lab.sweep_job = Handle()
    lab.end_sweep("cancelled")
    assert lab.status == Status("Sweep cancelled.")


def test_tsne_is_asked_for_once_per_layer_and_only_this_runs_is_kept(lab: LabModel) -> None:
    result = swept(lab)
    factory = lab.compute_tsne()
    assert factory.func is tsne_job and factory.args[1:] == (1, "run-1", 7)
    np.testing.assert_array_equal(factory.args[0], result.features[1])
    assert lab.bar.text == "t-SNE of layer mid (1)…" and lab.map_label == "computing t-SNE of layer mid (1)…"
    lab.tsne_job = Handle()
    assert lab.compute_tsne() is None and not lab.actions().tsne and lab.actions().cancel
    assert not lab.tsne_result(LayerMap("another-run", 1, "tsne", np.zeros((4, 2))))
    xy = np.arange(8.0).reshape(4, 2)
    assert lab.tsne_result(LayerMap("run-1", 1, "tsne", xy))
    np.testing.assert_array_equal(lab.points.coords, xy)
    assert lab.map_label == "Layer mid (1) (t-SNE): 4 items"
    lab.end_tsne("finished")
    assert lab.tsne_job is None and lab.bar.text == "done" and lab.actions().tsne
    lab.show_pca()
    np.testing.assert_array_equal(lab.points.coords, result.coords[1])
    assert lab.compute_tsne() is None  # computed before: shown at once
    np.testing.assert_array_equal(lab.points.coords, xy)
    lab.select_layer(0)
    assert lab.map_label == "Layer stem (0) (PCA): 4 items (t-SNE of this layer not computed yet)"


def test_save_uses_the_typed_name_or_the_runs(lab: LabModel, monkeypatch, tmp_path: Path) -> None:
    saved: list[tuple] = []

    def fake_save(staged, name, *, overwrite, detectors_dir):
        saved.append((staged, name, overwrite, detectors_dir))
        if name == "taken":
            raise LayerScopeError("already saved under this name")
        return detectors_dir / name

    monkeypatch.setattr(probe_lab, "save_detector", fake_save)
    assert lab.save() is None and lab.status == Status("Run a sweep first: there is no detector to save.", True)
    swept(lab)
    assert lab.save() == tmp_path / "mine" / "gan-test-efficientnet"
    assert saved[-1] == (Path("/staged/run-1"), "gan-test-efficientnet", False, tmp_path / "mine")
    assert lab.status.text.startswith("Saved detector 'gan-test-efficientnet' to ")
    lab.name, lab.overwrite = "taken", True
    assert lab.save() is None and lab.status == Status("Not saved: already saved under this name", True)
    assert saved[-1][2] is True


def test_media_kind_is_guessed_until_the_user_pins_it(lab: LabModel) -> None:
    assert lab.may_guess_modality()
    assert lab.modality_guessed("audio") and lab.modality == "audio"
    assert lab.status == Status("The folder holds audio files: showing audio encoders.")
    assert not lab.modality_guessed("audio") and not lab.modality_guessed(None)
    lab.pick_modality("image")
    assert not lab.may_guess_modality() and not lab.modality_guessed("audio") and lab.modality == "image"
    assert lab.set_encoder("test-whisper")  # another media kind: the view reloads the encoder list
    assert lab.modality == "audio" and lab.encoder == "test-whisper" and lab.wanted_encoder == "test-whisper"
    lab.encoders_listed([EncoderChoice("whisper-base", "audio", False, True, 6),
                         EncoderChoice("test-whisper", "audio", True, True, 4)])
    assert lab.encoder == "test-whisper"  # kept across the reload


def test_a_manifest_replaces_the_folders(lab: LabModel, tmp_path: Path) -> None:
    manifest = tmp_path / "set" / "manifest.csv"
    manifest.parent.mkdir()
    manifest.write_text("path,label\n")
    assert lab.can_clear_manifest  # as the lab always opened: Clear enabled before any pick
    assert lab.set_manifest(manifest) == str(manifest.parent)  # the folder to guess the media kind from
    assert lab.manifest_text == f"Using {manifest} (the folders above are ignored)"
    assert lab.request().manifest == manifest
    assert lab.can_clear_manifest
    assert lab.set_manifest(None) is None and lab.manifest_text == "" and not lab.can_clear_manifest


# ------------------------------------------------------------------ genuine references
def check() -> ReferenceCheck:
    refs = [ScoredFile(f"/refs/cam{i}.png", None, p, "fake" if p > 0.5 else "real")
            for i, p in enumerate([0.1, 0.2, 0.72, 0.9])]
    refs.append(ScoredFile("/refs/broken.png", None, None, None, error="cannot decode"))
    suspects = [ScoredFile("/s/x.png", None, 0.95, "fake")]
    return ReferenceCheck("base", "/models/base", "image", refs, suspects, 0.5, (0.4, 0.6), ["/s/x.png"])


def test_reference_options_come_from_the_picks(lab: LabModel) -> None:
    refs = lab.references
    refs.base = None
    with pytest.raises(LayerScopeError, match="base detector"):
        refs.options()
    refs.set_base("/models/base")
    assert ("base", "/models/base") in refs.bases
    assert refs.start(adapt=False) is None and lab.status == Status("add at least one folder of genuine files", True)
    assert refs.add_folder("/refs") and not refs.add_folder("/refs")
    refs.add_suspects("/s")
    refs.reference_name = " Device: camera "
    factory, name, what = refs.start(adapt=False)
    assert factory.func is check_references_job and (name, what) == ("Checking the references", "Check")
    opts: AdaptOptions = factory.args[0]
    assert (opts.detector, opts.real, opts.suspects, opts.reference_name) == (
        Path("/models/base"), [Path("/refs")], [Path("/s")], "Device: camera")
    assert (opts.device, opts.folds, opts.seed, opts.exclude) == ("cpu", 3, 7, [])
    assert lab.status.text == "Scoring the references with the base detector…" and lab.bar.maximum == 0
    refs.job = Handle()
    assert not refs.idle and refs.start(adapt=True) is None and lab.actions().cancel


def test_a_check_is_drawn_and_its_flagged_references_left_out_until_kept(lab: LabModel) -> None:
    refs = lab.references
    refs.set_base("/models/base")
    refs.add_folder("/refs")
    refs.job = Handle()
    refs.fold(check())
    assert len(HISTOGRAM_BINS) == 21 and refs.reference_counts.sum() == 4  # bins of 0.05; the unreadable one left out
    assert np.flatnonzero(refs.reference_counts).tolist() == [2, 4, 14, 18]  # 0.1, 0.2, 0.72, 0.9
    assert refs.suspect_counts.sum() == 1 and refs.threshold == 0.6
    assert refs.flagged == [("/refs/cam2.png", "cam2.png  (P(fake) 0.72)"),
                            ("/refs/cam3.png", "cam3.png  (P(fake) 0.90)")]
    assert refs.dropped() == ["/refs/cam2.png", "/refs/cam3.png"]
    assert refs.info.startswith("4 references scored by base; 2 called fake<br>1 unreadable, e.g. cannot decode")
    assert "1 suspect file(s) are also references (same sha256), e.g. x.png" in refs.info
    assert lab.status.text.startswith("References checked")
    refs.keep("/refs/cam2.png", left_out=False)
    assert refs.dropped() == ["/refs/cam3.png"]
    refs.end("Check", None)
    assert refs.idle and lab.bar.text == "done"
    factory, name, _ = refs.start(adapt=True)
    assert factory.func is adapt_job and name == "Adapting" and factory.args[0].exclude == [Path("/refs/cam3.png")]


def test_an_adapted_detector_is_saved_and_a_failure_explained(lab: LabModel, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(probe_lab, "save_detector", lambda staged, name, **kw: kw["detectors_dir"] / "adapted")
    refs = lab.references
    refs.job = Handle()
    report = AdaptReport(Path("/staged/adapt"), {"name": "base + camera"}, check(), [],
                         {"reference_false_alarm_before": 0.5, "reference_false_alarm_after": 0.05,
                          "training_cv_auc_after": 0.93}, warnings=["few references"])
    assert refs.fold(report) == tmp_path / "mine" / "adapted"
    assert refs.report is report and lab.saved_path == tmp_path / "mine" / "adapted"
    assert ("References called fake: 50% by the base detector, 5% after adapting (held out); training AUC 0.930"
            "<br>⚠ few references") in refs.info
    assert lab.status.text.startswith("Saved adapted detector 'base + camera' to ")
    refs.failed("Adapting", "LayerScopeError: at least 10 reference files", "Traceback…")
    assert lab.status == Status("Adapting failed: at least 10 reference files", True)
    assert lab.status_tip == "Traceback…" and lab.bar.text == "failed: at least 10 reference files"
