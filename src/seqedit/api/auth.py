"""Bearer API keys: stored hashed (SHA-256), looked up with a short in-process cache.

A missing, unknown or revoked key is a 401 JSON body. Revocation takes effect within ``CACHE_TTL``
seconds in a running server.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from seqedit.api.envelope import ApiError
from seqedit.jobs.store import hash_key

__all__ = ["require_key", "CACHE_TTL"]

CACHE_TTL = 2.0
_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_lock = threading.Lock()


async def require_key(request: Request) -> dict[str, Any]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Unauthorized: missing API key (send 'Authorization: Bearer <key>')")
    digest = hash_key(token)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(digest)
    if hit is not None and now - hit[0] < CACHE_TTL:
        key = hit[1]
    else:
        key = await run_in_threadpool(request.app.state.service.store.find_key, token)
        with _lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[digest] = (now, key)
    if key is None:
        raise ApiError(401, "Unauthorized: invalid API key")
    return key
