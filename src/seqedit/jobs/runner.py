"""Run one prediction: claim, resolve references, plan, generate, commit each panel, finish.

``Runner.run(id)`` claims the row and hands the claim to ``Runner.run_claimed(claim)``, which does
everything after the claim; a queue that claims rows itself passes its ``Claim`` there directly.

Every write is fenced by the attempt number the claim returned (see ``jobs.store``): when a write
hits zero rows this run has been superseded (its lease expired and another attempt took the job, or
the job reached a terminal state) and it stops without touching anything else.

One heartbeat thread per runner (``jobs.heartbeat``, started with the first job, ended by
``Runner.close``) renews the lease of every running job ``min(lease/3, 0.5)`` s after its last
renewal (a progress write renews it too) and watches ``cancel_requested``; ``Progress.cancelled()``
answers from it, so cancellation reaches engines between steps, and the runner checks it between
panels too. A job that was fenced off leaves the loop; after ``quiesce`` no renewal of the attempt
lands (the loop holds the job's own lock while it renews it). Progress writes are at most one per
``progress_interval``; each committed panel is written at once (it carries the output key).

Panels come from ``edit.prepare``/``edit.render``, the run loop ``seqedit edit`` uses too, which enforces
the engine contract (count, size, mode). Every other ending is mapped in one place, ``Runner._outcome``.

Failure codes: 1401 an image that cannot be decoded, 1402 an image that cannot be fetched (the
message names which), 1403 an edit the engine cannot do, 5000 an internal error. Lost workers
are the reaper's business (``Reaper`` below): re-enqueue while attempts remain, then 5000.

Transient faults (``jobs.faults``: disk full, out of file descriptors, the database briefly gone, the
object store failing) are not the job's fault and do not fail it: the attempt is handed back with
``Store.retry_later`` after a backoff of ``retry_delay`` × 2^(attempt − 1) seconds (the attempt counts;
the reaper re-enqueues the job when the backoff is over), and only a job that meets one on its last
attempt fails, 5000 with a message naming the fault. When even that write is impossible (the database
is gone) the run just stops: its lease runs out and the reaper re-enqueues it, which counts too. No
store or storage error escapes ``Runner.run``. A claim that fails because the database is briefly gone
is handed to ``retry`` too (the message that carried it is spent), so a queued job does not wait for
the reaper's long-queued pass once the database is back.

Log lines (``seqedit.runner``, fields for ``seqedit.logs``): one per state change of a job — ``job
started`` (claimed), ``job completed``, ``job failed`` (with ``code`` and the one-line ``error``), ``job
cancelled``, ``job released`` (handed back on a clean stop), ``job retrying`` (a transient fault, with
``fault`` and ``delay_s``), ``job superseded`` (fenced off), ``job stalled`` (its ending could not be
recorded: the lease runs out) and ``job not claimed`` (the database was gone) — each with
``prediction``, ``key_id``, ``engine``, ``attempt`` and, once it ran, ``ms`` (since the claim).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from seqedit import imaging
from seqedit.config import Settings
from seqedit.edit import prepare, render
from seqedit.engines.base import Cancelled, Engine, EngineError, create
from seqedit.engines.routing import route
from seqedit.errors import INTERNAL, SeqeditError
from seqedit.jobs.faults import Fault, is_panic, transient
from seqedit.jobs.heartbeat import Heartbeat, Pulse
from seqedit.jobs.plans import verdict_dicts
from seqedit.jobs.store import Claim, Status, Store
from seqedit.refs import RefLoader
from seqedit.request import EditRequest
from seqedit.storage import Storage

__all__ = ["Runner", "Reaper"]

log = logging.getLogger("seqedit.runner")

MAX_RETRY_DELAY = 600.0  # the backoff after a transient fault never exceeds this many seconds


class _Fenced(Exception):
    """This attempt no longer owns the job."""


class _JobProgress:
    """The engine's ``Progress``: throttled lease/progress writes, cancel and fencing flags."""

    def __init__(self, runner: Runner, prediction_id: str, attempt: int, releases: int = 0) -> None:
        self.runner = runner
        self.id = prediction_id
        self.attempt = attempt
        self.releases = releases  # clean hand-backs so far: ``attempt - releases`` attempts were spent
        self.doing = "starting"  # what the run is doing, for the message of a transient fault
        self.cancel = threading.Event()
        self.fenced = threading.Event()
        self.pulse: Pulse | None = None  # this job in the runner's heartbeat loop
        self._last_write = 0.0
        self._lock = threading.Lock()
        self.warnings: list[str] = []
        self.key_id = ""  # for the log lines
        self.started = time.monotonic()

    def quiesce(self) -> None:
        """Take this job out of the heartbeat loop, waiting for a renewal in flight, so that no lease
        renewal of this attempt can land after the job was handed back (it would undo ``release`` or
        ``retry_later``'s lease). Idempotent."""
        if self.pulse is not None:
            self.pulse.stop()

    def warn(self, message: str) -> None:
        """A warning the engine found while rendering: added to the prediction's ``warnings`` at once."""
        with self._lock:
            if message in self.warnings:
                return
            self.warnings.append(message)
            warnings = list(self.warnings)
        self.beat(warnings=warnings)

    def report(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_write < self.runner.settings.progress_interval:
                return
            self._last_write = now
        self.beat(progress_fraction=min(1.0, max(0.0, float(fraction))))

    def beat(self, **values: Any) -> None:
        """Renew the lease (and write ``values``) as this attempt; raise ``_Fenced`` if superseded."""
        answer = self.runner.store.renew(self.id, self.attempt, lease=self.runner.settings.lease_seconds, **values)
        if answer is None:
            self.fenced.set()
            self.cancel.set()
            return
        if self.pulse is not None:
            self.pulse.touch()  # the lease is fresh and the cancel flag read: the loop's beat can wait
        if answer:
            self.cancel.set()

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def check(self) -> None:
        if self.fenced.is_set():
            raise _Fenced()
        if self.cancel.is_set():
            raise Cancelled()


class Runner:
    """Runs predictions for one process. ``engine_factory(name, **options)`` builds the engine (one per thread)."""

    def __init__(
        self,
        store: Store,
        storage: Storage,
        settings: Settings,
        *,
        secret: bytes,
        engine_factory: Callable[[str], Engine] = create,
        retry: Callable[[str, float], None] | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.settings = settings
        self.secret = secret
        self.engine_factory = engine_factory
        # (id, delay): a job handed back after a transient fault is due again in ``delay`` seconds; the
        # service re-enqueues it then (the reaper's next pass is the durable fallback)
        self.retry = retry or (lambda _id, _delay: None)
        self.refs = RefLoader(storage, secret, max_bytes=settings.max_image_bytes, allow_hosts=settings.allowed_hosts)
        self._local = threading.local()
        self._running: dict[str, _JobProgress] = {}
        self._lock = threading.Lock()
        self._releasing = threading.Event()
        self._heart = Heartbeat()  # one lease-renewal thread for all of this runner's running jobs

    # ------------------------------------------------------------------ public

    def engine(self) -> Engine:
        engines: dict[str, Engine] | None = getattr(self._local, "engines", None)
        if engines is None:
            engines = self._local.engines = {}
        name = self.settings.engine
        if name not in engines:
            engines[name] = self.engine_factory(name, **self.settings.engine_options())
        return engines[name]

    def warm(self) -> None:
        """Build the engine before the first job (a consumer-thread start-up hook), and load its model
        when the engine offers ``load()`` (the diffusion engine loads its pipeline lazily: without this
        a worker would load it inside its first job's lease; ``load`` is idempotent and locked, so the
        model is loaded once per process whatever the consumer threads)."""
        try:
            engine = self.engine()
            load = getattr(engine, "load", None)
            if callable(load):
                load()
        except Exception:  # the first job will report it
            log.exception("could not load the %s engine", self.settings.engine)

    def cancel_local(self, prediction_id: str) -> bool:
        """Signal a job running in this process at once (the row's flag is the durable signal)."""
        with self._lock:
            job = self._running.get(prediction_id)
        if job is not None:
            job.cancel.set()
        return job is not None

    def release_all(self, timeout: float = 10.0) -> int:
        """Clean shutdown: stop running jobs at their next check and hand them back (``Store.release``)
        so a restart re-runs them without counting a lost attempt. Returns how many were running."""
        self._releasing.set()
        with self._lock:
            jobs = list(self._running.values())
        for job in jobs:
            job.cancel.set()
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(jobs)

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def close(self) -> None:
        """End the heartbeat thread (after ``release_all``: a job still running loses its renewals;
        a job run after this starts a fresh thread)."""
        self._heart.close()

    def run(self, prediction_id: str) -> Status | None:
        """Run the job if it can be claimed. Returns the terminal status written, or None."""
        s = self.settings
        try:
            claim = self.store.claim(prediction_id, lease=s.lease_seconds, max_attempts=s.max_attempts)
        except Exception as exc:  # the database is gone: the row is untouched; try again after a while
            fault = transient(exc)
            log.warning(
                "job not claimed",
                extra={
                    "prediction": prediction_id,
                    "engine": s.engine,
                    "error": str(fault or exc),
                    "retry_s": s.retry_delay if fault else None,
                },
            )
            if fault is not None:
                self.retry(prediction_id, s.retry_delay)  # this message is spent; the reaper is the fallback
            return None
        if claim is None:
            return None
        return self.run_claimed(claim)

    def run_claimed(self, claim: Claim) -> Status | None:
        """Run a job this process has claimed (``Store.claim`` or a queue that claims rows itself):
        everything ``run`` does after the claim. Returns the terminal status written, or None."""
        attempt, row = claim.attempt, claim.row
        prediction_id: str = row["id"]
        job = _JobProgress(self, prediction_id, attempt, releases=row["releases"])
        job.key_id = row.get("key_id") or ""
        self._log(logging.INFO, "job started", job)
        with self._lock:
            self._running[prediction_id] = job
        started = time.monotonic()
        try:
            job.pulse = self._heart.add(lambda: self._heartbeat(job), min(self.settings.lease_seconds / 3.0, 0.5))
            status = self._run(row, attempt, job, started)
        finally:
            job.quiesce()
            with self._lock:
                self._running.pop(prediction_id, None)
        return status

    # ------------------------------------------------------------------ internals

    def _heartbeat(self, job: _JobProgress) -> bool:
        """One beat of the heartbeat loop for ``job``; False (leave the loop) once it was fenced off."""
        try:
            job.beat()
        except Exception as exc:  # a locked database: try again next beat, the lease has slack
            fault = transient(exc)  # an outage is one line per beat; anything else, its traceback
            self._log(
                logging.WARNING,
                "lease renewal failed",
                job,
                error=str(fault or exc),
                exc_info=None if fault else exc,
            )
        return not job.fenced.is_set()

    def _run(self, row: dict[str, Any], attempt: int, job: _JobProgress, started: float) -> Status | None:
        pid = row["id"]
        prefix = f"outputs/{pid}/"
        try:
            if attempt > 1:
                job.doing = "deleting the outputs of an earlier attempt"
                self.storage.delete_prefix(prefix)  # outputs of earlier, lost attempts
            refs = self._load_refs(row["request"]["images"], job)
            job.doing = "planning the edit"
            engine = self.engine()
            prepared = prepare(_request(row["request"], seed=row["seed"]), refs, engine)
            plan = prepared.plan
            job.warnings = list(prepared.warnings)
            # what the plan endpoint showed, now for this run: the engine that runs it and why (``route``)
            chosen = route(engine, plan)
            recorded = {
                **plan.to_dict(),
                "route": chosen.to_dict(),
                "verdicts": verdict_dicts(chosen.engine, prepared.verdicts),
            }
            job.beat(seed=plan.seed, plan=recorded, warnings=list(job.warnings), progress_total=plan.count)
            job.check()
            ext = imaging.extension(plan.output_format)
            inference = 0.0
            job.doing = f"rendering panel 1 of {plan.count}"
            last: str | None = None  # the last panel commits with the terminal write, in one transaction

            def provenance(made: dict[str, Any]) -> None:
                """What made the set (``edit.provenance``), on the row before panel 1: a failed set has it too."""
                recorded["provenance"] = made
                job.beat(plan=recorded)

            for out in render(prepared, engine, job, on_provenance=provenance):
                job.check()
                inference += out.inference
                key = f"{prefix}{attempt}/{out.index - 1}.{ext}"
                job.doing = f"storing panel {out.index} of {plan.count}"
                self.storage.put(key, out.data)
                if out.index == plan.count:
                    last = key  # committed by finish, once render has checked the engine stopped there
                    continue
                job.doing = f"committing panel {out.index} of {plan.count}"
                # the store reports the change: a stream or a poll sees the panel at once (Store.watch)
                if not self.store.add_output(pid, attempt, key, lease=self.settings.lease_seconds):
                    raise _Fenced()
                job.check()
                job.doing = f"rendering panel {out.index + 1} of {plan.count}"
            job.doing = "finishing"
            if prepared.consistency is not None:  # the figures per panel, retries, warnings (``consistency``)
                recorded["consistency"] = prepared.consistency.to_dict()  # beside provenance, not instead of it
                job.beat(plan=recorded)
            ok = self.store.finish(
                pid,
                attempt,
                Status.COMPLETED,
                execution_ms=int((time.monotonic() - started) * 1000),
                inference_ms=int(inference * 1000),
                output=last,
            )
            if not ok:
                raise _Fenced()
            self._log(logging.INFO, "job completed", job, status="completed", outputs=plan.count, ms=True)
            return Status.COMPLETED
        except _Fenced:
            self._log(logging.INFO, "job superseded", job, ms=True)
            self._discard(pid, attempt)  # only this attempt's own files
            return None
        except BaseException as exc:
            if not isinstance(exc, Exception) and not is_panic(exc):
                raise  # KeyboardInterrupt, SystemExit: not ours to map
            try:
                return self._outcome(pid, attempt, job, exc, started)
            except BaseException as failed:  # the database (or storage) is gone: stop; the lease runs out
                if not isinstance(failed, Exception) and not is_panic(failed):
                    raise
                fault = transient(failed)
                self._log(
                    logging.WARNING,
                    "job stalled",
                    job,
                    error=f"could not record how it ended ({fault or repr(failed)}); "
                    "its lease runs out and the reaper retries it",
                    ms=True,
                    exc_info=None if fault else failed,  # an outage needs no traceback
                )
                self._discard(pid, attempt)
                return None

    def _outcome(self, pid: str, attempt: int, job: _JobProgress, exc: BaseException, started: float) -> Status | None:
        """Every way a run can end other than success, mapped in one place:

        superseded (fenced) → nothing written; cancelled (``Cancelled``, or an engine error raised
        because the job was cancelled) → ``cancelled``, or handed back during shutdown; a transient
        fault (``jobs.faults``, also when wrapped in another error) → handed back for a retry after a
        backoff, or ``failed`` 5000 naming the fault on the last attempt; a ``SeqeditError`` (bad input,
        unreadable reference, unsupported edit, engine failure) → ``failed`` with its own code and
        message; anything else is a bug → ``failed`` 5000 naming the engine. A store error raised here
        (the database is gone) leaves the row to its lease and the reaper (see ``_run``)."""
        if job.fenced.is_set():
            self._log(logging.INFO, "job superseded", job, ms=True)
            self._discard(pid, attempt)
            return None
        if isinstance(exc, Cancelled) or (isinstance(exc, EngineError) and job.cancel.is_set()):
            if self._releasing.is_set():
                self._release(pid, attempt, job)
                return None
            return self._end(job, Status.CANCELLED, 0, "cancelled by the caller", started)
        fault = transient(exc)
        if fault is not None:
            return self._retry(pid, attempt, job, fault, started)
        if isinstance(exc, SeqeditError):
            return self._end(job, Status.FAILED, exc.code, str(exc) or type(exc).__name__, started)
        return self._end(
            job,
            Status.FAILED,
            INTERNAL,
            f"internal error in the {self.settings.engine} engine ({type(exc).__name__})",
            started,
            exc_info=exc,  # a bug: its traceback goes with the line
        )

    def _release(self, pid: str, attempt: int, job: _JobProgress) -> None:
        job.quiesce()
        self.store.release(pid, attempt)
        self._discard(pid, attempt)
        self._log(logging.INFO, "job released", job, ms=True)

    def _retry(self, pid: str, attempt: int, job: _JobProgress, fault: Fault, started: float) -> Status | None:
        """A transient fault: hand the attempt back for a retry after a backoff, or, when it was the
        last attempt ``max_attempts`` allows, fail the job naming the fault."""
        spent = attempt - job.releases
        reason = f"{fault.reason} while {job.doing}"
        job.quiesce()  # no renewal may land after the hand-back and undo its backoff
        if spent >= self.settings.max_attempts:
            error = f"{reason}; gave up after {spent} attempt{'s' if spent != 1 else ''}"
            return self._end(job, Status.FAILED, INTERNAL, error, started, fault=fault.kind)
        delay = min(MAX_RETRY_DELAY, self.settings.retry_delay * 2 ** (spent - 1))
        handed_back = self.store.retry_later(pid, attempt, reason=reason, delay=delay)
        self._discard(pid, attempt)  # after the row let go of them
        if handed_back:
            self.retry(pid, delay)
            self._log(
                logging.WARNING,
                "job retrying",
                job,
                fault=fault.kind,
                error=reason,
                delay_s=delay,
                max_attempts=self.settings.max_attempts,
                ms=True,
            )
        else:
            self._log(logging.INFO, "job superseded", job, ms=True)
        return None

    def _discard(self, pid: str, attempt: int) -> None:
        """Delete this attempt's own partial outputs, best effort (the storage may be what is failing;
        the next attempt deletes earlier attempts' files, and retention sweeps the rest)."""
        try:
            self.storage.delete_prefix(f"outputs/{pid}/{attempt}/")
        except BaseException as exc:
            if not isinstance(exc, Exception) and not is_panic(exc):
                raise
            log.warning("could not delete partial outputs of %s attempt %s", pid, attempt, exc_info=True)

    def _end(
        self,
        job: _JobProgress,
        status: Status,
        code: int,
        error: str,
        started: float,
        *,
        exc_info: BaseException | None = None,
        **fields: Any,
    ) -> Status | None:
        pid, attempt = job.id, job.attempt
        ok = self.store.finish(
            pid, attempt, status, code=code, error=error, execution_ms=int((time.monotonic() - started) * 1000)
        )
        self._discard(pid, attempt)
        if not ok:
            self._log(logging.INFO, "job superseded", job, ms=True)
            return None
        if status is Status.CANCELLED:
            self._log(logging.INFO, "job cancelled", job, status=status.value, ms=True)
        else:  # failed: bad input is the caller's business (INFO); an internal error is ours (ERROR)
            level = logging.ERROR if code >= INTERNAL else logging.INFO
            line = error.strip().splitlines()[0][:500] if error.strip() else ""
            self._log(
                level,
                "job failed",
                job,
                status=status.value,
                code=code,
                error=line,
                ms=True,
                exc_info=exc_info,
                **fields,
            )
        return status

    def _log(self, level: int, event: str, job: _JobProgress, *, ms: bool = False, **fields: Any) -> None:
        """One job line: the event and the job's id, key, engine, attempt (and ``ms`` since the claim)."""
        exc_info = fields.pop("exc_info", None)
        extra: dict[str, Any] = {
            "prediction": job.id,
            "key_id": job.key_id,
            "engine": self.settings.engine,
            "attempt": job.attempt,
            **fields,
        }
        if ms:
            extra["ms"] = int((time.monotonic() - job.started) * 1000)
        log.log(level, event, extra=extra, exc_info=exc_info)

    def _load_refs(self, refs: list[str], job: _JobProgress) -> list[Image.Image]:
        images = []
        for i, ref in enumerate(refs):
            job.check()
            job.doing = f"reading images[{i}]"
            data = self.refs.load(ref, i)
            images.append(
                imaging.decode(
                    data,
                    field=f"images[{i}]",
                    max_bytes=self.settings.max_image_bytes,
                    max_pixels=self.settings.max_image_pixels,
                )
            )
        return images


def _request(d: dict[str, Any], *, seed: int | None) -> EditRequest:
    return EditRequest.create(
        prompt=d["prompt"],
        images=d["images"],
        size=d.get("size"),
        max_images=d.get("max_images", 1),
        seed=seed if seed is not None else d.get("seed"),
        output_format=d.get("output_format") or "jpeg",
        watermark=d.get("watermark", False),
        pixels=d.get("pixels"),
    )


class Reaper:
    """One recovery pass over the rows (``run_once``): expired leases re-enqueued, cancelled or failed
    "worker lost", long-queued rows re-enqueued. The service runs it at start and then once per
    ``reaper_interval`` tick across the fleet (``service.Service``, ``Store.take_tick``)."""

    def __init__(self, store: Store, enqueue: Callable[[str], None], settings: Settings) -> None:
        self.store = store
        self.enqueue = enqueue
        self.settings = settings

    def run_once(self) -> list[str]:
        s = self.settings
        # queued rows wait their turn: only a long-queued one is suspected of a lost message
        ids = self.store.reap(
            max_attempts=s.max_attempts,
            stale=max(s.lease_seconds, s.reaper_interval),
            created_stale=max(300.0, 10 * s.lease_seconds),
        )
        for pid in ids:
            self.enqueue(pid)
        return ids
