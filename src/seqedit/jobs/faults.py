"""Transient faults: failures of the machine a job runs on, not of the job.

A job fails for good when *it* is at fault: a bad image (1401), a reference that cannot be read
(1402), an edit the engine cannot do (1403), an engine that breaks its contract or crashes (5000). It
must not fail for good because the machine had a bad moment: the disk was full, the process ran out of
file descriptors, the database was briefly unreachable, the object store refused a write. Those are
*transient*: the runner hands the attempt back for a later retry (``Store.retry_later``), bounded by
``max_attempts`` like every other lost attempt, and a job that runs out of attempts fails with a
message naming the fault ("disk full (ENOSPC) …"), never "internal error".

``transient(exc)`` is the one classifier. It looks at ``exc`` and at the exceptions it was raised
from or while handling (``__cause__``, ``__context__``), because the layers above often wrap the
original error: a reference loader turns an ``OSError`` into a ``RefError``, an engine turns anything
into an ``EngineError``. It recognises

* ``OSError`` with an errno of resource exhaustion or I/O trouble (``TRANSIENT_ERRNOS``: ENOSPC,
  EDQUOT, EMFILE, ENFILE, EIO, EAGAIN, ENOMEM, ENOBUFS, EROFS, EBUSY, ETIMEDOUT, EINTR);
* obstore's own errors, which carry no errno but spell the OS error in their message (``… No space
  left on device (os error 28)``, or a remote store's socket error spread over lines as
  ``Os {\n code: 111, …``): a ``GenericError`` is transient when its OS error is one of the above or
  a network error (``NETWORK_ERRNOS``: the S3 server refused or dropped the connection, is
  unreachable), or when it names no OS error at all (a remote store's 5xx, a timeout); other obstore
  errors (permission denied, bad credentials, invalid path, not found, …) are not. Network errnos
  count only inside the object store's own errors: a reference URL that refuses connections is the
  job's fault (1402), not the machine's;
* a Rust panic raised through PyO3 (``pyo3_runtime.PanicException``, a ``BaseException``, not an
  ``Exception``) that names a transient OS error: obstore builds its Tokio runtime on first use, and
  with no file descriptor left that panics ("Unable to build Tokio runtime: Os { code: 24, … }");
  ``is_panic`` lets the runner catch exactly these and nothing else outside ``Exception``;
* SQLAlchemy's ``OperationalError`` (database locked, gone, disk full, connection refused), a
  ``DBAPIError`` whose connection was invalidated, and a pool ``TimeoutError``.

Permission errors (EACCES, EPERM) and everything else are not transient: retrying cannot help.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
from dataclasses import dataclass

import obstore.exceptions
import sqlalchemy.exc

__all__ = ["Fault", "Outage", "transient", "is_panic", "TRANSIENT_ERRNOS", "NETWORK_ERRNOS"]

TRANSIENT_ERRNOS: dict[int, str] = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EMFILE: "too many open files in this process",
    errno.ENFILE: "too many open files in the system",
    errno.EIO: "input/output error",
    errno.EAGAIN: "resource temporarily unavailable",
    errno.ENOMEM: "out of memory",
    errno.ENOBUFS: "no buffer space",
    errno.EROFS: "read-only file system",
    errno.EBUSY: "device busy",
    errno.ETIMEDOUT: "timed out",
    errno.EINTR: "interrupted system call",
}
"""errno → what it means for an operator, for the errnos a retry may outlive."""

NETWORK_ERRNOS: dict[int, str] = {
    errno.ECONNREFUSED: "the object store refused the connection",
    errno.ECONNRESET: "the object store reset the connection",
    errno.ECONNABORTED: "the connection to the object store was aborted",
    errno.EPIPE: "the connection to the object store broke",
    errno.EHOSTUNREACH: "the object store's host is unreachable",
    errno.ENETUNREACH: "the object store's network is unreachable",
    errno.ENETDOWN: "the network is down",
    errno.EHOSTDOWN: "the object store's host is down",
}
"""errno → meaning, for a remote object store's socket errors (transient only inside obstore's errors)."""

_OS_ERROR = re.compile(r"\(os error (\d+)\)|\bOs \{\s*code: (\d+)")
_DEPTH = 8  # how far down a chain of wrapped exceptions to look


@dataclass(frozen=True)
class Fault:
    """A transient fault: ``kind`` is short and stable (``ENOSPC``, ``database``, ``storage``),
    ``reason`` says what happened in words an operator can act on."""

    kind: str
    reason: str

    def __str__(self) -> str:
        return self.reason


def transient(exc: BaseException) -> Fault | None:
    """The transient fault behind ``exc`` (itself or what it wraps), or None when retrying cannot help."""
    seen: set[int] = set()
    todo: list[tuple[BaseException, int]] = [(exc, 0)]
    while todo:
        current, depth = todo.pop(0)
        if id(current) in seen or depth > _DEPTH:
            continue
        seen.add(id(current))
        fault = _own(current)
        if fault is not None:
            return fault
        for inner in (current.__cause__, current.__context__):
            if inner is not None:
                todo.append((inner, depth + 1))
    return None


def is_panic(exc: BaseException) -> bool:
    """A Rust panic surfaced by PyO3 (obstore): a ``BaseException`` that ``except Exception`` misses."""
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def _own(exc: BaseException) -> Fault | None:
    """``exc`` itself, without what it wraps."""
    if isinstance(exc, sqlalchemy.exc.OperationalError) or (
        isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated
    ):
        return Fault("database", f"the database is unavailable ({_first_line(exc.orig or exc)})")
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return Fault("database", "the database is unavailable (no connection free in the pool)")
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        return _errno_fault(exc.errno, exc.strerror)
    if isinstance(exc, obstore.exceptions.GenericError):
        code = _os_error(exc)
        if code is None:
            return Fault("storage", f"the object store failed ({_first_line(exc)})")
        if code in NETWORK_ERRNOS:
            name = errno.errorcode.get(code, str(code))
            return Fault("storage", f"{NETWORK_ERRNOS[code]} ({name}: {_first_line(exc)})")
        return _errno_fault(code, None)
    if is_panic(exc):
        return _errno_fault(_os_error(exc), None)
    return None


def _os_error(exc: BaseException) -> int | None:
    """The OS error number a Rust error spells in its message, if any."""
    found = _OS_ERROR.search(str(exc))
    if found is None:
        return None
    return int(found.group(1) or found.group(2))


def _errno_fault(code: int | None, strerror: str | None) -> Fault | None:
    if code is None or code not in TRANSIENT_ERRNOS:
        return None
    name = errno.errorcode.get(code, str(code))
    return Fault(name, f"{TRANSIENT_ERRNOS[code]} ({name}: {strerror or os.strerror(code)})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:200]


class Outage:
    """How a background loop (the reaper, the sweep, the webhook sender, the heartbeat) logs its
    failures: a transient fault (the database or the object store briefly gone) is one WARNING when it
    starts and one INFO when the loop succeeds again, however many polls fail in between (a webhook
    sender polls every 0.2 s: a traceback per poll would bury the log); anything else is an ERROR
    with its traceback every time, since retrying cannot help and someone must look."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.log = logger
        self.what = what
        self._failures = 0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        fault = transient(exc)
        if fault is None:
            self.log.exception("%s failed", self.what)
            return
        with self._lock:
            self._failures += 1
            first = self._failures == 1
        if first:
            self.log.warning("%s failed: %s; retrying quietly until it recovers", self.what, fault)

    def ok(self) -> None:
        with self._lock:
            failures, self._failures = self._failures, 0
        if failures:
            self.log.info("%s recovered after %d failed attempt(s)", self.what, failures)
