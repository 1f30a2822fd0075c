"""The scan job: files in, one ScanResult per file out, as a generator.

Detection is wired in by the detectors issue; until then only media facts are
reported and every score is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from deepfake_gui.core.errors import LayerScopeError, MediaError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.core.results import ScanResult
from deepfake_gui.engine.walk import iter_input_files


@dataclass
class ScanOptions:
    device: str = "auto"


def scan_job(
    paths: Iterable[str | Path],
    options: ScanOptions | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress | ScanResult]:
    from deepfake_gui.media import probe

    options = options or ScanOptions()
    cancel = cancel or CancelToken()
    files = list(iter_input_files(paths))
    total = len(files)
    yield Progress(0, total, "starting")
    for done, path in enumerate(files, start=1):
        cancel.raise_if_cancelled()
        result = ScanResult(path=str(path))
        try:
            info = probe(path)
        except MediaError as exc:
            result.status, result.error = "error", str(exc)
        except LayerScopeError as exc:
            result.status, result.error = "error", f"{path}: {exc}"
        except Exception as exc:  # a scan never dies on one bad file
            result.status, result.error = "error", f"{path}: unexpected {type(exc).__name__}: {exc}"
        else:
            result.sha256 = info.sha256
            result.modality = info.modality
            result.media = info.to_dict()
            result.caveats.append("no detector ran: detection is not available in this version")
        yield result
        yield Progress(done, total, path.name)
