"""The composition root: ``Settings`` → store, storage, queue, runner, reaper, webhooks, sweep. No HTTP.

A process runs a set of **roles**, all started by one ``Service.start`` and stopped by ``stop``:

=============  ==========================================================================
``api``        this process takes submissions (``Service.submissions``) and answers polls
``consumers``  queue consumer threads run predictions (``settings.workers`` of them, ≥ 1)
``reaper``     a pass at start, then every ``reaper_interval``: lost jobs re-enqueued or failed
``webhooks``   the outbox sender (needs ``webhook_body``, the protocol's rendering of a row)
``sweep``      retention: objects then rows past ``retention``, every ``sweep_interval``
=============  ==========================================================================

``seqedit serve`` runs ``SERVE`` (all five), ``serve --workers 0`` runs ``API_ONLY`` and ``seqedit
worker`` runs ``WORKER`` (consumers and reaper). A process with both ``api`` and ``consumers`` owns its
data dir: it voids every lease at start, since nothing of the previous process survived.
"""

from __future__ import annotations

import importlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from seqedit.config import Settings
from seqedit.datadir import make_private
from seqedit.engines.base import Engine, create
from seqedit.jobs.notify import Notifier
from seqedit.jobs.queue import Queue, open_queue
from seqedit.jobs.runner import Reaper, Runner
from seqedit.jobs.store import Store
from seqedit.jobs.submit import Submissions
from seqedit.jobs.webhooks import WebhookSender
from seqedit.storage import FileSigner, Storage, open_storage

__all__ = ["Service", "ROLES", "SERVE", "API_ONLY", "WORKER", "WebhookBody", "load_plugins"]

ROLES = ("api", "consumers", "reaper", "webhooks", "sweep")
SERVE = frozenset(ROLES)
API_ONLY = SERVE - {"consumers"}
WORKER = frozenset({"consumers", "reaper"})
RETRY_SLACK = 0.05  # seconds after a backoff ends before the re-enqueue: the lease has surely expired

WebhookBody = Callable[[dict[str, Any], Storage, str], bytes]
"""``(terminal row, storage, base URL) -> body``: how the protocol renders a prediction for its webhook."""

log = logging.getLogger("seqedit.service")


def load_plugins(spec: str) -> None:
    for name in (m.strip() for m in spec.split(",")):
        if name:
            importlib.import_module(name)


def database_url(settings: Settings) -> str:
    return settings.db_url or f"sqlite:///{(Path(settings.data_dir) / 'seqedit.db').resolve()}"


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
        self.runner = Runner(
            self.store,
            self.storage,
            settings,
            secret=self.secret,
            engine_factory=engine_factory,
            notify=self.notifier.notify,
            retry=self._enqueue_later,
        )
        self.queue: Queue = open_queue(settings.queue_url, data, self.runner.run, on_worker_start=self.runner.warm)
        self.reaper = Reaper(self.store, self.queue.enqueue, settings)
        self.webhooks = WebhookSender(self.store, settings, render=self._render_webhook, secret_for=self._key_secret)
        self.submissions = Submissions(
            self.store,
            self.storage,
            self.queue,
            settings,
            secret=self.secret,
            notifier=self.notifier,
            on_cancel_running=self.runner.cancel_local,
            on_cancelled=lambda _id: self.webhooks.wake(),
            engine=self.planning_engine,
        )
        self._webhook_body = webhook_body
        self._engine_factory = engine_factory
        self._planner: Engine | None = None
        self._planner_lock = threading.Lock()
        self._stop = threading.Event()
        self._started = False

    @property
    def owns_data(self) -> bool:
        return {"api", "consumers"} <= self.roles

    # ------------------------------------------------------------------ lifecycle

    def check_engine(self) -> Engine:
        """Build the configured engine once (fail fast on an unknown name or a bad option)."""
        return self._engine_factory(self.settings.engine, **self.settings.engine_options())

    def planning_engine(self) -> Engine:
        """The engine the plan endpoint asks (built once, on first use; engines load weights lazily, so a
        diffusion engine here holds no pipeline)."""
        with self._planner_lock:
            if self._planner is None:
                self._planner = self.check_engine()
            return self._planner

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        log.info("seqedit service starting: roles %s", ", ".join(r for r in ROLES if r in self.roles))
        if self.owns_data:
            self.store.expire_leases()  # nothing of the previous process survived
        if "reaper" in self.roles:
            if self.owns_data:  # every lease and queued row is ours to recover
                for pid in self.store.reap(max_attempts=self.settings.max_attempts, stale=0.0):
                    self.queue.enqueue(pid)
            else:  # others may be running: the same pass as every later one
                self.reaper.run_once()
            self.reaper.start()
        if "consumers" in self.roles:
            self.queue.start(max(1, self.settings.workers))
        if "webhooks" in self.roles:
            self.webhooks.start()
        if "sweep" in self.roles:
            threading.Thread(target=self._sweep_loop, daemon=True, name="seqedit-retention").start()

    def stop(self) -> None:
        """Clean stop: no new jobs, running ones handed back between steps (re-run on the next start
        without counting a lost attempt), background threads ended."""
        self._stop.set()
        self.reaper.stop()
        self.queue.stop()
        self.runner.release_all(timeout=10.0)
        self.webhooks.stop()

    def _enqueue_later(self, prediction_id: str, delay: float) -> None:
        """Re-enqueue a job handed back after a transient fault once its backoff is over (a timer in
        this process; if the process dies first, the reaper finds the expired lease)."""
        timer = threading.Timer(delay + RETRY_SLACK, self.queue.enqueue, args=(prediction_id,))
        timer.daemon = True
        timer.start()

    # ------------------------------------------------------------------ retention

    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.settings.sweep_interval):
            try:
                self.sweep()
            except Exception:
                log.exception("retention sweep failed")

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
        row = self.store.get(prediction_id)
        if row is None or self._webhook_body is None:
            return None
        return self._webhook_body(row, self.storage, self.base_url)
