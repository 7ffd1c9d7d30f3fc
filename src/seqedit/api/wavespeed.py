"""The WaveSpeed protocol (api-contract.md §1): submit, poll, history, cancel, price, webhook secret, and
two extensions: ``POST /api/v3/{model}/plan`` (the plan and verdicts of a submit body, no task) and the
submit flag ``refuse_unsupported`` (an edit the engine cannot do is a 400 naming the clause, not a failed task).

This router only translates: the body becomes an ``EditRequest`` (a bad field is a 400 that names the
field and the limit, and no task is created) and a ``Submission`` for the protocol-neutral use case
``jobs.submit`` (idempotency, reference staging, per-key limit, create, enqueue, sync wait); rows come
back as WaveSpeed prediction objects (``envelope``). Its errors use the WaveSpeed body, and
``translate`` gives the use cases' errors their statuses. Sync mode answers the completed envelope,
or HTTP 200 with ``status: processing``, ``code: 5004`` and "Sync mode timed out …" while the job keeps
running.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
import time
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from seqedit.api.access import KEY_ID
from seqedit.api.auth import cached_bearer, require_key
from seqedit.api.envelope import (
    ApiError,
    base64_envelope,
    envelope_bytes,
    error_response,
    etag,
    not_modified,
    prediction_json,
    reply,
)
from seqedit.api.models import MODELS, ModelSpec, get_model
from seqedit.api.outage import unavailable
from seqedit.api.routing import ErrorStyle, ProtocolRouter
from seqedit.errors import NotFound, RequestError
from seqedit.jobs.states import Entry
from seqedit.jobs.store import LimitExceeded, Status
from seqedit.jobs.submit import Submission
from seqedit.pricing import cost


def translate(exc: Exception) -> ApiError | None:
    """The WaveSpeed statuses of the use cases' errors: 404 not yours, 413 a byte limit, 400 other bad
    input, 429 the key's concurrency limit."""
    if isinstance(exc, NotFound):
        return ApiError(404, f"{exc.field}: {exc.message}", extra={"field": exc.field, "limit": exc.limit})
    if isinstance(exc, RequestError):
        return bad_input(exc, 413 if "bytes" in exc.limit else 400)
    if isinstance(exc, LimitExceeded):
        return ApiError(429, str(exc), headers={"x-should-retry": "false"})
    return None


ERRORS = ErrorStyle(error_response, translate)
router = ProtocolRouter(ERRORS)

BASE64_WEBHOOK = "webhook callback does not support base64 output, please use the normal API to use base64 output"
SYNC_TIMEOUT = "Sync mode timed out after {s:g} seconds. The prediction is still processing asynchronously."
SYNC_OUTAGE = (
    "Sync mode stopped waiting: the service's database became unavailable. The prediction was accepted "
    "and is still processing asynchronously; poll it."
)


def base_url(request: Request) -> str:
    service = request.app.state.service
    return service.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


def bad_input(exc: RequestError, status: int = 400) -> ApiError:
    return ApiError(status, str(exc), extra={"field": exc.field, "limit": exc.limit})


INLINE_PARSE_BYTES = 64 * 1024  # bodies above this are parsed in a worker thread, not on the event loop


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def nesting_depth(value: Any, stop: int) -> int:
    """How deeply objects and arrays nest in ``value`` (a scalar is 0, ``{}`` is 1, ``{"a": [1]}`` is 2),
    counted without recursion; it stops counting once past ``stop``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > stop:
            return deepest
        stack.extend((child, depth) for child in children if isinstance(child, (dict, list)))
    return deepest


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, within the strict shape every route accepts: at most
    ``max_request_bytes`` (413, checked on the declared length and again while streaming), valid JSON
    with finite numbers (400), objects and arrays nested at most ``max_json_depth`` deep (400 naming the
    limit: a deep body would otherwise exhaust the parser's recursion), and an object at the top (400).
    An empty body is ``{}``."""
    settings = request.app.state.service.settings
    limit = settings.max_request_bytes
    declared = request.headers.get("content-length")
    too_large = ApiError(
        413,
        f"the request body is larger than the limit of {limit} bytes",
        extra={"field": "body", "limit": f"{limit} bytes"},
    )
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise too_large
    raw = bytes(buf)
    if len(raw) > INLINE_PARSE_BYTES:  # a big body (inline images) is parsed off the event loop
        return await run_in_threadpool(_decode, raw, settings.max_json_depth)
    return _decode(raw, settings.max_json_depth)


def _decode(raw: bytes, depth: int) -> dict[str, Any]:
    if not raw.strip():
        return {}
    too_deep = ApiError(
        400,
        f"the request body nests objects and arrays deeper than the limit of {depth} levels",
        extra={"field": "body", "limit": f"{depth} levels of nesting"},
    )
    try:
        body = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:  # far deeper than any limit we allow
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc)[:120]
        raise ApiError(400, f"the request body is not valid JSON: {reason}", extra={"field": "body"}) from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", extra={"field": "body"})
    if nesting_depth(body, depth) > depth:
        raise too_deep
    return body


def show(value: Any) -> str:
    """``repr`` cut short, for echoing a bad value in an error message (a value may be megabytes)."""
    return reprlib.repr(value)


def int_field(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    """An integer field of ``body`` between ``low`` and ``high``: a JSON integer, an integral number or a
    string of digits; absent or ``null`` is ``default``. Anything else is a 400 naming the field."""
    value = body.get(name)
    rule = f"integer {low}-{high}"
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value) <= 20:
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_input(RequestError(name, rule, f"must be an integer, got {show(value)}"))
    if not low <= value <= high:
        raise bad_input(RequestError(name, rule, f"{show(value)} is out of range"))
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise bad_input(RequestError(name, "true|false", f"must be a boolean, got {value!r}"[:100]))


def webhook_from(request: Request, body: dict[str, Any]) -> str | None:
    """``?webhook=`` (parsed leniently: JS 0.0.15 appends the URL unencoded) or body ``webhook_url``."""
    query = request.url.query
    if "webhook=" in query:
        start = query.index("webhook=") + len("webhook=")
        value = query[start:]
        value = unquote(value) if value.lower().startswith(("http%3a", "https%3a")) else value
        if value.strip():
            return value.strip()
    url = body.get("webhook_url")
    if url is None or url == "":
        return None
    if not isinstance(url, str):
        raise bad_input(RequestError("webhook_url", "an http(s) URL", "must be a string"))
    return url.strip()


def echo_ref(ref: str) -> str:
    """A reference as the accepted input echoes it: a URL whole, a long data URI cut to its start."""
    return ref if len(ref) <= 200 or ref.startswith(("http://", "https://")) else ref[:60] + f"…({len(ref)} chars)"


async def _reply_row(row: dict[str, Any], request: Request, *, base64: bool | None = None) -> Response:
    service = request.app.state.service
    queue = await _estimate(row, request)
    return reply(prediction_json(row, storage=service.storage, base=base_url(request), base64=base64, queue=queue))


def _submit_and_estimate(
    service: Any, key: dict[str, Any], submission: Submission
) -> tuple[dict[str, Any], tuple[int, float | None] | None]:
    """Submit (blocking), then the new row's ``(queue_position, eta_seconds)`` while still queued."""
    row, _created = service.submissions.submit(key, submission)
    return row, service.estimate(row) if row["status"] == Status.CREATED.value else None


async def _estimate(row: dict[str, Any], request: Request) -> tuple[int, float | None] | None:
    """A queued row's ``(queue_position, eta_seconds)`` (None for any other status)."""
    if row["status"] != Status.CREATED.value:
        return None
    return await run_in_threadpool(request.app.state.service.estimate, row)


# ---------------------------------------------------------------------- predictions (fixed paths first)


@router.post("/api/v3/predictions", tags=["predictions"])
async def history(request: Request, key: dict = Depends(require_key)):
    """Your predictions, newest first: ``{page, page_size, model?, status?, created_after?, created_before?}``.
    Every parameter is checked (type and range, 400 naming it), so no value reaches the database that
    it cannot take (e.g. an offset past 64 bits)."""
    body = await json_body(request)
    service = request.app.state.service
    page = int_field(body, "page", 1, 1, service.settings.history_max_page)
    page_size = int_field(body, "page_size", 20, 1, HISTORY_MAX_PAGE_SIZE)
    filters = {
        "model": _model_filter(body),
        "status": _status_filter(body),
        "created_after": _time(body, "created_after"),
        "created_before": _time(body, "created_before"),
    }
    rows, total = await run_in_threadpool(service.store.history, key["id"], page=page, page_size=page_size, **filters)
    base = base_url(request)
    items = [prediction_json(r, storage=service.storage, base=base, base64=False) for r in rows]
    return reply({"page": page, "page_size": page_size, "total": total, "items": items})


HISTORY_MAX_PAGE_SIZE = 100  # the protocol's page_size range is 1-100
MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last time ISO-8601 can write


def _model_filter(body: dict[str, Any]) -> str | None:
    value = body.get("model")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise bad_input(RequestError("model", "a model id (a string of at most 200 characters)", f"got {show(value)}"))
    return value


def _status_filter(body: dict[str, Any]) -> str | None:
    value = body.get("status")
    if value is None or value == "":
        return None
    allowed = [s.value for s in Status]
    if not isinstance(value, str) or value not in allowed:
        raise bad_input(RequestError("status", "one of " + ", ".join(allowed), f"got {show(value)}"))
    return value


def _time(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    rule = f"ISO-8601 time or unix seconds 0-{MAX_UNIX_SECONDS}"
    if value is None or value == "":
        return None
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        try:
            seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except (ValueError, OverflowError, OSError):
            seconds = None
    if seconds is None or not 0 <= seconds <= MAX_UNIX_SECONDS:
        raise bad_input(RequestError(name, rule, f"cannot read {show(value)}"))
    return seconds


POLL_WAIT_MAX = 60.0  # seconds a long poll (``?wait=``) may hold the request
POLL_WAIT_RULE = f"a number of seconds 0-{POLL_WAIT_MAX:g}"
WAIT_DOC = (
    f"Long poll: hold the request until the prediction is terminal or this many seconds pass (0-{POLL_WAIT_MAX:g}), "
    "then answer its current state."
)
QUEUED_TTL = 1.0  # seconds a queued row's rendered answer (queue_position, eta_seconds) is reused, if nothing changed
# seconds a queued row's answer is reused even when other rows changed: its queue_position and
# eta_seconds may lag by this much (its own status never does: a change of the row drops the answer).
# Under load other rows change hundreds of times a second, and re-counting the queue for every poll of
# every waiting job cost ~1 ms of server CPU per poll.
QUEUED_LAG = 0.2
RENDER_TTL = 3600.0  # seconds any rendered answer is reused (it may hold presigned URLs, which age)
MEMO_SLOTS = 4  # rendered answers kept per row (one per base URL the answers were made for)
TERMINAL_MAX_AGE = 3600  # Cache-Control max-age of a terminal answer, at most (never past the row's expiry)


class Rendered:
    """A poll answer's bytes and tag, as rendered from one row state (kept in its ``Entry.memo``)."""

    __slots__ = ("body", "tag", "made", "generation", "queued")

    def __init__(self, body: bytes, made: float, generation: int, queued: bool) -> None:
        self.body = body
        self.tag = etag(body)
        self.made = made
        self.generation = generation
        self.queued = queued

    def fresh(self, now: float, generation: int) -> bool:
        """Still what a render would give, or close enough: a queued answer for ``QUEUED_LAG`` s, and
        up to ``QUEUED_TTL`` s (the ETA's fleet figures) while no prediction changed (its position
        counts the others); any other answer for ``RENDER_TTL`` s (a presigned output URL is signed
        when rendered). A change of the row itself drops every answer made from it."""
        age = now - self.made
        if self.queued:
            return age < QUEUED_LAG or (generation == self.generation and age < QUEUED_TTL)
        return age < RENDER_TTL


def _wait_seconds(raw: str | None) -> float:
    """``?wait=``: absent is 0 (answer now); else a finite number 0-``POLL_WAIT_MAX`` (400 naming
    ``wait`` otherwise)."""
    if raw is None or raw == "":
        return 0.0
    try:
        seconds = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise bad_input(RequestError("wait", POLL_WAIT_RULE, f"must be a number, got {show(raw)}"))
    if not 0 <= seconds <= POLL_WAIT_MAX:
        raise bad_input(RequestError("wait", POLL_WAIT_RULE, f"{show(raw)} is out of range"))
    return seconds


async def _result(request: Request, prediction_id: str, key: dict) -> Response:
    """A poll: the row from the service's cache (``Service.rows``: no thread hop and no database read
    when it holds the current row), rendered once per row state (``Entry.memo``), with an ``ETag``
    and a 304 for a matching ``If-None-Match``; with ``?wait=`` held until the prediction is terminal
    or the seconds pass (``Submissions.wait``)."""
    service = request.app.state.service
    seconds = _wait_seconds(request.query_params.get("wait"))
    rows = service.rows
    entry = rows.peek(prediction_id)
    if entry is None:
        entry = await run_in_threadpool(rows.load, prediction_id)
    if entry is None or entry.row["key_id"] != key["id"]:
        raise ApiError(404, f"prediction {prediction_id} not found")
    if seconds > 0 and not entry.terminal:
        row = await service.submissions.wait(prediction_id, seconds)
        entry = rows.peek(prediction_id)
        if entry is None or entry.row is not row:  # not cached (an API-only process): render this row
            return await _poll_answer(request, row, None)
    return await _poll_answer(request, entry.row, entry)


async def _poll_answer(request: Request, row: dict[str, Any], entry: Entry | None) -> Response:
    """The poll answer of ``row``: a completed base64 job streamed (``_final``: large, not cached);
    else the envelope's bytes, from ``entry``'s memo when they are still what a render would give."""
    if row["base64"] and row["status"] == Status.COMPLETED.value:
        return await _final(row, request)
    service = request.app.state.service
    base = base_url(request)
    generation = service.rows.generation  # before the estimate: a change during it makes the answer stale
    rendered = None if entry is None else _memo(entry, base, generation)
    if rendered is None:
        rendered = _render(service, row, entry, base, await _estimate(row, request), generation)
    status, headers, body = _conditional(rendered, row, request.headers.get("if-none-match"))
    return Response(body, status_code=status, headers=headers, media_type="application/json" if body else None)


def _memo(entry: Entry, base: str, generation: int) -> Rendered | None:
    """``entry``'s rendered answer for ``base``, when it is still what a render would give."""
    rendered: Rendered | None = entry.memo.get(("wavespeed", base))
    return rendered if rendered is not None and rendered.fresh(time.monotonic(), generation) else None


def _render(
    service: Any,
    row: dict[str, Any],
    entry: Entry | None,
    base: str,
    queue: tuple[int, float | None] | None,
    generation: int,
) -> Rendered:
    """Render ``row``'s poll answer for ``base`` (``queue``: a waiting row's estimate, made at
    ``generation``) and keep it in ``entry``'s memo."""
    rendered = Rendered(
        envelope_bytes(prediction_json(row, storage=service.storage, base=base, queue=queue)),
        time.monotonic(),
        generation,
        row["status"] == Status.CREATED.value,
    )
    if entry is not None:
        if len(entry.memo) >= MEMO_SLOTS:  # one per base URL: a client's Host header must not grow it
            entry.memo.clear()
        entry.memo[("wavespeed", base)] = rendered
    return rendered


def _conditional(
    rendered: Rendered, row: dict[str, Any], if_none_match: str | None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a rendered poll answer: 304 without a body when ``If-None-Match``
    names its tag, else 200 with the bytes; both with ``ETag`` and ``Cache-Control``."""
    headers = {"etag": rendered.tag, "cache-control": _cache_control(row)}
    if not_modified(if_none_match, rendered.tag):
        return 304, headers, b""
    return 200, headers, rendered.body


POLL_PATH = re.compile(r"/api/v(?:3/predictions/[^/]+(?:/result)?|2/predictions/[^/]+/result)")


class FastPolls:
    """An ASGI middleware in front of the routes for the commonest request of all: a poll of a
    prediction whose answer is already rendered. ``GET`` of the poll route or one of its aliases, no
    query string, an ``Authorization: Bearer`` key the auth cache holds (``auth.cached_bearer``), the
    row in the service's cache (``Rows.peek``) and its rendered bytes fresh in the entry's memo: it
    sends those bytes (or a 304) with the same headers the route would, without the framework's
    routing and dependency solving. Anything else — a miss anywhere, a query, a cookie session, an
    unexpected error before anything was sent — goes to the routes unchanged. Install it inside the
    access log (added before ``AccessLog``), so each poll still has its line; it records the key id
    there as ``require_key`` does."""

    def __init__(self, app: Any, service: Any) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            path = scope["path"]
            if POLL_PATH.fullmatch(path):
                try:
                    answer = self._answer(scope, path)
                except Exception:  # never worse than the route: let it answer
                    answer = None
                if answer is not None:
                    status, headers, body = answer
                    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
                    if body:
                        raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                    await send({"type": "http.response.start", "status": status, "headers": raw})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    def _answer(self, scope: Any, path: str) -> tuple[int, dict[str, str], bytes] | None:
        authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        key = cached_bearer(authorization) if authorization else None
        if key is None:
            return None
        pid = path.split("/")[4]
        service = self.service
        entry = service.rows.peek(pid)
        if entry is None and service.sees_every_change and service.store.is_sqlite:
            # embedded: a point read of the local SQLite file by its key (WAL: readers never wait for
            # writers) costs less here than the thread hop and the routes it would take otherwise
            entry = service.rows.load(pid)
        if entry is None or entry.row["key_id"] != key["id"]:
            return None
        base = service.settings.public_url.rstrip("/") or str(Request(scope).base_url).rstrip("/")
        generation = service.rows.generation
        rendered = _memo(entry, base, generation)
        if rendered is None:
            row = entry.row
            if row["status"] == Status.CREATED.value or (row["base64"] and row["status"] == Status.COMPLETED.value):
                return None  # a queued row's estimate counts the queue; a base64 result is streamed: the route
            rendered = _render(service, row, entry, base, None, generation)
        scope.setdefault("state", {})[KEY_ID] = key["id"]  # the access log names the key (api.access)
        return _conditional(rendered, entry.row, if_none_match)


def _cache_control(row: dict[str, Any]) -> str:
    """A terminal answer does not change: a private cache may keep it for ``TERMINAL_MAX_AGE`` s, never
    past the row's expiry (its output URLs, signed or presigned until then, and the retention sweep);
    anything else is revalidated every time (``no-cache``, with the ETag)."""
    if row["status"] not in TERMINAL_STATES:
        return "no-cache"
    seconds = min(TERMINAL_MAX_AGE, int(row["expires_at"] - time.time()))
    return f"private, max-age={seconds}" if seconds > 0 else "no-cache"


TERMINAL_STATES = frozenset(s.value for s in Status if s.is_terminal())


async def _final(row: dict[str, Any], request: Request) -> Response:
    """The envelope of ``row`` as a poll (or a sync submit) sees it: for a completed base64 job, the
    streamed base64 envelope, within ``max_base64_bytes``."""
    if row["base64"] and row["status"] == Status.COMPLETED.value:
        service = request.app.state.service
        return await run_in_threadpool(
            base64_envelope,
            row,
            storage=service.storage,
            base=base_url(request),
            max_bytes=service.settings.max_base64_bytes,
        )
    return await _reply_row(row, request)


# ``?wait=`` is read from the query string in ``_result`` (not a FastAPI parameter: one less thing to
# solve per poll); this documents it in /openapi.json
WAIT_PARAMETER = {
    "name": "wait",
    "in": "query",
    "required": False,
    "description": WAIT_DOC,
    "schema": {"type": "number", "minimum": 0, "maximum": POLL_WAIT_MAX},
}


@router.get(
    "/api/v3/predictions/{prediction_id}/result", tags=["predictions"], openapi_extra={"parameters": [WAIT_PARAMETER]}
)
async def result(prediction_id: str, request: Request, key: dict = Depends(require_key)):
    return await _result(request, prediction_id, key)


@router.get("/api/v3/predictions/{prediction_id}", tags=["predictions"], include_in_schema=False)
async def result_alias(prediction_id: str, request: Request, key: dict = Depends(require_key)):
    return await _result(request, prediction_id, key)


@router.get("/api/v2/predictions/{prediction_id}/result", tags=["predictions"], include_in_schema=False)
async def result_v2(prediction_id: str, request: Request, key: dict = Depends(require_key)):
    return await _result(request, prediction_id, key)


@router.post("/api/v3/predictions/{prediction_id}/cancel", tags=["predictions"])
async def cancel(prediction_id: str, request: Request, key: dict = Depends(require_key)):
    """Extension: cancel a queued job at once, or a running one between panels."""
    service = request.app.state.service
    row = await run_in_threadpool(service.submissions.cancel, prediction_id, key["id"])
    if row is None:
        raise ApiError(404, f"prediction {prediction_id} not found")
    return await _reply_row(row, request, base64=False)


# ---------------------------------------------------------------------- price and webhook secret


@router.post("/api/v3/model/price", tags=["account"])
async def price(request: Request, key: dict = Depends(require_key)):
    body = await json_body(request)
    model_id = body.get("model") or body.get("model_id") or ""
    spec = get_model(model_id) if isinstance(model_id, str) else None
    if spec is None:
        raise ApiError(404, f"model not found: {show(model_id)}; available: {', '.join(MODELS)}")
    n = spec.fixed_count or int_field(body, "max_images", 1, 1, 15)
    unit = request.app.state.service.settings.price_per_image
    total = float(cost(n, unit))
    return reply(
        {
            "model": spec.id,
            "unit_price": float(unit),
            "max_images": n,
            "base_price": total,
            "discounted_price": total,
            "currency": "USD",
        }
    )


@router.get("/api/v3/webhook/secret", tags=["account"])
async def webhook_secret(key: dict = Depends(require_key)):
    return reply({"secret": key["webhook_secret"]})


@router.get("/api/v3/models", tags=["account"])
async def models(key: dict = Depends(require_key)):
    return reply(
        [
            {
                "model_id": m.id,
                "name": m.id,
                "type": "image-to-image",
                "description": m.description,
                "api_schema": {
                    "api_schemas": [
                        {
                            "type": "model_run",
                            "method": "POST",
                            "api_path": f"/api/v3/{m.id}",
                            "request_schema": m.schema(),
                        }
                    ]
                },
            }
            for m in MODELS.values()
        ]
    )


# ---------------------------------------------------------------------- plan (an extension; before submit)


def _model(model_id: str) -> ModelSpec:
    spec = get_model(model_id)
    if spec is None:
        raise ApiError(404, f"model not found: {model_id!r}; available: {', '.join(MODELS)}")
    return spec


@router.post("/api/v3/{model_id:path}/plan", tags=["predictions"])
async def plan(model_id: str, request: Request, key: dict = Depends(require_key)):
    """The plan, per-clause verdicts, refusal, warnings and price of a submit body; no task is created."""
    service = request.app.state.service
    spec = _model(model_id)
    req = spec.parse(await json_body(request))
    return reply(await run_in_threadpool(service.submissions.plan, key, spec.id, req))


# ---------------------------------------------------------------------- submit (the catch-all: last)


@router.post("/api/v3/{model_id:path}", tags=["predictions"])
async def submit(model_id: str, request: Request, key: dict = Depends(require_key)):
    service = request.app.state.service
    spec = _model(model_id)
    body = await json_body(request)
    base64 = _flag(body, "enable_base64_output")
    sync = _flag(body, "enable_sync_mode")
    webhook = webhook_from(request, body)
    if base64 and webhook:
        raise ApiError(400, BASE64_WEBHOOK, extra={"field": "enable_base64_output", "limit": "not with a webhook"})
    req = spec.parse(body)
    idem = request.headers.get("idempotency-key") or None
    if idem is not None and len(idem) > 200:
        raise bad_input(RequestError("Idempotency-Key", "at most 200 characters", f"has {len(idem)}"))
    echo: dict[str, Any] = {
        "prompt": req.prompt,
        "images": [echo_ref(r) for r in req.images],
        "size": None if req.size is None else str(req.size),
        "max_images": req.max_images,
        "enable_base64_output": base64,
        "enable_sync_mode": sync,
    }
    if req.seed is not None:
        echo["seed"] = req.seed
    if req.output_format != "jpeg":
        echo["output_format"] = req.output_format
    submission = Submission(
        model=spec.id,
        request=req,
        echo=echo,
        webhook=webhook,
        idempotency_key=idem,
        base64=base64,
        sync=sync,
        refuse_unsupported=_flag(body, "refuse_unsupported"),
    )
    if not sync:  # the row and its place in the queue in one trip to a worker thread
        row, queue = await run_in_threadpool(_submit_and_estimate, service, key, submission)
        data = prediction_json(row, storage=service.storage, base=base_url(request), base64=False, queue=queue)
        return reply(data)
    row, _created = await run_in_threadpool(service.submissions.submit, key, submission)
    timeout = service.settings.sync_timeout
    accepted = row
    try:
        row = await service.submissions.wait(row["id"], timeout)
    except Exception as exc:
        if unavailable(exc) is None:
            raise
        # accepted, then the database went away while we waited: a 503 would tell the client nothing
        # was created and invite a duplicate; answer as a sync timeout does (the job goes on, poll it)
        data = prediction_json(accepted, storage=service.storage, base=base_url(request), base64=False)
        data.update(status="processing", code=5004, error=SYNC_OUTAGE)
        return reply(data)
    if Status(row["status"]).is_terminal():
        return await _final(row, request)
    data = prediction_json(row, storage=service.storage, base=base_url(request), base64=False)
    data.update(status="processing", code=5004, error=SYNC_TIMEOUT.format(s=timeout))
    return reply(data)
