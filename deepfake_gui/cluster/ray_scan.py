"""`layerscope scan --cluster ray[=ADDRESS]`: the same scan, spread over a Ray cluster.

Why actors: loading the detectors (PyTorch, weights) costs seconds, so each Ray
worker is an actor that loads them once and then scans batch after batch, warm.
The driver lists the files (locally, so a path mistake fails before anything is
sent) and hands out small batches of paths; each actor scans its batch with the
ordinary scan job and returns the ScanResults, which the driver yields in order of
completion, exactly like the local scan yields them in file order.

Failure model: an actor that dies (out of memory, a lost node) is restarted by Ray
and the batch it was scanning is retried (``max_task_retries``); a batch that still
fails after the retries comes back as one error result per file. Every listed file
is accounted for. The cluster must see the same paths (a shared file system) and have
LayerScope installed; the result's ``integrity`` and hashes are measured where the file
is read, by the actor.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_gui.core.errors import LayerScopeError
from deepfake_gui.core.jobs import CancelToken, Progress
from deepfake_gui.core.results import ScanResult

TASK_RETRIES = 2  # per batch, on top of Ray restarting the dead actor
ACTOR_RESTARTS = 4


@dataclass(frozen=True)
class ClusterOptions:
    address: str | None = None  # None: start a local Ray instance; "auto" or "ray://host:10001": join one
    actors: int | None = None  # default: one per CPU (or per GPU when the cluster has GPUs)
    batch_files: int = 4  # files per task: small batches keep every actor busy to the end
    local_cpus: int | None = None  # for a local instance only


def parse_cluster(spec: str) -> ClusterOptions:
    """``ray`` (a local instance) or ``ray=ADDRESS`` (an existing cluster)."""
    name, _, address = spec.partition("=")
    if name.strip().lower() != "ray":
        raise LayerScopeError(f"--cluster {spec!r}: only Ray is supported (use ray or ray=ADDRESS)")
    return ClusterOptions(address=address.strip() or None)


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise LayerScopeError("--cluster ray needs Ray: pip install -e \".[cluster]\"") from exc
    return ray


def ensure_ray(options: ClusterOptions) -> bool:
    """Connect to (or start) Ray; returns True when this call started it (so it should be shut down)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "runtime_env": {"env_vars": _forwarded_env()}}
    if options.address:
        ray.init(address=options.address, **kwargs)
    else:
        ray.init(num_cpus=options.local_cpus, object_store_memory=512 * 1024**2, **kwargs)
    return True


def _forwarded_env() -> dict[str, str]:
    """The variables that decide where weights, caches and user detectors are: workers must agree."""
    import os

    keys = ("LAYERSCOPE_MODELS_DIR", "LAYERSCOPE_CACHE_DIR", "LAYERSCOPE_DATA_DIR", "HF_HUB_OFFLINE",
            "TRANSFORMERS_OFFLINE")
    return {k: os.environ[k] for k in keys if k in os.environ}


class _ScanWorker:
    """One warm set of detectors per actor; scans batches of paths with the ordinary scan job."""

    def __init__(self, options: Any) -> None:
        import torch

        from deepfake_gui.engine.detectors import resolve_detectors

        torch.set_num_threads(1)  # one actor per CPU: threads inside an actor would oversubscribe
        self.options = options
        self.detectors = resolve_detectors(options.detectors, options.device, options.use_defaults)

    def scan(self, paths: list[str]) -> list[ScanResult]:
        from deepfake_gui.engine.scan import scan_job

        return [e for e in scan_job(paths, self.options, detectors=self.detectors) if isinstance(e, ScanResult)]

    def ping(self) -> int:
        import os

        return os.getpid()


def ray_scan_job(paths: Iterable[str | Path], options: Any = None, cancel: CancelToken | None = None,
                 cluster: ClusterOptions | None = None, worker_cls: type = _ScanWorker
                 ) -> Iterator[Progress | ScanResult]:
    """Like engine.scan.scan_job, on Ray: Progress events and one ScanResult per file (order of completion).

    ``worker_cls`` is the actor class (tests pass one that crashes, to prove the retry).
    """
    from deepfake_gui.engine.scan import ScanOptions
    from deepfake_gui.media.walk import walk_inputs

    options = options or ScanOptions()
    cancel = cancel or CancelToken()
    cluster = cluster or ClusterOptions()
    # every path is accounted for: the workers report special files and unreadable folders as errors
    files = [str(e.path) for e in walk_inputs(paths, skip=options.skip_paths)]
    total = len(files)
    yield Progress(0, total, "starting Ray")
    ray = _ray()
    started = ensure_ray(cluster)
    try:
        yield from _run(ray, files, options, cancel, cluster, worker_cls)
    finally:
        if started:
            ray.shutdown()


def _run(ray, files: list[str], options: Any, cancel: CancelToken, cluster: ClusterOptions, worker_cls: type
         ) -> Iterator[Progress | ScanResult]:
    total = len(files)
    if not total:
        yield Progress(0, 0, "no files")
        return
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    slots = cluster.actors or (gpus if gpus else max(1, int(resources.get("CPU", 1))))
    batches = [files[i:i + cluster.batch_files] for i in range(0, total, cluster.batch_files)]
    n_actors = max(1, min(slots, len(batches)))
    worker_options = options if not gpus else _with_device(options, "cuda")
    actor_cls = ray.remote(num_cpus=0 if gpus else 1, num_gpus=1 if gpus else 0, max_restarts=ACTOR_RESTARTS,
                           max_task_retries=TASK_RETRIES)(worker_cls)
    actors = [actor_cls.remote(worker_options) for _ in range(n_actors)]
    yield Progress(0, total, f"loading detectors on {n_actors} Ray worker(s)")
    queue = list(enumerate(batches))
    pending: dict[Any, tuple[int, Any]] = {}  # object ref -> (batch index, actor)
    idle = list(actors)
    done = 0
    started_at = time.monotonic()
    try:
        while queue or pending:
            cancel.raise_if_cancelled()
            while queue and idle:
                index, batch = queue.pop(0)
                actor = idle.pop()
                pending[actor.scan.remote(batch)] = (index, actor)
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                index, actor = pending.pop(ref)
                idle.append(actor)
                try:
                    results = ray.get(ref)
                except Exception as exc:  # retries exhausted: account for every file of the batch
                    results = [ScanResult(path=p, status="error",
                                          error=f"{p}: the Ray worker scanning it failed after {TASK_RETRIES} "
                                                f"retries: {type(exc).__name__}: {exc}") for p in batches[index]]
                for result in results:
                    done += 1
                    yield result
                    yield Progress(done, total, f"{Path(result.path).name} ({time.monotonic() - started_at:.0f} s)")
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        for actor in actors:
            ray.kill(actor)


def _with_device(options: Any, device: str) -> Any:
    import dataclasses

    return dataclasses.replace(options, device=device) if options.device == "auto" else options
