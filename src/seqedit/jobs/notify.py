"""``Notifier``: wakes sync-mode waiters in this process's event loop when a run here finishes.

A waiter that is not woken (the job ran in another process) still sees the row change on its next
poll; the notifier only removes the poll delay for jobs that ran in this process.
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["Notifier"]


class Notifier:
    def __init__(self) -> None:
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()

    def notify(self, prediction_id: str) -> None:
        """Wake every waiter of ``prediction_id`` (thread-safe; called from runner threads)."""
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
