"""Operations: ``/healthz`` (the process answers), ``/readyz`` (database, queue consumers),
``/metrics`` (Prometheus text: queue depth, job durations, outcomes by status and code)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from seqedit.api.envelope import error_response
from seqedit.api.routing import ErrorStyle, ProtocolRouter

router = ProtocolRouter(ErrorStyle(error_response), tags=["ops"])


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request):
    service = request.app.state.service
    checks = {}
    try:
        await run_in_threadpool(service.store.queue_depth)
        checks["database"] = "ok"
    except Exception as exc:  # pragma: no cover - a broken disk
        checks["database"] = f"error: {type(exc).__name__}"
    checks["queue"] = "ok" if (service.queue.running or "consumers" not in service.roles) else "stopped"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "engine": service.settings.engine,
            "roles": sorted(service.roles),
            "checks": checks,
        },
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics(request: Request):
    service = request.app.state.service

    def collect() -> str:
        depth = service.store.queue_depth()
        counts = service.store.counts()
        n, total = service.store.durations()
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
        ]
        return "\n".join(lines) + "\n"

    return PlainTextResponse(await run_in_threadpool(collect), media_type="text/plain; version=0.0.4")
