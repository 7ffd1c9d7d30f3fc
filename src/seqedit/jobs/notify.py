"""``Notifier``: this process's fan-out of "prediction X changed": it calls its subscribers (the poll
cache, ``jobs.states``) and wakes the waiters (sync mode, long polls, streams) in their event loops.

The store's change feed (``Store.watch``) calls ``notify`` after every committed write a poll can see.
Subscribers run first, in the notifying thread, so a waiter that wakes and reads through the cache
never finds the entry the change made stale. A waiter that is not woken (the job ran in another
process) still sees the row change on its next poll; the notifier only removes the poll delay.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Notifier", "Watch"]

log = logging.getLogger("seqedit.notify")


class Watch:
    """One waiter's view of a prediction's notifications, lossless: every ``notify`` after the watch
    began is seen by the next ``changed`` (several between two calls are seen as one, with the latest
    status). Made by ``Notifier.watching``; used in the event loop it was made in."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._event = asyncio.Event()
        self.status: str | None = None  # the status the latest notification carried (None: unknown)

    def _set(self, status: str | None) -> None:  # in the loop's thread (call_soon_threadsafe keeps order)
        self.status = status
        self._event.set()

    async def changed(self, timeout: float) -> tuple[bool, str | None]:
        """(True, the latest status notified) once a notification came since the last call, or
        (False, None) after ``timeout`` seconds without one."""
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout=max(0.0, timeout))
            except TimeoutError:
                return False, None
        self._event.clear()
        return True, self.status


class Notifier:
    def __init__(self) -> None:
        self._waiters: dict[str, set[Watch]] = {}
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[str], None], ...] = ()

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(prediction_id)`` on every ``notify``, before any waiter is woken, in the
        notifying thread (so it must be quick and thread-safe; its errors are logged, never raised)."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def notify(self, prediction_id: str, status: str | None = None) -> None:
        """Tell the subscribers, then wake every waiter of ``prediction_id`` (thread-safe; called from
        runner threads and wherever a write commits). ``status``: the row's status after the change,
        when the notifier knows it (the store's change feed passes it), so a waiter for the end of a
        job can tell a change that is not its end without reading the row."""
        for listener in self._listeners:
            try:
                listener(prediction_id)
            except Exception:  # a subscriber's bug must not stop the wake-ups (or fail a committed write)
                log.exception("a notifier subscriber failed for prediction %s", prediction_id)
        with self._lock:
            waiters = list(self._waiters.get(prediction_id, ()))
        for watch in waiters:
            watch.loop.call_soon_threadsafe(watch._set, status)

    @contextmanager
    def watching(self, prediction_id: str) -> Iterator[Watch]:
        """A ``Watch`` of ``prediction_id`` for the block (in a running event loop)."""
        watch = Watch(asyncio.get_running_loop())
        with self._lock:
            self._waiters.setdefault(prediction_id, set()).add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                group = self._waiters.get(prediction_id)
                if group is not None:
                    group.discard(watch)
                    if not group:
                        del self._waiters[prediction_id]
