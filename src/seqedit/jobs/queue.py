"""The queue port and its Huey implementation: the queue carries prediction ids, nothing else.

The port (``Queue``)::

    enqueue(id, priority)  hand a prediction id to some consumer (a duplicate is harmless: the claim refuses it);
                           higher priorities first, FIFO among equals
    start(workers)         run ``workers`` consumer threads in this process, each calling ``handler(id)``
    stop()                 stop them (a running handler is stopped by the runner, not here)
    running -> bool        consumers are running in this process
    pending() -> int       messages waiting (-1 when the backend cannot say)

The service uses this module only when ``queue_url`` is set; without one the prediction rows are the
queue (``jobs.rowqueue``, the same port).

``open_queue(url, data_dir, handler, on_worker_start)`` is the one factory: ``""`` or ``sqlite:///…``
→ ``SqliteHuey`` (``<data_dir>/queue.db``), ``memory://`` (tests), ``redis://…`` → ``PriorityRedisHuey``.
Every implementation runs the same contract tests (``tests/jobs/test_queue.py``).

Huey runs with one task, ``seqedit.run_prediction(id)``, that never raises (no Huey retries); its
signal handlers and periodic tasks are off, so uvicorn keeps its own. Huey never acks a task, so a
SIGKILL loses the task in flight: the prediction row's lease and the reaper (``jobs.runner``)
recover it. An in-process wake event starts a locally enqueued job at once instead of after the
consumer's poll back-off (enqueues from other processes wait one poll; Redis pops block, so they
start at once too).

**Redis** (``PriorityRedisHuey``): one sorted set, scored by minus the priority, each member prefixed
with its enqueue time in microseconds, so higher priorities come first and equals in FIFO order.
Redis may lose messages (a restart without persistence, a failover): the rows are the truth, and the
service's reaper pass re-enqueues queued rows when ``pending()`` says the queue holds fewer messages
than there are queued rows (``service``). While Redis is unreachable:

* a consumer does not die: each failed pop is retried after the poll back-off (≤ ``poll_max_delay``),
  with one warning when the outage starts and one line when the queue answers again (not a traceback
  per poll); the client reconnects by itself;
* ``enqueue`` logs a warning and returns: the row is already written, and the reaper re-enqueues it
  once the queue is back (a submit is not failed for a message the rows can replay);
* ``pending()`` is -1 (unknown), so nothing is re-enqueued while the count cannot be trusted.

Connections time out (``REDIS_CONNECT_TIMEOUT``, ``REDIS_SOCKET_TIMEOUT``) so an unreachable host
cannot hang a consumer or a submit; the socket timeout is above the blocking pop's 1 s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from huey import Huey, MemoryHuey, SqliteHuey
from huey.consumer import Consumer, Worker

__all__ = ["Queue", "HueyQueue", "open_queue", "make_huey", "TASK_NAME"]

TASK_NAME = "seqedit.run_prediction"
REDIS_CONNECT_TIMEOUT = 5.0  # seconds to open a connection to Redis
REDIS_SOCKET_TIMEOUT = 10.0  # seconds a Redis command may take (above the blocking pop's 1 s)
log = logging.getLogger("seqedit.queue")


class Queue(Protocol):
    def enqueue(self, prediction_id: str, priority: float = 0.0) -> None: ...
    def start(self, workers: int = 1) -> None: ...
    def stop(self) -> None: ...
    @property
    def running(self) -> bool: ...
    def pending(self) -> int: ...


def make_huey(queue_url: str, data_dir: Path) -> Huey:
    if not queue_url or queue_url.startswith("sqlite"):
        if queue_url.startswith("sqlite:///"):
            path = queue_url.split("sqlite:///", 1)[1]
        else:
            path = str(Path(data_dir) / "queue.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # fsync=False: the queue only carries ids; after an OS crash the rows (synchronous=NORMAL) and
        # the reaper re-enqueue whatever the queue lost. It saves an fsync per submit.
        return SqliteHuey(name="seqedit", filename=path, results=False, utc=True, timeout=30, fsync=False)
    if queue_url.startswith("memory"):
        return MemoryHuey(name="seqedit", results=False, immediate=False)
    if queue_url.startswith(("redis://", "rediss://")):
        from huey import PriorityRedisHuey
        from redis import ConnectionPool

        pool = ConnectionPool.from_url(
            queue_url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT, socket_timeout=REDIS_SOCKET_TIMEOUT
        )
        return PriorityRedisHuey(name="seqedit", connection_pool=pool, results=False)
    raise ValueError(f"unsupported queue_url {queue_url!r} (sqlite:///…, memory://, redis://…)")


def open_queue(
    queue_url: str, data_dir: Path, handler: Callable[[str], object], on_worker_start: Callable[[], None] | None = None
) -> Queue:
    """The queue for the ``queue_url`` setting."""
    return HueyQueue(make_huey(queue_url, data_dir), handler, on_worker_start=on_worker_start)


class _WakeableWorker(Worker):
    """Sleeps between empty polls on the queue's wake event, so an enqueue in this process starts the
    job at once instead of after the poll back-off; a queue that cannot be read (Redis down) is
    retried after the back-off with one warning per outage."""

    delay: float
    default_delay: float
    max_delay: float
    backoff: float
    _down_since: float | None = None

    def loop(self, now: object = None) -> None:
        try:
            task = self.huey.dequeue()
        except Exception as exc:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("the queue cannot be read (%s: %s); retrying until it answers", type(exc).__name__, exc)
            self.sleep()
            return
        if self._down_since is not None:
            log.info("the queue answers again after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None
        if task is not None:
            self.delay = self.default_delay
            try:
                self.huey.execute(task, now)
            except Exception:
                log.exception("unhandled error while executing task %s", task.id)
        elif not self.huey.storage.blocking:
            self.sleep()

    def sleep(self) -> None:
        if self.delay > self.max_delay:
            self.delay = self.max_delay
        wake = getattr(self.huey, "_seqedit_wake", None)
        if wake is None:
            self.stop_flag.wait(self.delay)
        elif wake.wait(self.delay):
            wake.clear()
        self.delay *= self.backoff


class _EmbeddedConsumer(Consumer):
    worker_class = _WakeableWorker

    def _set_signal_handlers(self) -> None:  # uvicorn owns SIGINT/SIGTERM in `seqedit serve`
        pass


class HueyQueue:
    """``Queue`` over a Huey instance; consumer threads call ``handler(id)``."""

    def __init__(
        self, huey: Huey, handler: Callable[[str], object], on_worker_start: Callable[[], None] | None = None
    ) -> None:
        self.huey = huey
        self._handler = handler
        self._task = huey.task(name=TASK_NAME)(self._run)
        self._consumer: Consumer | None = None
        self._wake = threading.Event()
        huey._seqedit_wake = self._wake
        if on_worker_start is not None:  # runs once in each consumer thread (e.g. load the engine)
            huey.on_startup(name="seqedit.warm")(on_worker_start)

    def _run(self, prediction_id: str) -> None:
        try:
            self._handler(prediction_id)
        except Exception:  # the runner records failures on the row; never let Huey retry blindly
            log.exception("run_prediction(%s) crashed", prediction_id)

    def enqueue(self, prediction_id: str, priority: float = 0.0) -> None:
        try:
            self._task(prediction_id, priority=priority or None)
        except Exception as exc:  # Redis unreachable: the row is written; the reaper re-enqueues it
            log.warning(
                "could not enqueue prediction %s (%s: %s); the reaper re-enqueues it from its row",
                prediction_id,
                type(exc).__name__,
                exc,
            )
            return
        self._wake.set()

    def pending(self) -> int:
        try:
            return int(self.huey.pending_count())
        except Exception:
            return -1

    def start(self, workers: int = 1, *, poll_max_delay: float = 0.25) -> None:
        """Start consumer threads in this process (non-blocking)."""
        self._consumer = _EmbeddedConsumer(
            self.huey,
            workers=max(1, workers),
            periodic=False,
            worker_type="thread",
            initial_delay=0.02,
            backoff=1.2,
            max_delay=poll_max_delay,
            check_worker_health=False,
        )
        self._consumer.start()

    @property
    def running(self) -> bool:
        return self._consumer is not None and not self._consumer.stop_flag.is_set()

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=False)
            self._consumer = None
