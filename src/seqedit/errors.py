"""The error every layer uses for bad input: it names the field and the limit it broke.

WaveSpeed failure codes used across seqedit:
    1400  invalid request parameter        1401  invalid image / media
    1402  media fetch failed               1403  task could not be done (e.g. unsupported edit)
    5000  internal error                   5004  sync-mode wait expired
"""
from __future__ import annotations


class RequestError(ValueError):
    """Bad input. ``field`` is the request field (``images[2]``, ``size``), ``limit`` the rule broken."""

    def __init__(self, field: str, limit: str, message: str, *, code: int = 1400) -> None:
        super().__init__(f"{field}: {message} (limit: {limit})")
        self.field = field
        self.limit = limit
        self.message = message
        self.code = code
