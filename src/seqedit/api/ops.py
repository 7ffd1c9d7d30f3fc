"""Operations: ``/healthz`` (the process answers), ``/readyz`` (database, queue consumers, the data
dir and object folder writable with room to spare), ``/metrics`` (Prometheus text: queue depth, job
durations, outcomes by status and code).

``/readyz`` is what a load balancer asks before sending work: 200 ``ready``, or 503 ``not ready`` with
each failed check's reason in ``checks`` and all of them in ``reason``. The storage check is the one
that catches a full or read-only disk, where every job would hit ENOSPC (and be retried, see
``jobs.faults``) and every upload would fail: ``StorageCheck`` looks at each folder the service
writes to (the data dir: rows, queue, secret; and the object folder when it lies elsewhere) for free
space (``shutil.disk_usage`` ≥ ``min_free_bytes``) and writability (create, write two bytes, delete a
probe file). Both are a few system calls; they run in a thread and are cached for ``CACHE_SECONDS``, so
a probe storm costs one check per second. A remote object store (S3) has no folder: its own ``check()``
(a one-key list of the bucket, no retries, a short timeout) joins the folder checks, cached the same.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from seqedit.api.envelope import error_response
from seqedit.api.routing import ErrorStyle, ProtocolRouter

router = ProtocolRouter(ErrorStyle(error_response), tags=["ops"])

CACHE_SECONDS = 1.0  # how long a storage check's answer is reused


class StorageCheck:
    """Free space and writability of the folders the service writes to, cached ``ttl`` seconds.

    ``result()`` is ``"ok"`` or ``"error: <why>"`` naming the folder: less free space than
    ``min_free`` bytes (0: not checked), or a probe file that cannot be written (read-only, full,
    permissions, missing); or what ``remote`` (a remote store's check: ``""`` when it answers) says."""

    def __init__(
        self,
        folders: list[Path],
        *,
        min_free: int,
        ttl: float = CACHE_SECONDS,
        remote: Callable[[], str] | None = None,
    ) -> None:
        unique: list[Path] = []
        for folder in folders:
            if folder not in unique:
                unique.append(folder)
        self.folders = unique
        self.min_free = min_free
        self.ttl = ttl
        self.remote = remote
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._answer = "ok"

    def result(self) -> str:
        with self._lock:  # one check at a time; callers arriving meanwhile get its answer
            now = time.monotonic()
            if now - self._at >= self.ttl:
                self._answer = self._check()
                self._at = time.monotonic()
            return self._answer

    def _check(self) -> str:
        problems = [p for p in (self._folder(f) for f in self.folders) if p]
        if self.remote is not None and (problem := self.remote()):
            problems.append(problem)
        return "error: " + "; ".join(problems) if problems else "ok"

    def _folder(self, folder: Path) -> str:
        try:
            free = shutil.disk_usage(folder).free
        except OSError as exc:
            return f"{folder} cannot be read ({_os_error(exc)})"
        if self.min_free and free < self.min_free:
            return f"{folder} has {_size(free)} free, less than min_free_bytes ({_size(self.min_free)})"
        probe = folder / f".readyz-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
        except OSError as exc:
            return f"{folder} is not writable ({_os_error(exc)})"
        finally:
            try:
                os.unlink(probe)
            except OSError:
                pass
        return ""


def _os_error(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc)
    return f"{name}: {text}" if name else text


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


_checks_lock = threading.Lock()


def storage_check(request: Request) -> StorageCheck:
    """The app's ``StorageCheck``, built on first use from its service's settings and storage."""
    state = request.app.state
    with _checks_lock:
        check: StorageCheck | None = getattr(state, "storage_check", None)
        if check is None:
            service = state.service
            folders = [Path(service.settings.data_dir).resolve()]
            root = getattr(service.storage, "root", None)  # a local object folder (None: memory, S3)
            if root is not None:
                folders.append(Path(root))
            remote = getattr(service.storage, "check", None)  # a remote store asks its bucket (S3Storage)
            check = state.storage_check = StorageCheck(folders, min_free=service.settings.min_free_bytes, remote=remote)
        return check


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request):
    """Ready when the database answers, this process's own consumers run (if it has the role), the
    queue can count its messages, a consumer is alive somewhere (here, or a ``seqedit worker`` whose
    heartbeat is recent: an API replica with no worker anywhere would accept jobs nobody runs) and
    the storage check passes."""
    service = request.app.state.service
    checks = {}
    database = True
    try:
        await run_in_threadpool(service.store.queue_depth)
        checks["database"] = "ok"
    except Exception as exc:  # the database is down (PostgreSQL restarting) or its disk broken
        checks["database"] = f"error: {type(exc).__name__}"
        database = False
    if service.consumers_here and not service.queue.running:
        checks["queue"] = "stopped"
    elif service.consumers_in_child and not (service.child is not None and service.child.alive):
        checks["queue"] = "stopped: the consumer process is not running (it is restarted)"
    elif await run_in_threadpool(service.queue.pending) < 0:
        checks["queue"] = "error: the queue cannot be reached (its message count is unknown)"
    else:
        checks["queue"] = "ok"
    if database:
        try:
            checks["consumers"] = await run_in_threadpool(service.consumers_alive)
        except Exception as exc:
            checks["consumers"] = f"error: {type(exc).__name__}"
    else:
        checks["consumers"] = "unknown: the database cannot be read"
    checks["storage"] = await run_in_threadpool(storage_check(request).result)
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "engine": service.settings.engine,
        "roles": sorted(service.roles),
        "checks": checks,
    }
    if not ready:
        body["reason"] = "; ".join(f"{name}: {value}" for name, value in checks.items() if value != "ok")
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request):
    service = request.app.state.service

    def collect() -> str:
        depth = service.store.queue_depth()
        counts = service.store.counts()
        n, total = service.store.durations()
        deliveries = service.store.webhook_counts()
        lines = [
            "# HELP seqedit_queue_depth Predictions queued (created) or running (processing).",
            "# TYPE seqedit_queue_depth gauge",
            *(f'seqedit_queue_depth{{status="{s}"}} {v}' for s, v in sorted(depth.items())),
            "# HELP seqedit_queue_pending Task messages waiting in the Huey queue.",
            "# TYPE seqedit_queue_pending gauge",
            f"seqedit_queue_pending {service.queue.pending()}",
            "# HELP seqedit_running_jobs Jobs running in this process.",
            "# TYPE seqedit_running_jobs gauge",
            f"seqedit_running_jobs {service.runner.running()}",
            "# HELP seqedit_predictions Predictions by status and failure code (0 = none).",
            "# TYPE seqedit_predictions gauge",
            *(f'seqedit_predictions{{status="{s}",code="{c}"}} {v}' for (s, c), v in sorted(counts.items())),
            "# HELP seqedit_job_duration_seconds Execution time of completed predictions.",
            "# TYPE seqedit_job_duration_seconds summary",
            f"seqedit_job_duration_seconds_sum {total:.3f}",
            f"seqedit_job_duration_seconds_count {n}",
            "# HELP seqedit_webhook_deliveries Webhook deliveries by state: pending (due or backing off), "
            "delivered, dead (gave up).",
            "# TYPE seqedit_webhook_deliveries gauge",
            *(f'seqedit_webhook_deliveries{{state="{s}"}} {v}' for s, v in sorted(deliveries.items())),
        ]
        return "\n".join(lines) + "\n"

    return PlainTextResponse(await run_in_threadpool(collect), media_type="text/plain; version=0.0.4")
