"""Who is calling: a bearer API key, or the playground's session cookie.

Bearer API keys are stored hashed (SHA-256) and looked up with a short in-process cache. A missing,
unknown or revoked key is a 401 JSON body. Revocation takes effect within ``CACHE_TTL`` seconds in a
running server.

The playground's browser session (``SESSION_COOKIE``, set by ``api.playground`` after a one-time
sign-in; ``jobs.signins`` signs it) names a key by its id and is accepted where no ``Authorization``
header is sent. The key's row is read for it too, so a revoked key ends its sessions. Cookies ride
along on any request the browser makes, so a cookie-authenticated request that is not a GET or HEAD
must also carry ``CSRF_HEADER`` (a cross-site form cannot set a header, and a cross-site script could
only with a CORS preflight, which this server never grants) and, when the browser sends ``Origin``,
an origin equal to this server's; the cookie itself is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from seqedit.api.access import KEY_ID
from seqedit.api.envelope import ApiError
from seqedit.jobs.signins import session_key_id
from seqedit.jobs.store import hash_key

__all__ = ["require_key", "cached_bearer", "same_origin", "CACHE_TTL", "SESSION_COOKIE", "CSRF_HEADER"]

SESSION_COOKIE = "seqedit_session"
CSRF_HEADER = "x-seqedit-playground"  # its value must be "1"
_SAFE_METHODS = ("GET", "HEAD")

CACHE_TTL = 2.0
_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_lock = threading.Lock()


async def require_key(request: Request) -> dict[str, Any]:
    key = await _caller(request)
    setattr(request.state, KEY_ID, key["id"])  # the access log names the key by its id (api.access)
    return key


async def _caller(request: Request) -> dict[str, Any]:
    header = request.headers.get("authorization", "")
    if not header and SESSION_COOKIE in request.cookies:
        return await _session_key(request)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Unauthorized: missing API key (send 'Authorization: Bearer <key>')")
    key = await _cached(request, hash_key(token), lambda store: store.find_key(token))
    if key is None:
        raise ApiError(401, "Unauthorized: invalid API key")
    return key


async def _cached(request: Request, slot: str, find: Callable[[Any], dict[str, Any] | None]) -> dict[str, Any] | None:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(slot)
    if hit is not None and now - hit[0] < CACHE_TTL:
        return hit[1]
    key = await run_in_threadpool(find, request.app.state.service.store)
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[slot] = (now, key)
    return key


def cached_bearer(authorization: str) -> dict[str, Any] | None:
    """The key an ``Authorization: Bearer`` header names when the cache holds it, fresh and valid: no
    I/O (``api.wavespeed.FastPolls``); None means "ask ``require_key``", never "refused"."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    with _lock:
        hit = _cache.get(hash_key(token))
    if hit is None or time.monotonic() - hit[0] >= CACHE_TTL:
        return None
    return hit[1]


def same_origin(request: Request) -> bool:
    """True when the request's ``Origin`` (if the browser sent one) is this server's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    service = request.app.state.service
    public = service.settings.public_url.rstrip("/")
    own = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    if public:
        own.add(public)
    return origin.rstrip("/") in own


async def _session_key(request: Request) -> dict[str, Any]:
    service = request.app.state.service
    key_id = session_key_id(service.secret, request.cookies.get(SESSION_COOKIE))
    if key_id is None:
        raise ApiError(401, "Unauthorized: the playground session has expired or is not valid; sign in again")
    if request.method not in _SAFE_METHODS:
        if request.headers.get(CSRF_HEADER) != "1" or not same_origin(request):
            raise ApiError(
                403,
                f"Forbidden: a cookie-authenticated {request.method} needs the {CSRF_HEADER} header "
                "and this server's Origin (cross-site requests are refused)",
            )
    key = await _cached(request, "session:" + key_id, lambda store: store.get_key(key_id))
    if key is None or key.get("revoked_at") is not None:
        raise ApiError(401, "Unauthorized: the key of this playground session was revoked; sign in again")
    return key
