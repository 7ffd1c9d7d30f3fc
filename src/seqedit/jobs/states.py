"""``Rows``: the poll cache, prediction rows this process has read, answered from memory while they
cannot have changed.

A poll (``GET …/result``), a long poll, a sync-mode waiter and an Ark stream read a prediction over
and over; most reads find what the last one found. ``Rows`` keeps the rows it read, and answers from
memory when a row cannot have changed since:

* **Terminal rows** (``completed``, ``failed``, ``cancelled``) are immutable: no transition writes a
  terminal row again, and only the retention sweep deletes one, once it is past ``expires_at``. They
  are cached in every mode, each trusted until its own ``expires_at``; past it the store answers (the
  sweep of another process may have deleted it, or not yet).
* **Live rows** (``created``, ``processing``) are cached only when ``trust_live()`` is true: the
  service sees every change of the rows (``Service.sees_every_change``: an embedded process, its own
  consumers the only writers) and subscribes ``forget`` to its ``Notifier``, which the store's change
  feed calls after every committed write a poll can see. ``forget(id)`` drops the entry, and the next
  read goes to the store. Otherwise (an API process sharing its database with workers elsewhere)
  every read of a live row goes to the store, as before.

A read that raced a change must not put the older row back after ``forget`` dropped it: every store
read holds a ticket from before its ``SELECT`` until it caches the result, ``forget`` spoils the
tickets of its id, and a spoiled read returns its row without caching it.

``generation`` counts notifications of any prediction; an answer derived from more than its own row
(a queued row's ``queue_position`` and ``eta_seconds`` count the other rows) can be kept while it is
unchanged. Each ``Entry`` carries a ``memo`` for such derived answers (a protocol's rendered bytes):
it is dropped with its entry, so nothing in it outlives the row state it was made from.

Bounded: at most ``size`` entries (default ``SIZE`` = 10,000), least recently used first out. Each
entry is the full row (the request's prompt, at most 10,000 characters, and its references: object
keys, URLs, not image data) plus what a protocol memoises (about 1 KB rendered); 10,000 rows of
typical requests are a few tens of megabytes. Thread-safe: notifications come from runner threads,
reads from the event loop and worker threads. Cached rows are shared: callers must not mutate them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from seqedit.jobs.store import Status, Store

__all__ = ["Entry", "Rows", "SIZE"]

SIZE = 10_000  # rows kept, least recently used evicted first


@dataclass(eq=False)
class Entry:
    """One row as read (read-only) and the answers derived from it (``memo``, by a key the deriving
    protocol picks)."""

    row: dict[str, Any]
    terminal: bool
    memo: dict[Hashable, Any] = field(default_factory=dict)


class _Ticket:
    __slots__ = ("spoiled",)

    def __init__(self) -> None:
        self.spoiled = False


class Rows:
    def __init__(
        self,
        store: Store,
        *,
        trust_live: Callable[[], bool] | bool = False,
        size: int = SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.store = store
        self._trust_live: Callable[[], bool] = (lambda: trust_live) if isinstance(trust_live, bool) else trust_live
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._tickets: dict[str, list[_Ticket]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self.hits = 0  # reads answered from memory
        self.reads = 0  # reads that went to the store

    @property
    def generation(self) -> int:
        """How many notifications (of any prediction) this cache has seen."""
        return self._generation

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, prediction_id: str) -> Entry | None:
        """The entry, when the row it holds is certainly current; else None (then ``load``). No I/O."""
        with self._lock:
            entry = self._entries.get(prediction_id)
            if entry is None:
                return None
            if entry.terminal:
                if entry.row["expires_at"] <= self._clock():  # the sweep may take it now: ask the store
                    del self._entries[prediction_id]
                    return None
            elif not self._trust_live():
                del self._entries[prediction_id]
                return None
            self._entries.move_to_end(prediction_id)
            self.hits += 1
            return entry

    def load(self, prediction_id: str) -> Entry | None:
        """Read the row from the store (blocking) and cache it when it may be: None when it does not
        exist. The entry is returned whether or not it was cached."""
        ticket = _Ticket()
        with self._lock:
            self._tickets.setdefault(prediction_id, []).append(ticket)
            self.reads += 1
        try:
            row = self.store.get(prediction_id)
        finally:
            with self._lock:
                waiting = self._tickets[prediction_id]
                waiting.remove(ticket)
                if not waiting:
                    del self._tickets[prediction_id]
        if row is None:
            return None
        entry = Entry(row, Status(row["status"]).is_terminal())
        with self._lock:
            if not ticket.spoiled and (entry.terminal or self._trust_live()):
                self._entries[prediction_id] = entry
                self._entries.move_to_end(prediction_id)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return entry

    def get(self, prediction_id: str, key_id: str | None = None) -> Entry | None:
        """``peek``, else ``load`` (blocking); None when the row does not exist or, with ``key_id``,
        belongs to another key (checked on the cached row: no read)."""
        entry = self.peek(prediction_id) or self.load(prediction_id)
        if entry is None or (key_id is not None and entry.row["key_id"] != key_id):
            return None
        return entry

    async def read(self, prediction_id: str) -> dict[str, Any] | None:
        """The current row, from memory when it can be (no thread hop), else from the store in a
        worker thread. None when it does not exist."""
        entry = self.peek(prediction_id)
        if entry is None:
            entry = await asyncio.to_thread(self.load, prediction_id)
        return None if entry is None else entry.row

    def forget(self, prediction_id: str) -> None:
        """The row changed (the ``Notifier``'s subscriber): drop its entry, and spoil the reads of it
        in flight, so none of them caches what it read before the change."""
        with self._lock:
            self._generation += 1
            self._entries.pop(prediction_id, None)
            for ticket in self._tickets.get(prediction_id, ()):
                ticket.spoiled = True
