"""The error root every layer raises under, and the bad-input error that names the field and the limit.

Exception tree (every member has ``code`` and a ``message`` meant for the end user)::

    SeqeditError(code, message)             the root; code 5000 unless set
    ├── RequestError(field, limit, message)  bad input (1400, or 1401 for an image); also a ValueError
    │   └── NotFound                         something the request names does not exist for this caller
    ├── FetchError                           a URL could not be fetched or posted to (1402; ``transient``)
    └── EngineError                          the engine failed (5000 unless set) — ``engines.base``
        ├── Unsupported                      the instruction needs what this engine cannot do (1403)
        ├── Cancelled                        ``Progress.cancelled()`` answered yes between steps
        ├── OptionError                      an engine option is undeclared or has a bad value (1400)
        └── MissingExtra                     the engine's optional extra is not installed (1400)

``FetchError`` lives in ``seqedit.fetch`` and the engine errors in ``seqedit.engines.base``; this
module holds only the root and the bad-input errors, so the core imports nothing else. Whoever maps an
outcome to a wire status (the runner, the CLI, a protocol router) catches ``SeqeditError`` once and
reads ``code``.

WaveSpeed failure codes used across seqedit:
    1400  invalid request parameter        1401  invalid image / media
    1402  media fetch failed               1403  task could not be done (e.g. unsupported edit)
    5000  internal error                   5004  sync-mode wait expired
"""

from __future__ import annotations

__all__ = [
    "SeqeditError",
    "RequestError",
    "BAD_REQUEST",
    "BAD_MEDIA",
    "FETCH_FAILED",
    "TASK_FAILED",
    "INTERNAL",
    "SYNC_TIMEOUT",
]

BAD_REQUEST = 1400
BAD_MEDIA = 1401
FETCH_FAILED = 1402
TASK_FAILED = 1403
INTERNAL = 5000
SYNC_TIMEOUT = 5004


class SeqeditError(Exception):
    """The root of seqedit's own errors: ``code`` (a WaveSpeed failure code) and ``message``."""

    code: int = INTERNAL

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class RequestError(SeqeditError, ValueError):
    """Bad input. ``field`` is the request field (``images[2]``, ``size``), ``limit`` the rule broken."""

    code = BAD_REQUEST

    def __init__(self, field: str, limit: str, message: str, *, code: int = BAD_REQUEST) -> None:
        super().__init__(message, code=code)
        self.args = (f"{field}: {message} (limit: {limit})",)
        self.field = field
        self.limit = limit
        self.message = message


class NotFound(RequestError):
    """A file, prediction or model the request names does not exist, or belongs to another key."""
