"""The composition root of ``seqedit serve``: store, storage, queue, runner, reaper, webhooks, sweep.

One process, no external services: SQLite (WAL) rows, ``SqliteHuey`` consumer threads, objects under
``<data_dir>/objects``. Background threads: the reaper (start-up pass, then every
``reaper_interval``), the webhook sender, and the retention sweep (every ``sweep_interval``).
"""
from __future__ import annotations

import asyncio
import importlib
import json
import logging
import secrets
import threading
import time
from pathlib import Path

from seqedit.config import Settings
from seqedit.engines.base import Engine, create
from seqedit.jobs.queue import JobQueue, make_huey
from seqedit.jobs.runner import Reaper, Runner
from seqedit.jobs.store import Store
from seqedit.jobs.webhooks import WebhookSender
from seqedit.storage import ObjectStorage

__all__ = ["Service", "Notifier", "load_plugins"]

log = logging.getLogger("seqedit.service")


def load_plugins(spec: str) -> None:
    for name in (m.strip() for m in spec.split(",")):
        if name:
            importlib.import_module(name)


def _secret(settings: Settings) -> bytes:
    if settings.signing_secret:
        return settings.signing_secret.encode()
    path = Path(settings.data_dir) / "secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


class Notifier:
    """Wakes sync-mode requests waiting in the event loop when a runner in this process finishes."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()

    def notify(self, prediction_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(prediction_id, ()))
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, prediction_id: str, timeout: float) -> None:
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(prediction_id, set()).add(entry)
        try:
            await asyncio.wait_for(entry[1].wait(), timeout=max(0.0, timeout))
        except (asyncio.TimeoutError, TimeoutError):
            pass
        finally:
            with self._lock:
                group = self._waiters.get(prediction_id)
                if group is not None:
                    group.discard(entry)
                    if not group:
                        del self._waiters[prediction_id]


class Service:
    def __init__(self, settings: Settings, *, embedded: bool = True, consumers: bool = True,
                 engine_factory=create) -> None:
        self.settings = settings
        self.embedded = embedded
        self.consumers = consumers
        data = Path(settings.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        load_plugins(settings.plugins)
        self.secret = _secret(settings)
        self.store = Store(settings.db_url or f"sqlite:///{(data / 'seqedit.db').resolve()}")
        self.storage = ObjectStorage(data / "objects")
        self.notifier = Notifier()
        self.base_url = settings.public_url.rstrip("/")
        self.runner = Runner(self.store, self.storage, settings, secret=self.secret,
                             engine_factory=engine_factory, notify=self.notifier.notify)
        self.queue = JobQueue(make_huey(settings.queue_url, data), self.runner.run, on_worker_start=self.runner.warm)
        self.reaper = Reaper(self.store, self.queue.enqueue, settings)
        self.webhooks = WebhookSender(self.store, settings, render=self.render_webhook, secret_for=self._key_secret)
        self._engine_factory = engine_factory
        self._stop = threading.Event()
        self._started = False
        self.started_at = time.time()

    # ------------------------------------------------------------------ lifecycle

    def check_engine(self) -> Engine:
        """Build the configured engine once (fail fast on an unknown name)."""
        return self._engine_factory(self.settings.engine, **self.settings.engine_options())

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.embedded:
            self.store.expire_leases()  # nothing of the previous process survived
        for pid in self.store.reap(max_attempts=self.settings.max_attempts, stale=0.0):
            self.queue.enqueue(pid)
        if self.consumers:
            self.queue.start(self.settings.workers)
        self.reaper.start()
        self.webhooks.start()
        threading.Thread(target=self._sweep_loop, daemon=True, name="seqedit-retention").start()

    def stop(self) -> None:
        """Clean stop: no new jobs, running ones handed back between steps (re-run on the next start
        without counting a lost attempt), background threads ended."""
        self._stop.set()
        self.reaper.stop()
        self.queue.stop()
        self.runner.release_all(timeout=10.0)
        self.webhooks.stop()

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

    # ------------------------------------------------------------------ helpers

    def _key_secret(self, key_id: str) -> str | None:
        key = self.store.get_key(key_id)
        return None if key is None else key["webhook_secret"]

    def render_webhook(self, prediction_id: str) -> bytes | None:
        from seqedit.api.envelope import prediction_json

        row = self.store.get(prediction_id)
        if row is None:
            return None
        obj = prediction_json(row, base=self.base_url, service=self, base64=False)
        return json.dumps(obj, separators=(",", ":")).encode()
