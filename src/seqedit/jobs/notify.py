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
from collections.abc import Callable

__all__ = ["Notifier"]

log = logging.getLogger("seqedit.notify")


class Notifier:
    def __init__(self) -> None:
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[str], None], ...] = ()

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(prediction_id)`` on every ``notify``, before any waiter is woken, in the
        notifying thread (so it must be quick and thread-safe; its errors are logged, never raised)."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def notify(self, prediction_id: str) -> None:
        """Tell the subscribers, then wake every waiter of ``prediction_id`` (thread-safe; called from
        runner threads and wherever a write commits)."""
        for listener in self._listeners:
            try:
                listener(prediction_id)
            except Exception:  # a subscriber's bug must not stop the wake-ups (or fail a committed write)
                log.exception("a notifier subscriber failed for prediction %s", prediction_id)
        with self._lock:
            waiters = list(self._waiters.get(prediction_id, ()))
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, prediction_id: str, timeout: float) -> None:
        """Return when ``prediction_id`` is notified or after ``timeout`` seconds, whichever is first."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(prediction_id, set()).add(entry)
        try:
            await asyncio.wait_for(entry[1].wait(), timeout=max(0.0, timeout))
        except TimeoutError:
            pass
        finally:
            with self._lock:
                group = self._waiters.get(prediction_id)
                if group is not None:
                    group.discard(entry)
                    if not group:
                        del self._waiters[prediction_id]
