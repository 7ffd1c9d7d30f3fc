"""The composition root: ``Settings`` → store, storage, queue, runner, reaper, webhooks, sweep. No HTTP.

A process runs a set of **roles**, all started by one ``Service.start`` and stopped by ``stop``:

=============  ==========================================================================
``api``        this process takes submissions (``Service.submissions``) and answers polls
``consumers``  queue consumer threads run predictions (``settings.workers`` of them, ≥ 1)
``reaper``     a pass at start, then every ``reaper_interval``: lost jobs re-enqueued or failed,
               and queued rows re-enqueued when the queue lost their messages
``webhooks``   the outbox sender (needs ``webhook_body``, the protocol's rendering of a row)
``sweep``      retention: objects then rows past ``retention``, every ``sweep_interval``
=============  ==========================================================================

``seqedit serve`` runs ``SERVE`` (all five), ``serve --workers 0`` runs ``API_ONLY`` and ``seqedit
worker`` runs ``WORKER`` (consumers, reaper, webhooks, sweep), so a fleet of workers and API replicas
does every duty whichever of its processes are alive.

**A fleet shares one database.** Every process beats a row in ``workers`` every
``heartbeat_seconds`` (host, pid, roles, engine, consumer threads; marked stopped on a clean stop):
``/readyz`` asks whether a consumer is alive anywhere and a waiting job's ETA how many consumer slots
there are. The periodic duties run **once per tick across all processes**: each process wakes every
interval and runs its reaper pass or sweep only if it takes the tick (``Store.take_tick``, one
conditional UPDATE; the period is ``TICK_SHARE`` of the interval so the process that took the last
tick does not miss the next one to timer drift). Webhook attempts are claimed one by one
(``WebhookSender`` → ``Store.claim_webhook``), so each is posted by one process.

**Lost queue messages.** The rows are the truth and the queue only carries ids. A queue can lose its
messages (Redis restarted without persistence): each reaper pass compares the queue's count
(``queue.pending()``) with the queued rows enqueued more than ``lost_queue_seconds`` ago; when the
queue holds fewer, those rows are re-enqueued with their stored priority (a duplicate message is
harmless: the claim refuses it), instead of waiting out the reaper's ``created_stale`` (300 s). A
count the queue cannot give (-1: unreachable) triggers nothing.

**Who owns the data.** Only an embedded process — rows in SQLite *and* a local queue (SQLite file or
memory), running ``api`` and ``consumers`` — owns its data dir: nothing of a previous process
survived, so at start every lease is void and every lease and queued row is recovered at once. In
distributed mode (PostgreSQL or Redis) other workers may be running, so a start runs the ordinary
reaper pass. The start-up log says what was resumed (re-enqueued at start) and the stop what was
handed back (released), with counts.

**The engine is built once per process** (``Service.engine``) and shared by the consumer threads and
the plan endpoint: a GPU holds one model per process. Both built-in engines may be called from
several threads (classic guards its route cache with a lock; diffusion serialises pipeline calls on
the loader's lock); an engine whose class sets ``thread_safe = False`` gets its calls serialised by
``_Serialised``, one job's ``generate`` at a time.

**Stopping.** ``stop(drain=…)``: consumers stop taking messages (a message popped meanwhile is put
back), running jobs may finish for up to ``drain`` seconds (``seqedit worker`` on SIGTERM passes
``drain_seconds``; ``serve`` passes 0), then whatever still runs is handed back between steps
(``Runner.release_all``: re-run elsewhere without counting a lost attempt).
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from seqedit.config import Settings
from seqedit.datadir import make_private
from seqedit.engines.base import Engine, create
from seqedit.jobs import child
from seqedit.jobs.faults import Outage
from seqedit.jobs.notify import Notifier
from seqedit.jobs.queue import Queue, open_queue
from seqedit.jobs.rowqueue import RowQueue
from seqedit.jobs.runner import Reaper, Runner
from seqedit.jobs.states import Rows
from seqedit.jobs.store import Claim, Store, new_id
from seqedit.jobs.submit import Submissions
from seqedit.jobs.webhooks import WebhookSender
from seqedit.storage import FileSigner, Storage, open_storage

__all__ = ["Service", "ROLES", "SERVE", "API_ONLY", "WORKER", "CHILD", "WebhookBody", "load_plugins", "SETTINGS_ENV"]

ROLES = ("api", "consumers", "reaper", "webhooks", "sweep")
SERVE = frozenset(ROLES)
API_ONLY = SERVE - {"consumers"}
WORKER = frozenset({"consumers", "reaper", "webhooks", "sweep"})
CHILD = frozenset({"consumers"})  # the consumer process of a `seqedit serve` (jobs.child): its parent does the rest
SETTINGS_ENV = "SEQEDIT_CHILD_SETTINGS"  # the parent's Settings (JSON) for its consumer process
RETRY_SLACK = 0.05  # seconds after a backoff ends before the re-enqueue: the lease has surely expired
TICK_SHARE = 0.9  # a periodic duty's tick lasts this share of its interval (timer drift never skips one)
ALIVE_BEATS = 3  # a process silent for this many heartbeats is not alive
FORGET_WORKERS = 7 * 86400.0  # the sweep deletes workers rows silent for this long
ESTIMATE_CACHE = 1.0  # seconds the fleet figures behind an ETA are reused (polls are frequent)
ETA_WINDOW = 3600.0  # an ETA averages jobs created in the last hour…
ETA_JOBS = 50  # …the last this many of them

WebhookBody = Callable[[dict[str, Any], Storage, str], bytes]
"""``(terminal row, storage, base URL) -> body``: how the protocol renders a prediction for its webhook."""

log = logging.getLogger("seqedit.service")


def load_plugins(spec: str) -> None:
    for name in (m.strip() for m in spec.split(",")):
        if name:
            importlib.import_module(name)


def database_url(settings: Settings) -> str:
    return settings.db_url or f"sqlite:///{(Path(settings.data_dir) / 'seqedit.db').resolve()}"


def embedded(settings: Settings) -> bool:
    """Rows in SQLite and a local queue (the data dir's file or memory): one host, nothing shared."""
    queue = settings.queue_url
    local_queue = not queue or queue.startswith(("sqlite", "memory"))
    return database_url(settings).startswith("sqlite") and local_queue


class _Serialised:
    """An engine that is not thread-safe, shared by a process's consumer threads: one call at a time,
    ``generate`` holding the lock until its panels are all out (or the run stops iterating)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.RLock()
        self.name = engine.name

    def analyse(self, plan: Any) -> Any:
        with self._lock:
            return self._engine.analyse(plan)

    def check(self, plan: Any, refs: Any = None) -> Any:
        with self._lock:
            return self._engine.check(plan, refs)

    def generate(self, plan: Any, refs: Any, progress: Any) -> Iterator[Any]:
        with self._lock:
            yield from self._engine.generate(plan, refs, progress)

    def __getattr__(self, name: str) -> Any:  # anything else the engine offers (e.g. its options)
        return getattr(self._engine, name)


def _secret(settings: Settings) -> bytes:
    if settings.signing_secret:
        return settings.signing_secret.encode()
    path = Path(settings.data_dir) / "secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        roles: Iterable[str] = SERVE,
        engine_factory: Callable[..., Engine] = create,
        webhook_body: WebhookBody | None = None,
    ) -> None:
        self.roles = frozenset(roles)
        unknown = sorted(self.roles - set(ROLES))
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
        if "webhooks" in self.roles and webhook_body is None:
            raise ValueError("the webhooks role needs webhook_body (the protocol's rendering of a prediction)")
        self.settings = settings
        self.id = new_id()  # this process in the workers table and as a tick holder
        data = Path(settings.data_dir)
        tightened = make_private(data)  # before anything in it is opened
        if tightened:
            log.warning("made %d path(s) in the data dir %s private (0700 folders, 0600 files)", tightened, data)
        load_plugins(settings.plugins)
        self.secret = _secret(settings)
        self.base_url = settings.public_url.rstrip("/")  # for webhook bodies; `serve` fills it in when unset
        self.signer = FileSigner(self.secret, self.base_url)
        self.store = Store(database_url(settings))
        self.storage: Storage = open_storage(settings.storage_url, data, self.signer, proxy=settings.storage_proxy)
        self.notifier = Notifier()
        # every committed change a poll can see wakes this process's waiters, streams and poll cache
        self.store.watch(self.notifier.notify)
        # the poll cache: terminal rows always, live rows only when this process sees every change
        self.rows = Rows(self.store, trust_live=self.sees_every_change)
        self.notifier.subscribe(self.rows.forget)
        self._engine_factory = engine_factory
        self._engines: dict[str, Engine] = {}
        self._engines_lock = threading.Lock()
        self.runner = Runner(
            self.store,
            self.storage,
            settings,
            secret=self.secret,
            engine_factory=self._process_engine,
            retry=self._enqueue_later,
        )
        self.queue: Queue
        if settings.queue_url:
            self.queue = open_queue(settings.queue_url, data, self._consume, on_worker_start=self.runner.warm)
        else:  # the rows are the queue (jobs.rowqueue): a job is written to one database, once
            self.queue = RowQueue(self.store, self._take, self._run_claim, on_worker_start=self.runner.warm)
        # serve's consumers in a child process (jobs.child): the API never competes with a job for the GIL
        self.child: child.ChildConsumers | None = None
        self.consumers_in_child = (
            {"api", "consumers"} <= self.roles and bool(settings.consumer_process) and child.supported()
        )
        self.reaper = Reaper(self.store, self._requeue, settings)
        self.webhooks = WebhookSender(self.store, settings, render=self._render_webhook, secret_for=self._key_secret)
        self.submissions = Submissions(
            self.store,
            self.storage,
            self.queue,
            settings,
            secret=self.secret,
            notifier=self.notifier,
            on_cancel_running=self._cancel_running,
            on_cancelled=lambda _id: self.webhooks.wake(),
            engine=self.planning_engine,
            rows=self.rows,
        )
        self._webhook_body = webhook_body
        self._stop = threading.Event()
        self._beat_outage = Outage(log, "heartbeat")
        self._started = False
        self._figures: tuple[float, tuple[float | None, int, int]] | None = None
        self._figures_lock = threading.Lock()

    @property
    def owns_data(self) -> bool:
        """An embedded process with api and consumers: nothing of a previous process survived."""
        return {"api", "consumers"} <= self.roles and embedded(self.settings)

    @property
    def sees_every_change(self) -> bool:
        """Every write to this data's prediction rows is reported to ``notifier`` in this process (an
        embedded process: its own consumers are the only writers besides itself), so a row this
        process has read stays current until the notifier names it (the poll cache relies on it)."""
        return self.owns_data

    @property
    def consumers_here(self) -> bool:
        """This process runs consumer threads (the consumers role, not handed to a child process)."""
        return "consumers" in self.roles and not self.consumers_in_child

    @property
    def concurrency(self) -> int:
        """Consumer threads this process runs (0 without the consumers role, or with a child that runs them)."""
        return max(1, self.settings.workers) if self.consumers_here else 0

    def _local_roles(self) -> str:
        """The roles this process itself runs, as its heartbeat records them (a child beats its own)."""
        return ",".join(r for r in ROLES if r in self.roles and (r != "consumers" or self.consumers_here))

    # ------------------------------------------------------------------ the engine, once per process

    def _process_engine(self, name: str, **options: Any) -> Engine:
        """The process's engine for ``name``, built on first use and shared by every thread (the
        runner's per-thread cache then holds the same instance)."""
        with self._engines_lock:
            engine = self._engines.get(name)
            if engine is None:
                built = self._engine_factory(name, **options)
                engine = built if getattr(built, "thread_safe", True) else _Serialised(built)
                self._engines[name] = engine
            return engine

    def check_engine(self) -> Engine:
        """Build the configured engine once (fail fast on an unknown name or a bad option); the
        consumers and the plan endpoint use that same instance."""
        return self._process_engine(self.settings.engine, **self.settings.engine_options())

    def planning_engine(self) -> Engine:
        """The engine the plan endpoint asks: the process's one engine (engines load weights lazily,
        so in an API-only process a diffusion engine holds no pipeline)."""
        return self.check_engine()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        log.info("seqedit service starting: roles %s", ", ".join(r for r in ROLES if r in self.roles))
        log.info(
            "process %s on %s pid %d: engine %s, %d consumer thread(s), %s",
            self.id[:8],
            socket.gethostname(),
            os.getpid(),
            self.settings.engine,
            self.concurrency,
            "embedded (owns its data dir)" if self.owns_data else "shares its database with other processes",
        )
        if "webhooks" in self.roles and not self.base_url:
            log.warning(
                "SEQEDIT_PUBLIC_URL is not set: webhook bodies sent by this process carry root-relative URLs "
                "(urls.get, and /files/… outputs of local storage); set it to the API's public base URL"
            )
        self._beat()
        threading.Thread(target=self._heartbeat_loop, daemon=True, name="seqedit-heartbeat").start()
        if self.owns_data:  # nothing of the previous process survived
            if "reaper" in self.roles:
                voided, ids = self._resume_owned()
                log.info(
                    "resumed %d job(s) at start: re-enqueued (%d lease(s) of the previous process voided)",
                    len(ids),
                    voided,
                )
            else:
                self.store.expire_leases()
        elif "reaper" in self.roles:
            try:
                ids = self.reaper_pass()
            except Exception:  # the database is briefly gone: the reaper's loop tries again
                log.warning("the reaper pass at start failed; the next pass retries", exc_info=True)
                ids = []
            if ids:
                log.info("resumed %d job(s) at start: re-enqueued by the first reaper pass", len(ids))
        if "reaper" in self.roles:
            self._loop("seqedit-reaper", self.settings.reaper_interval, self.reaper_pass)
        if self.consumers_in_child:
            self._start_child()
        elif "consumers" in self.roles:
            self.queue.start(self.concurrency)
        if "webhooks" in self.roles:
            self.webhooks.start()
        if "sweep" in self.roles:
            self._loop("seqedit-retention", self.settings.sweep_interval, self._sweep_tick)

    def stop(self, drain: float = 0.0) -> None:
        """Clean stop: no new jobs; running ones may finish for up to ``drain`` seconds, then what
        still runs is handed back between steps (re-run elsewhere or on the next start without
        counting a lost attempt); background threads ended; the workers row marked stopped."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.queue.stop()
        if self.child is not None:  # it hands its running jobs back, as below
            self.child.stop()
        running = self.runner.running()
        finished = 0
        if running and drain > 0:
            log.info("draining: %d running job(s) may finish within %g s", running, drain)
            deadline = time.monotonic() + drain
            while self.runner.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            finished = running - self.runner.running()
        handed_back = self.runner.release_all(timeout=10.0)
        self.runner.close()  # its heartbeat loop
        self.webhooks.stop()
        try:
            self.store.worker_stopped(self.id)
        except Exception:  # the database is gone: the row ages out instead
            log.warning("could not mark this process stopped in the workers table", exc_info=True)
        if self._started:
            log.info(
                "service stopped: %d job(s) handed back (released on stop), %d finished while draining",
                handed_back,
                finished,
            )

    def _loop(self, name: str, interval: float, duty: Callable[[], object]) -> None:
        def run() -> None:
            outage = Outage(log, name)
            while not self._stop.wait(interval):
                try:
                    duty()
                except Exception as exc:
                    outage.failed(exc)
                else:
                    outage.ok()

        threading.Thread(target=run, daemon=True, name=name).start()

    def _start_child(self) -> None:
        settings = self.settings.model_dump_json()
        self.child = child.ChildConsumers(
            [sys.executable, "-m", "seqedit", "_consumers"],
            env={**os.environ, SETTINGS_ENV: settings},
            on_changed=self.notifier.notify,  # its writes wake this process's waiters, streams and poll cache
            on_exit=self._consumers_died,
        )
        if isinstance(self.queue, RowQueue):
            self.queue.on_enqueue = self.child.wake
        self.child.start()

    def _consumers_died(self) -> None:
        """The consumer process died. When this process owns its data dir that child was the only
        consumer, so every lease is its and void now: the jobs it held are re-enqueued at once (each
        interrupted attempt counts, as any crash does) instead of waiting out their leases."""
        if not self.owns_data:
            return
        voided, ids = self._resume_owned()
        log.info("the dead consumer process's jobs: %d lease(s) voided, %d job(s) re-enqueued", voided, len(ids))

    def _resume_owned(self) -> tuple[int, list[str]]:
        """In a data dir this process owns, no consumer but its own can hold a lease: void every lease
        and re-enqueue every job the reaper would (expired leases and queued rows, at once). Returns
        (leases voided, ids re-enqueued)."""
        voided = self.store.expire_leases()
        ids = self.store.reap(max_attempts=self.settings.max_attempts, stale=0.0)
        self._enqueue_all(ids)
        return voided, ids

    def _cancel_running(self, prediction_id: str) -> None:
        self.runner.cancel_local(prediction_id)
        if self.child is not None:
            self.child.cancel(prediction_id)

    def _take(self) -> Claim | None:
        """The row queue's pop: the next claimable job (``Store.claim_next``)."""
        s = self.settings
        return self.store.claim_next(lease=s.lease_seconds, max_attempts=s.max_attempts)

    def _run_claim(self, claim: Claim) -> object:
        """The row queue's handler: run the claimed job, unless this process is stopping (then it is
        handed back at once, the attempt not counted, as a clean stop hands back a running job)."""
        if self._stop.is_set():
            self.store.release(claim.row["id"], claim.attempt)
            return None
        return self.runner.run_claimed(claim)

    def _consume(self, prediction_id: str) -> object:
        """The queue's handler: run the job, unless this process is stopping (a message popped while
        the consumers stop goes back to the queue for another process, unclaimed)."""
        if self._stop.is_set():
            self._enqueue_all([prediction_id])
            return None
        return self.runner.run(prediction_id)

    # ------------------------------------------------------------------ heartbeat

    def _beat(self) -> None:
        try:
            self.store.heartbeat(
                self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                roles=self._local_roles(),
                engine=self.settings.engine,
                concurrency=self.concurrency,
            )
        except Exception as exc:  # the database is briefly gone: the next beat renews it
            self._beat_outage.failed(exc)
        else:
            self._beat_outage.ok()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_seconds):
            self._beat()

    @property
    def alive_within(self) -> float:
        """A process counts as alive when it beat within this many seconds."""
        return ALIVE_BEATS * self.settings.heartbeat_seconds

    def consumers_alive(self) -> str:
        """``"ok"`` when a consumer runs here or a process with the consumers role beats anywhere, else
        why not (``/readyz``)."""
        if self.consumers_here and self.queue.running:
            return "ok"
        if self.child is not None and self.child.alive:
            return "ok"
        live = self.store.live_workers(self.alive_within)
        if any("consumers" in w["roles"].split(",") for w in live):
            return "ok"
        return f"no consumer alive: no `seqedit worker` heartbeat in the last {self.alive_within:g} s"

    # ------------------------------------------------------------------ reaper

    def reaper_pass(self) -> list[str]:
        """One reaper pass if this process takes the tick (else ``[]``): lost leases and long-queued
        rows (``Reaper.run_once``), then queued rows whose messages the queue lost."""
        period = TICK_SHARE * self.settings.reaper_interval
        if not self.store.take_tick("reaper", self.id, period):
            return []
        ids = self.reaper.run_once()
        return ids + self.recover_lost_queue()

    def recover_lost_queue(self) -> list[str]:
        """Re-enqueue the queued rows (older than ``lost_queue_seconds``) when the queue holds fewer
        messages than there are such rows; returns their ids."""
        before = time.time() - self.settings.lost_queue_seconds
        queued = self.store.queued_count(before)
        if not queued:
            return []
        pending = self.queue.pending()
        if pending < 0 or pending >= queued:  # unknown, or every row may still have its message
            return []
        rows = self.store.requeue_queued(before)
        for pid, priority in rows:
            self.queue.enqueue(pid, priority)
        log.warning(
            "the queue holds %d message(s) for %d queued job(s): re-enqueued %d from their rows",
            pending,
            queued,
            len(rows),
        )
        return [pid for pid, _ in rows]

    def _requeue(self, prediction_id: str) -> None:
        self._enqueue_all([prediction_id])

    def _requeue_after_backoff(self, prediction_id: str) -> None:
        """A transient fault's backoff is over: mark the row re-enqueued (the row queue claims it from
        there) and send its message (a queue of messages)."""
        try:
            self.store.requeue(prediction_id)
        except Exception:  # the database is still gone: the reaper finds the expired lease later
            log.warning("could not re-enqueue %s after its backoff; the reaper will", prediction_id, exc_info=True)
            return
        self._requeue(prediction_id)

    def _enqueue_all(self, ids: list[str]) -> None:
        """Enqueue ``ids`` with their stored priorities (a re-enqueued job keeps its place)."""
        try:
            priorities = self.store.priorities(ids)
        except Exception:
            priorities = {}
        for pid in ids:
            self.queue.enqueue(pid, priorities.get(pid, 0.0))

    def _enqueue_later(self, prediction_id: str, delay: float) -> None:
        """Re-enqueue a job handed back after a transient fault once its backoff is over (a timer in
        this process; if the process dies first, the reaper finds the expired lease)."""
        timer = threading.Timer(delay + RETRY_SLACK, self._requeue_after_backoff, args=(prediction_id,))
        timer.daemon = True
        timer.start()

    # ------------------------------------------------------------------ a waiting job's place

    def estimate(self, row: dict[str, Any]) -> tuple[int, float | None] | None:
        """``(queue_position, eta_seconds)`` of a queued row, else None.

        ``queue_position``: queued rows ahead of it in queue order (0: next). ``eta_seconds``: when it
        should complete, counted in whole jobs of the recent median duration ``m`` (the last
        ``ETA_JOBS`` completed jobs of the last ``ETA_WINDOW`` s; a median, so one stuck or instant job
        does not swing it): the ``r`` running jobs and the ``p`` ahead fill the ``s`` live consumer
        slots (heartbeats), so it starts after ``max(0, p + r − s + 1) / s`` rounds and completes one
        job later: ``m × (max(0, p + r − s + 1) / s + 1)``. Running jobs count whole (their elapsed
        time is not subtracted), so the figure errs late and only falls as the queue drains: by about
        ``m / s`` per job that leaves it. None while no job completed recently or no consumer is
        alive (nothing would run it)."""
        if row.get("status") != "created":
            return None
        position = self.store.queue_position(row["id"])
        if position is None:
            return None
        median, slots, running = self._fleet_figures()
        if median is None or slots < 1:
            return position, None
        rounds = max(0, position + running - slots + 1) / slots
        return position, round(max(median * (rounds + 1), 0.001), 3)

    def _fleet_figures(self) -> tuple[float | None, int, int]:
        """(the recent median job seconds, the live consumer slots, the running jobs), cached
        ``ESTIMATE_CACHE`` s: polls of waiting jobs are frequent, and each figure is an estimate."""
        with self._figures_lock:
            now = time.monotonic()
            if self._figures is None or now - self._figures[0] >= ESTIMATE_CACHE:
                recent = sorted(self.store.recent_executions(window=ETA_WINDOW, limit=ETA_JOBS))
                median = statistics.median(recent) if recent else None
                live = self.store.live_workers(self.alive_within)
                slots = sum(int(w["concurrency"]) for w in live if "consumers" in w["roles"].split(","))
                if self.consumers_here and self.queue.running:
                    slots = max(slots, self.concurrency)
                self._figures = (now, (median, slots, self.store.running_count()))
            return self._figures[1]

    # ------------------------------------------------------------------ retention

    def _sweep_tick(self) -> None:
        if self.store.take_tick("sweep", self.id, TICK_SHARE * self.settings.sweep_interval):
            self.sweep()
            self.store.forget_workers(FORGET_WORKERS)

    def sweep(self, now: float | None = None) -> tuple[int, int]:
        """Delete predictions (objects first, then the row) and uploads past their retention."""
        preds, ups = self.store.expired(now)
        for pid in preds:
            self.storage.delete_prefix(f"outputs/{pid}/")
            self.store.delete_prediction(pid)
        for up in ups:
            self.storage.delete(up["object_key"])
            self.store.delete_upload(up["id"])
        return len(preds), len(ups)

    # ------------------------------------------------------------------ webhooks

    def _key_secret(self, key_id: str) -> str | None:
        key = self.store.get_key(key_id)
        return None if key is None else key["webhook_secret"]

    def _render_webhook(self, prediction_id: str) -> bytes | None:
        # the receiver may poll the moment this arrives: a row changed by the consumer process whose
        # notice has not reached this process yet must not be answered from the poll cache
        self.rows.forget(prediction_id)
        row = self.store.get(prediction_id)
        if row is None or self._webhook_body is None:
            return None
        return self._webhook_body(row, self.storage, self.base_url)
