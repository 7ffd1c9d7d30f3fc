"""The queue in the prediction rows: the default when no ``queue_url`` is set (embedded mode).

A submitted row *is* its queue message, so a job is written to one database, once: no second
queue file, no enqueue transaction, no dequeue and delete. A consumer thread takes the next job
with ``Store.claim_next`` (one conditional ``UPDATE … RETURNING`` in queue order: jobs the reaper
re-enqueued after their lease ran out first, then ``created`` rows by priority and age) and hands
the ``Claim`` to its handler, which runs it (``Runner.run_claimed``). Exactly-once is the claim's:
two consumers, in one process or several, can never both take a row.

The port (``jobs.queue.Queue``) holds: ``enqueue(id, priority)`` has nothing to write (the row was
written with its priority, and re-enqueues mark the row: ``Store.reap``, ``Store.requeue``), so it
only **wakes** the consumers: at once in this process, and in a child consumer process through
``on_enqueue`` (the service forwards the wake over its socket). A consumer with nothing to do sleeps
on that wake with a back-off from ``initial_delay`` up to ``poll_max_delay`` seconds between claims,
so a job enqueued by another process without a wake (a ``serve --workers 0`` beside a ``worker``) starts
within ``poll_max_delay``. ``pending()`` is the claimable rows, so the service's lost-queue recovery
never fires: the rows cannot lose their messages.

While the database cannot be reached a consumer does not die: one warning when the outage starts
(``jobs.faults.Outage``), a line when it ends, a claim attempt every ``poll_max_delay``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from seqedit.jobs.faults import Outage
from seqedit.jobs.store import Claim, Store

__all__ = ["RowQueue"]

log = logging.getLogger("seqedit.queue")


class RowQueue:
    """``Queue`` over the prediction rows: consumer threads call ``take()`` (a claim) and ``handler(claim)``."""

    def __init__(
        self,
        store: Store,
        take: Callable[[], Claim | None],
        handler: Callable[[Claim], object],
        *,
        on_worker_start: Callable[[], None] | None = None,
        on_enqueue: Callable[[], object] | None = None,
        initial_delay: float = 0.02,
        poll_max_delay: float = 0.25,
        backoff: float = 1.5,
    ) -> None:
        self.store = store
        self._take = take
        self._handler = handler
        self._on_worker_start = on_worker_start
        self.on_enqueue = on_enqueue  # forwards a wake to consumers in another process (set by the service)
        self._initial = initial_delay
        self._max = poll_max_delay
        self._backoff = backoff
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._outage = Outage(log, "claiming the next job")

    def enqueue(self, prediction_id: str, priority: float = 0.0) -> None:
        """The row is the message: wake the consumers (here, and in a child process)."""
        self.wake()
        if self.on_enqueue is not None:
            try:
                self.on_enqueue()
            except Exception:  # the child polls within poll_max_delay anyway
                log.debug("could not forward a wake", exc_info=True)

    def wake(self) -> None:
        self._wake.set()

    def pending(self) -> int:
        try:
            return self.store.queued_count(float("inf"))
        except Exception:
            return -1

    def start(self, workers: int = 1) -> None:
        if self._threads:
            return
        self._stop.clear()
        for n in range(max(1, workers)):
            thread = threading.Thread(target=self._consume, daemon=True, name=f"seqedit-consumer-{n + 1}")
            thread.start()
            self._threads.append(thread)

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    def stop(self) -> None:
        """Stop taking jobs (a running handler is stopped by the runner, not here)."""
        self._stop.set()
        self._wake.set()
        self._threads = []

    def _consume(self) -> None:
        if self._on_worker_start is not None:
            try:
                self._on_worker_start()
            except Exception:
                log.exception("a consumer's start-up hook failed")
        delay = self._initial
        while not self._stop.is_set():
            try:
                claim = self._take()
            except Exception as exc:  # the database is briefly gone: try again after the longest sleep
                self._outage.failed(exc)
                self._stop.wait(self._max)
                continue
            self._outage.ok()
            if claim is None:
                if self._wake.wait(delay):
                    self._wake.clear()  # then claim again: a wake that came meanwhile finds its row
                    delay = self._initial
                else:
                    delay = min(self._max, delay * self._backoff)
                continue
            delay = self._initial
            try:  # claimed while the service stops: its handler hands the job back (Store.release)
                self._handler(claim)
            except Exception:  # the runner records failures on the row; a bug here must not kill the thread
                log.exception("running prediction %s crashed", claim.row.get("id"))
