"""The access log: one line per HTTP request, written when its response has been sent.

``AccessLog`` is a pure ASGI middleware (it wraps ``send``; a ``BaseHTTPMiddleware`` would buffer
streamed answers such as the base64 polls). Each request gives exactly one ``seqedit.access`` line,
``request``, with the fields

* ``method`` and ``path`` — the path only, **never the query string**: it carries the signatures of
  ``/files`` URLs and upload tickets and the playground's one-time sign-in token;
* ``status`` — the status sent; ``499`` when the client went away before any response started, ``500``
  when the application raised (the line is written, then the exception goes on);
* ``ms`` — milliseconds from the request's arrival at the application to the last byte of its body;
* ``client`` — the peer address (uvicorn has applied ``X-Forwarded-For`` from trusted proxies);
* ``key_id`` — the id of the API key the request authenticated with (``api.auth`` records it in the
  request's state), when it did; never the key, a token, a signature, a header or a body.

A 5xx is logged at WARNING, everything else at INFO. uvicorn's own access log is off
(``api.server.make_config``), so this is the only line per request. Paths are cut to ``MAX_PATH``
characters, so one request cannot write a megabyte of log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["AccessLog", "KEY_ID", "MAX_PATH", "GONE"]

log = logging.getLogger("seqedit.access")

KEY_ID = "key_id"  # the request-state attribute api.auth sets to the authenticated key's id
MAX_PATH = 512  # characters of a path written to the log; longer ones end in "…"
GONE = 499  # the status logged when the client disconnected before a response started

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccessLog:
    """Wraps an ASGI app; logs one ``request`` line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})  # Request.state is this dict: api.auth writes key_id here
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException:
            _line(scope, state, status or 500, started)
            raise
        _line(scope, state, status or GONE, started)


def _line(scope: Scope, state: Any, status: int, started: float) -> None:
    path = scope.get("path") or "/"
    if len(path) > MAX_PATH:
        path = path[: MAX_PATH - 1] + "…"
    client = scope.get("client")
    key_id = state.get(KEY_ID) if isinstance(state, dict) else None
    log.log(
        logging.WARNING if status >= 500 else logging.INFO,
        "request",
        extra={
            "method": scope.get("method", ""),
            "path": path,
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "client": client[0] if client else None,
            "key_id": key_id,
        },
    )
