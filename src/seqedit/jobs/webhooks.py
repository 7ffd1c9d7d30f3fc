"""Webhook delivery from the outbox (``jobs.store.webhook_outbox``), in its own threads.

The outbox row is written in the same transaction as the terminal state, so a completion is never
lost to a crash. This sender polls for due rows and posts each one from a small thread pool, so a
slow or dead receiver delays only its own deliveries, never a worker. The body is the bare
prediction object, rendered at delivery time from the (sticky) terminal row; the headers are the
WaveSpeed ones (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v3,<hex>``) with the
key's secret. ``webhook-id`` is stable across retries (``<prediction id>-<status>``), so receivers
can deduplicate. A non-2xx answer or a network failure is retried with exponential backoff
(``webhook_backoff`` × 2^n, capped at 600 s) up to ``webhook_max_attempts``; a URL the SSRF guard
refuses is not retried.

**A fleet sends each attempt once.** Every process with the webhooks role (API replicas, workers)
polls the same outbox; before posting, a sender claims the attempt (``Store.claim_webhook``: one
conditional UPDATE moves the row's ``next_attempt_at``, as it was read, to ``now + claim_lease``), and
only the process whose UPDATE hit the row posts it. A sender that dies mid-attempt leaves the row due
again once the claim lease has passed (``claim_lease``: the attempt's connect and read timeouts with
slack), so a delivery is at least once across crashes and once otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from seqedit.config import Settings
from seqedit.jobs.faults import Outage
from seqedit.jobs.store import Store

__all__ = ["WebhookSender"]

log = logging.getLogger("seqedit.webhooks")


class WebhookSender:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        render: Callable[[str], bytes | None],
        secret_for: Callable[[str], str | None],
        poll: float = 0.2,
        threads: int = 4,
    ) -> None:
        self.store = store
        self.settings = settings
        self.render = render
        self.secret_for = secret_for
        self.poll = poll
        # how long a claimed attempt is ours: connect + read timeouts, and slack for a slow process
        self.claim_lease = 3 * settings.webhook_timeout + 5.0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seqedit-webhook")
        self._inflight: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="seqedit-webhooks")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        outage = Outage(log, "webhook dispatch")
        while not self._stop.is_set():
            try:
                self.dispatch_due()
            except Exception as exc:
                outage.failed(exc)
            else:
                outage.ok()
            self._wake.wait(self.poll)
            self._wake.clear()

    def dispatch_due(self) -> int:
        """Claim and hand to the pool every due attempt that no other sender took; returns how many."""
        n = 0
        for row in self.store.due_webhooks():
            with self._lock:
                if row["id"] in self._inflight:
                    continue
                self._inflight.add(row["id"])
            try:
                mine = self.store.claim_webhook(row["id"], row["next_attempt_at"], lease=self.claim_lease)
            except Exception:
                mine = False
                log.warning("could not claim webhook %s", row["message_id"], exc_info=True)
            if not mine:  # another process took this attempt (or the row changed since it was read)
                with self._lock:
                    self._inflight.discard(row["id"])
                continue
            self._pool.submit(self._deliver_and_release, row)
            n += 1
        return n

    def _deliver_and_release(self, row: dict[str, Any]) -> None:
        try:
            self.deliver(row)
        except Exception:
            log.exception("webhook %s failed unexpectedly", row["id"])
        finally:
            with self._lock:
                self._inflight.discard(row["id"])

    def deliver(self, row: dict[str, Any]) -> bool:
        """One attempt; records the outcome on the outbox row. True when delivered."""
        from seqedit.fetch import FetchError, post_bytes
        from seqedit.signing import webhook_headers

        s = self.settings
        body = self.render(row["prediction_id"])
        secret = self.secret_for(row["key_id"])
        if body is None or secret is None:
            self.store.webhook_attempted(
                row["id"], delivered=False, error="prediction or key no longer exists", dead=True
            )
            return False
        headers = webhook_headers(secret, body, row["message_id"], int(time.time()))
        headers["Content-Type"] = "application/json"
        transient, error = True, ""
        try:
            status = post_bytes(
                row["url"],
                body,
                headers=headers,
                connect_timeout=s.webhook_timeout,
                read_timeout=s.webhook_timeout,
                allow_hosts=s.allowed_hosts,
            )
            if 200 <= status < 300:
                self.store.webhook_attempted(row["id"], delivered=True)
                return True
            error = f"receiver answered status {status}"
        except FetchError as exc:
            transient, error = exc.transient, exc.message
        attempts = row["attempts"] + 1
        dead = not transient or attempts >= s.webhook_max_attempts
        delay = min(600.0, s.webhook_backoff * (2 ** (attempts - 1)))
        self.store.webhook_attempted(row["id"], delivered=False, error=error, dead=dead, next_at=time.time() + delay)
        log.info(
            "webhook %s attempt %d failed (%s)%s",
            row["message_id"],
            attempts,
            error,
            "; giving up" if dead else f"; retry in {delay:.1f}s",
        )
        return False
