"""The scan job: files in, one ScanResult per file out, as a generator.

Each file goes through every detector that fits its modality: images through
the image detectors, audio through the audio detectors, a video's frames
through the image detectors and its sound track through the audio detectors.
The merge rules (verdict per track, disagreement, video fusion) live in
engine/verdicts.py so the CLI, the GUI and the reports agree.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deepfake_gui.core.errors import FileStopped, LayerScopeError, MediaError
from deepfake_gui.core.jobs import Cancelled, CancelToken, Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.media.walk import InputEntry, walk_inputs


@dataclass
class ScanOptions:
    device: str = "auto"
    detectors: list[str] = field(default_factory=list)  # --detector: replaces the defaults of its modality
    use_defaults: bool = True
    # defaults chosen by scripts/measure_aggregation.py (README "How a file score is made")
    window_s: float = 2.0
    hop_s: float = 0.5
    audio_aggregation: str = "logsumexp"
    image_aggregation: str = "logsumexp"
    frame_aggregation: str = "logsumexp"
    max_tiles: int = 64
    # image tiles / video frames per encoder call (audio: one pass per 30 s chunk); None = auto:
    # 16 on the CPU, from free GPU memory on CUDA (scan_batch_size), resolved once per scan
    batch_size: int | None = None
    frames_per_second: float = 2.0
    faces: bool = False
    fusion_rule: str = "max"
    keep_arrays: bool = True  # full series and heatmaps on result.arrays (the GUI's and reports' view)
    provenance: bool = True  # read metadata and C2PA Content Credentials (provenance/)
    cross_file_batches: bool = True  # small pictures' tiles share encoder batches (engine/image_batch.py)
    prefetch: int = 2  # files probed and hashed ahead in a worker thread (engine/prefetch.py); 0 = inline
    # Every decode (the probe, the scoring's pictures, frames and audio, the metadata) in worker processes with a
    # time limit per answer and a memory limit (engine/isolate.py): a decoder crash or hang is one error line.
    # The CLI turns it on; None = in this process (the GUI, tests, stand-ins).
    decode_timeout_s: float | None = None
    # No file may take this process more than this many bytes above its size with the detectors loaded
    # (engine/memory.py); beyond it the file is an error line. The CLI sets 2 GB; None = no budget.
    memory_budget_bytes: int | None = None
    # Files the scan itself writes (the CLI's --out), never scanned though they lie in a scanned folder.
    skip_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Bad settings fail before the first file, not once per file."""
        from deepfake_gui.engine.score_audio import AudioOptions

        aggregations = ("mean", "logsumexp", "max")
        try:
            AudioOptions(self.window_s, self.hop_s, self.audio_aggregation)
            for name in ("audio_aggregation", "image_aggregation", "frame_aggregation"):
                if getattr(self, name) not in aggregations:
                    raise ValueError(f"{name} must be one of {', '.join(aggregations)}, not {getattr(self, name)!r}")
            if self.max_tiles < 1 or (self.batch_size is not None and self.batch_size < 1) \
                    or self.frames_per_second <= 0:
                raise ValueError("max_tiles and batch_size must be at least 1 and frames_per_second positive")
            if self.decode_timeout_s is not None and not self.decode_timeout_s > 0:
                raise ValueError(f"decode_timeout_s must be positive, not {self.decode_timeout_s}")
            if self.memory_budget_bytes is not None and not self.memory_budget_bytes > 0:
                raise ValueError(f"memory_budget_bytes must be positive, not {self.memory_budget_bytes}")
            if self.fusion_rule not in ("max", "mean"):
                raise ValueError(f"fusion_rule must be max or mean, not {self.fusion_rule!r}")
        except ValueError as exc:
            raise LayerScopeError(f"scan settings: {exc}") from None


def scan_job(
    paths: Iterable[str | Path],
    options: ScanOptions | None = None,
    cancel: CancelToken | None = None,
    detectors: list | None = None,
) -> Iterator[Progress | ScanResult]:
    """Yield Progress (per file and per batch) and one ScanResult per file, errors included.

    ``detectors`` (a list of engine.detectors.ActiveDetector) lets a long-lived
    caller (the GUI thread) keep them warm between jobs.
    """
    options = options or ScanOptions()
    cancel = cancel or CancelToken()
    # absolute paths; special files and unreadable folders come with a reason
    files = list(walk_inputs(paths, skip=options.skip_paths))
    total = len(files)
    decoder, prober = _decoders(options)  # isolated: the workers start now, while the detectors load
    guard = None
    try:
        yield Progress(0, total, "loading detectors")
        if detectors is None:
            from deepfake_gui.engine.detectors import resolve_detectors

            detectors = resolve_detectors(options.detectors, options.device, options.use_defaults)
        if options.batch_size is None:
            options = replace(options, batch_size=scan_batch_size(None, detectors))
        guard = decoder.guard = _memory_guard(options)  # its baseline: this process with the detectors loaded
        yield Progress(0, total, "starting")
        yield from _scan_files(files, detectors, options, cancel, decoder, prober)
    finally:
        for closing in (prober, decoder, guard):
            if closing is not None:
                closing.close()


def _scan_files(files: list[InputEntry], detectors: list, options: ScanOptions, cancel: CancelToken, decoder,
                prober) -> Generator[Progress | ScanResult, None, None]:
    """The files in order: probed ahead, consecutive pictures batched together, one result each."""
    from deepfake_gui.engine import image_batch
    from deepfake_gui.engine.prefetch import prefetch
    from deepfake_gui.media import probe

    total, guard = len(files), decoder.guard
    batching = options.cross_file_batches and bool(image_batch.image_detectors(detectors))
    group: list[tuple[int, image_batch.PendingImage]] = []  # consecutive pictures waiting for one batch

    def flush() -> Generator[Progress | ScanResult, None, None]:
        if not group:
            return
        first = group[0][0]
        yield from image_batch.score_group([g for _, g in group], detectors, options, cancel, first - 1, total)
        for done_k, entry in group:
            cancel.raise_if_cancelled()
            result = yield from _finish_file(entry.path, entry.info, entry.before, entry.started, detectors, options,
                                             cancel, done_k, total, entry.scores, decoder)
            yield result
            yield Progress(done_k, total, entry.path.name)
        group.clear()

    def read_ahead(entry: InputEntry) -> tuple[dict[str, Any] | None, str, Any]:
        path = entry.path
        if entry.problem is not None:
            return None, _utc_now(), MediaError(path, "cannot scan", entry.problem, "unsupported")
        before, started = file_state(path), _utc_now()
        try:
            return before, started, (prober.probe(path) if prober is not None else probe(path))
        except Exception as exc:  # a scan never dies on one bad file
            return before, started, exc

    # in-process probes decode pictures here: read ahead, they would count against the file being scored
    depth = 0 if guard is not None and prober is None else options.prefetch
    for done, (entry, (before, started, info)) in enumerate(prefetch(read_ahead, files, depth), start=1):
        path = entry.path
        cancel.raise_if_cancelled()
        if isinstance(info, BaseException):
            yield from flush()
            result = ScanResult(path=str(path))
            result.status, result.error = "error", _probe_error(path, info)
            _check_integrity(result, path, before, started)
            yield result
            yield Progress(done, total, path.name)
            continue
        if batching and info.modality == "image":
            if not group and guard is not None:
                guard.begin_file()  # a group's pictures share one count, from its first
            group.append((done, image_batch.load_pending(path, info, before, started, detectors, options, decoder)))
            if sum(entry.n_tiles for _, entry in group) >= options.batch_size:
                yield from flush()
            continue
        yield from flush()
        if guard is not None:
            guard.begin_file()
        result = yield from _finish_file(path, info, before, started, detectors, options, cancel, done, total,
                                         decoder=decoder)
        yield result
        yield Progress(done, total, path.name)
    yield from flush()


def _memory_guard(options: ScanOptions):
    """The memory budget's watchdog, its baseline taken now; None without a budget."""
    if options.memory_budget_bytes is None:
        return None
    from deepfake_gui.engine.memory import MemoryGuard

    guard = MemoryGuard(options.memory_budget_bytes)
    guard.start()
    return guard


def _decoders(options: ScanOptions) -> tuple[Any, Any]:
    """(decoder for scoring, prober for the read-ahead thread).

    Isolated: two workers, so probing ahead never waits on scoring, both spawned
    now so that their start-up runs alongside the detectors' loading. In-process
    the prober is None (the read-ahead calls media.probe).
    """
    from deepfake_gui.engine.decoding import LocalDecoder

    if options.decode_timeout_s is None:
        return LocalDecoder(), None
    from deepfake_gui.engine.isolate import IsolatedDecoder

    decoder, prober = IsolatedDecoder(options.decode_timeout_s), IsolatedDecoder(options.decode_timeout_s)
    decoder.start()
    prober.start()
    return decoder, prober


def scan_batch_size(requested: int | None, detectors: list) -> int:
    """The batch size a scan uses: ``requested``, else the smallest that fits every image detector's encoder.

    Only image tiles and video frames are batched, so only image detectors count;
    on the CPU this is always encoders.device.DEFAULT_BATCH_SIZE (no measurement).
    """
    from deepfake_gui.encoders.device import DEFAULT_BATCH_SIZE, auto_batch_size, encoder_batch_size

    if requested is not None:
        return auto_batch_size(None, 1, requested=requested)
    from deepfake_gui.engine.score_image import needed_layers

    sizes = [encoder_batch_size(d.encoder, layers=needed_layers(d.detector)) for d in detectors
             if d.modality == "image" and d.encoder is not None and not d.unavailable]
    return min(sizes, default=DEFAULT_BATCH_SIZE)


def _probe_error(path: Path, exc: Exception) -> str:
    if isinstance(exc, MediaError):
        return str(exc)
    if isinstance(exc, LayerScopeError):
        return f"{path}: {exc}"
    return f"{path}: unexpected {type(exc).__name__}: {exc}"


def _finish_file(path: Path, info, before, started: str, detectors: list, options: ScanOptions,
                 cancel: CancelToken, done: int, total: int,
                 precomputed: dict | None = None, decoder=None) -> Generator[Progress, None, ScanResult]:
    """A probed file through scan_file, then provenance and the integrity check; errors become the result."""
    result = ScanResult(path=str(path))
    result.sha256 = info.sha256
    result.modality = info.modality
    result.media = info.to_dict()
    guard = getattr(decoder, "guard", None)
    over_budget = False
    try:
        extra: dict[str, Any] = {} if precomputed is None else {"precomputed": precomputed}  # stand-ins may not
        if decoder is not None:
            extra["decoder"] = decoder
        scanned = yield from scan_file(path, info, detectors, options, cancel, done - 1, total, **extra)
        if options.provenance:
            _add_provenance(scanned, path, info, decoder)
        if guard is not None:
            guard.check(path)  # the highest resident size since the file began, scoring included
    except Cancelled:
        raise
    except (MediaError, LayerScopeError) as exc:
        result.status, result.error = "error", str(exc)
        over_budget = isinstance(exc, FileStopped) and exc.reason == "too-large"
    except Exception as exc:
        result.status, result.error = "error", f"{path}: unexpected {type(exc).__name__}: {exc}"
    else:
        result = scanned
        # the probe's facts, plus what the scan measured in the content (media.content: kind, noise floor, ...)
        result.sha256, result.modality, result.media = info.sha256, info.modality, info.to_dict() | (result.media or {})
    if decoder is not None:
        decoder.recent.forget()
    if guard is not None and over_budget:
        guard.recover()  # outside the except block, so the stopped file's arrays are free to go
    _check_integrity(result, path, before, started)
    if not options.keep_arrays:
        result.arrays = {}
    return result


def scan_file(path: Path, info, detectors: list, options: ScanOptions, cancel: CancelToken,
              done: int = 0, total: int = 1, precomputed: dict | None = None,
              decoder=None) -> Generator[Progress, None, ScanResult]:
    """One probed file through the detectors that fit it; returns its ScanResult.

    ``precomputed`` maps a detector name to the picture's TrackScore (or the
    exception its scoring raised) when a cross-file batch already ran it.
    ``decoder`` (engine.decoding) reads the file: in a worker process for the CLI,
    None in this process. A FileStopped (decoder crashed, hung, or the memory
    budget) stops the whole file, never only one track.
    """
    from deepfake_gui.engine.decoding import LocalDecoder
    from deepfake_gui.engine.verdicts import finish_result

    decoder = decoder or LocalDecoder()
    result = ScanResult(path=str(path), modality=info.modality)  # the gate's adapt suggestion reads it
    tracks = _tracks_for(info)
    scores = []
    undecoded: dict[str, MediaError] = {}  # track -> why it did not decode to the end (the file, not a detector)
    failed: list[str] = []  # detectors that ran and raised
    for track, modality in tracks:
        fitting = [d for d in detectors if d.modality == modality]
        if not fitting:
            result.caveats.append(f"no {modality} detector is loaded: the {track} was not scored")
            continue
        for active in fitting:
            if active.unavailable:
                result.caveats.append(active.unavailable)
                continue
            try:
                if precomputed is not None and track == "image" and active.name in precomputed:
                    job = _ready(precomputed[active.name])
                else:
                    job = _track_job(path, info, track, active, options, cancel, decoder)
                score = yield from _relabel(job, done, total, path.name)
            except (Cancelled, FileStopped):
                raise
            except MediaError as exc:
                undecoded.setdefault(track, exc)
            except (ValueError, LayerScopeError) as exc:
                failed.append(f"detector {active.name} could not score the {track}: {exc}")
            else:
                scores.append(score)
    result.caveats.extend(failed)
    if not scores and undecoded:
        raise next(iter(undecoded.values()))  # nothing was scored: the file's error line says why
    if not scores and failed:
        raise LayerScopeError(f"{path}: no detector could score it: " + "; ".join(failed))
    from deepfake_gui.engine.face_gate import face_reasons
    from deepfake_gui.engine.gate import (
        apply_gate,
        content_check,
        domain_reasons,
        enlargement_reasons,
        recompression_reasons,
        withheld_track_reasons,
    )

    check = content_check(path, info, decoder) if scores else None  # also measures noise for the verdict
    result = finish_result(result, info, scores, detectors, options, content=check)
    if scores:
        scored = [d for d in detectors if d.name in {s.detector for s in scores}]
        reasons = (recompression_reasons(path, info, scored, decoder) + enlargement_reasons(info, scored)
                   + withheld_track_reasons(result))
        leaning = result.verdict in ("fake", "real") or (result.probability or 0.0) >= 0.5
        if leaning and not reasons and not (check is not None and check.reasons) and not domain_reasons(result):
            # the face check (MTCNN) where a verdict would stand, or where the score leans to fake
            reasons += face_reasons(path, info, scored, decoder)
        result = apply_gate(result, check, reasons)
    _add_segments(result, info, [s for s in scores if not result.detectors.get(s.detector, {}).get("withheld")],
                  detectors, withhold=result.gate is not None)
    if undecoded:
        mark_partial(result, undecoded)
    return result


def mark_partial(result: ScanResult, undecoded: dict[str, MediaError]) -> None:
    """A file scored only in part (a track did not decode to the end): ``partial``, never a plain "real".

    The unscored part could hold the fake, so a "real" becomes "inconclusive"; a
    "fake" stands (a fake part makes the file fake).
    """
    what = "; ".join(f"the {track} did not decode to the end ({exc})" for track, exc in undecoded.items())
    result.status = "partial"
    result.error = f"{result.path}: scored in part only: {what}"
    result.caveats.append(f"scored in part only: {what}")
    if result.verdict == "real":
        result.verdict = "inconclusive"
        result.caveats.append("called inconclusive, not real: the part that was not scored could hold the fake")


def file_state(path: Path) -> dict[str, Any] | None:
    """Size and modification time: what a change to the evidence file during the scan would alter."""
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _utc_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_integrity(result: ScanResult, path: Path, before: dict[str, Any] | None, started: str) -> None:
    """Record the file's state and the tool version; a file that changed mid-scan is an error, not a verdict.

    Size and mtime can be kept while bytes change (a writer may restore the
    mtime), so the content is hashed again after the scan and compared with the
    hash taken when it was probed: the sha256 reported is then the hash of the
    bytes that were scanned.
    """
    from deepfake_gui import __version__
    from deepfake_gui.core.hashing import sha256_file

    after = file_state(path)
    same_state = before is not None and before == after
    hashed_before = result.sha256
    hashed_after = None
    if hashed_before and after is not None:
        try:
            hashed_after = sha256_file(path)
        except OSError:
            hashed_after = None
    same_bytes = hashed_before is None or hashed_before == hashed_after
    unchanged = same_state and same_bytes
    result.integrity = {"tool_version": __version__, "started_utc": started, "finished_utc": _utc_now(),
                        "size": before and before["size"], "mtime_ns": before and before["mtime_ns"],
                        "sha256_before": hashed_before, "sha256_after": hashed_after,
                        "unchanged_during_scan": unchanged}
    if before is not None and not unchanged and result.status != "error":
        change = (f"size {before['size']} -> {after['size'] if after else 'gone'}" if not same_state
                  else f"same size and mtime, but sha256 {hashed_before[:12]}… -> "
                       f"{hashed_after[:12] + '…' if hashed_after else 'unreadable'}")
        result.status = "error"
        result.sha256 = None  # no single content was scanned
        result.error = (f"{path}: the file changed during the scan ({change}); its verdict would describe neither "
                        "version. Scan it again once it is no longer being written.")
    if result.status == "error":
        clear_scores(result)


def clear_scores(result: ScanResult) -> None:
    """An error line carries no verdict, probability or score (nor the per-detector figures behind them)."""
    result.score = result.probability = result.verdict = None
    result.detectors, result.attribution, result.components, result.segments = {}, [], {}, []
    result.series, result.heatmap, result.arrays = {}, None, {}


def _add_provenance(result: ScanResult, path: Path, info, decoder=None) -> None:
    """Metadata and Content Credentials beside the verdict; a disagreement becomes a caveat, the score stays.

    Read by ``decoder`` (engine.decoding; a worker process for the CLI): the metadata parsers and the C2PA
    library are native code on untrusted bytes too.
    """
    from deepfake_gui.engine.decoding import LocalDecoder
    from deepfake_gui.provenance import provenance_disagreement

    result.provenance = (decoder or LocalDecoder()).provenance(path, info.modality)
    caveat = provenance_disagreement(result.provenance, result.verdict)
    if caveat:
        result.caveats.append(caveat)


def _add_segments(result: ScanResult, info, scores: list, detectors: list, withhold: bool = False) -> None:
    """Suspected fake segments of the timed tracks (engine/segments.py), flagged when the file is called real.

    ``withhold``: the gate withheld the verdict, so segments say nothing either; the smoothed series the
    timelines draw are still computed, but no segment is listed.
    """
    from deepfake_gui.engine.segments import result_segments, segment_caveat

    segments = result_segments(scores, detectors, info, result.verdict)
    if withhold:
        if segments and result.gate is not None:
            result.gate["segments_withheld"] = len(segments)
        return
    result.segments = segments
    caveat = segment_caveat(result.segments)
    if caveat:
        result.caveats.append(caveat)


def _ready(value) -> Generator[Progress, None, object]:
    """A track job that has already run: returns its score, or raises the error it ended with."""
    if isinstance(value, BaseException):
        raise value
    return value
    yield  # a generator, like the track jobs


def _relabel(job: Generator, done: int, total: int, name: str) -> Generator[Progress, None, object]:
    """Pass a track job's batch progress up as file-level progress, keeping the batch counts."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        yield Progress(done, total, f"{name}: {event.message}", event.done, event.total)


def _tracks_for(info) -> list[tuple[str, str]]:
    """(track, detector modality) pairs for a probed file."""
    if info.modality == "image":
        return [("image", "image")]
    if info.modality == "audio":
        return [("audio", "audio")]
    tracks = [("frames", "image")]
    if info.has_audio:
        tracks.append(("audio", "audio"))
    return tracks


def _track_job(path: Path, info, track: str, active, options: ScanOptions, cancel: CancelToken, decoder=None):
    """The scoring job of one track; ``decoder`` (engine.decoding) reads the file (None: in this process)."""
    from deepfake_gui.engine.decoding import LocalDecoder

    decoder = decoder or LocalDecoder()
    if track == "audio":
        from deepfake_gui.engine.score_audio import AudioOptions, score_audio_track

        opts = AudioOptions(options.window_s, options.hop_s, options.audio_aggregation)
        return score_audio_track(path, active, opts, cancel, decoder=decoder)
    if track == "frames":
        from deepfake_gui.engine.score_video import VideoOptions, score_video_frames

        expected = None
        if info.duration_s:
            expected = int(info.duration_s * options.frames_per_second) + 1
        opts = VideoOptions(options.frames_per_second, options.faces, aggregation=options.frame_aggregation,
                            batch_size=options.batch_size)
        return score_video_frames(path, active, opts, cancel, expected, decoder=decoder)
    from deepfake_gui.engine.score_image import ImageOptions, score_image_array

    opts = ImageOptions(options.max_tiles, options.image_aggregation, batch_size=options.batch_size)
    return score_image_array(decoder.image(path), active, opts, cancel)
