"""The database is down: every route answers ``503`` with ``Retry-After``, never a 500.

While PostgreSQL (or the SQLite file) cannot be reached, any route that reads or writes a row raises
SQLAlchemy's ``OperationalError`` (connection refused, server closed the connection, database locked),
a ``DBAPIError`` whose connection was invalidated, an ``InterfaceError`` (psycopg's "connection is
closed"), or the pool's ``TimeoutError`` — the same faults ``jobs.faults`` calls transient for a job,
also when wrapped in another error. ``unavailable(exc)`` turns exactly those into an ``ApiError(503)``
with the WaveSpeed error body and ``Retry-After: RETRY_AFTER``; ``api.routing.as_api_error`` (the one
place every router and the app's own handlers map exceptions) asks it first, so no route needs to.

Nothing is half-accepted: a submit writes its row in one transaction (``Store.create``) and enqueues
only after it committed, and its inline images are deleted when the row is not written, so a 503
means no prediction was created. Polls, history, cancel and uploads answer 503 the same way, and work
again as soon as the database is back (PostgreSQL's pool pings a connection before using it).

The 503 names no host, port or driver message (the client cannot act on them); the operator gets a
WARNING line with the fault, at most one per ``LOG_EVERY`` seconds with how many were answered since.
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy.exc

from seqedit.api.envelope import ApiError
from seqedit.jobs.faults import transient

__all__ = ["unavailable", "RETRY_AFTER", "MESSAGE", "LOG_EVERY"]

log = logging.getLogger("seqedit.api")

RETRY_AFTER = 5  # seconds a client is told to wait (the Retry-After header)
MESSAGE = "the service's database is unavailable; nothing was changed, retry in a few seconds"
LOG_EVERY = 10.0  # seconds between two warnings about the same outage

_DEPTH = 8
_lock = threading.Lock()
_last_logged = -float("inf")
_since = 0


def unavailable(exc: BaseException) -> ApiError | None:
    """The 503 for an exception that means the database cannot be reached, or None."""
    reason = _database_fault(exc)
    if reason is None:
        return None
    _note(reason)
    return ApiError(503, MESSAGE, headers={"Retry-After": str(RETRY_AFTER)})


def _database_fault(exc: BaseException) -> str | None:
    fault = transient(exc)
    if fault is not None:
        return fault.reason if fault.kind == "database" else None
    current: BaseException | None = exc
    for _ in range(_DEPTH):  # InterfaceError, which jobs.faults leaves alone (not a job's fault either)
        if current is None:
            break
        if isinstance(current, sqlalchemy.exc.InterfaceError):
            return f"the database is unavailable ({str(current).strip().splitlines()[0][:200]})"
        current = current.__cause__ or current.__context__
    return None


def _note(reason: str) -> None:
    global _last_logged, _since
    now = time.monotonic()
    with _lock:
        _since += 1
        if now - _last_logged < LOG_EVERY:
            return
        count, _since, _last_logged = _since, 0, now
    log.warning("database unavailable: answering 503", extra={"reason": reason, "answered": count})
