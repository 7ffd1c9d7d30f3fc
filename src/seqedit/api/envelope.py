"""The WaveSpeed wire shapes: the ``{code, message, data}`` envelope, the prediction object, errors.

Prediction object (api-contract.md §1.4): ``id, model, input, outputs, urls.get,
has_nsfw_contents`` (one entry per output), ``status, created_at`` (ISO-8601 UTC, ``Z``), ``error``
(``""`` unless failed or cancelled), ``executionTime`` and ``timings.inference`` (ms), ``code`` (only
on failure or a sync-mode timeout). Extensions: ``seed``, ``warnings``, ``progress {done, total, fraction}``,
``cost`` (USD), ``plan``, ``route`` (once planned: ``{engine, reason}``, the engine that runs it and
why — ``--engine auto`` picks one per request; null before), ``provenance`` (once rendering starts:
what made the set — the engine's resolved model, steps, seeds, device, dtype, versions; null before;
never a secret), ``consistency`` (once completed: the figures per panel, the guard's retries and
warnings, ``seqedit.consistency``; null before); while queued (``created``)
``queue_position`` (0: next) and ``eta_seconds`` (null when unknown).

Base64 results (``base64_envelope``) are streamed: the JSON around ``outputs`` is encoded once, and
each file's base64 is produced piece by piece from ``Storage.open``, so a poll of a 1 GB result holds
about a megabyte; ``SEQEDIT_MAX_BASE64_BYTES`` caps what one answer may carry (413 past it).

HTTP errors: ``{"code": <status>, "message": m, "data": null, "error": m}`` (+ ``field``/``limit``
for bad input). Never a 200 with ``data: null``.

Encoding: compact JSON by orjson (``dumps``; the standard library's encoder only for what orjson
refuses: an integer past 64 bits, a non-string key), the 200 envelope written around the data's
bytes from a prebuilt head (``envelope_bytes``). The bytes are those Starlette's ``JSONResponse``
wrote (compact, UTF-8, key order kept) but for the spelling of a few floats (``1e16`` is ``1e+16``
there, the same number). Poll answers carry a strong ``ETag`` of their bytes (``etag``); a request
whose ``If-None-Match`` names it is answered 304 (``not_modified``).
"""

from __future__ import annotations

import base64 as b64lib
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.responses import Response, StreamingResponse

from seqedit.storage import Body, Storage

__all__ = [
    "ok",
    "reply",
    "dumps",
    "envelope_bytes",
    "etag",
    "not_modified",
    "error_response",
    "ApiError",
    "prediction_json",
    "base64_envelope",
    "base64_pieces",
    "b64_length",
    "too_much_base64",
    "webhook_body",
    "iso",
]

TERMINAL = ("completed", "failed", "cancelled")


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def ok(data: Any) -> dict[str, Any]:
    return {"code": 200, "message": "success", "data": data}


def dumps(value: Any) -> bytes:
    """Compact JSON (UTF-8, keys in order) by orjson; the standard library's encoder for what orjson
    refuses (an integer past 64 bits, a non-string key), so those still encode as they did."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


ENVELOPE_HEAD = b'{"code":200,"message":"success","data":'  # ok(data) up to the data, prebuilt


def envelope_bytes(data: Any) -> bytes:
    """The bytes of ``ok(data)``: the prebuilt head, the data's JSON, the closing brace."""
    return ENVELOPE_HEAD + dumps(data) + b"}"


def reply(data: Any, *, headers: dict[str, str] | None = None) -> Response:
    """The 200 envelope as a response (skips FastAPI's generic encoder: the data is plain JSON)."""
    return Response(envelope_bytes(data), media_type="application/json", headers=headers)


def error_response(exc: ApiError) -> Response:
    body = {"code": exc.status, "message": exc.message, "data": None, "error": exc.message, **exc.extra}
    return Response(dumps(body), status_code=exc.status, headers=exc.headers, media_type="application/json")


def etag(body: bytes) -> str:
    """A strong entity tag of ``body``: equal tags, equal bytes (a 128-bit BLAKE2b, quoted)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether a request's ``If-None-Match`` matches ``tag`` (RFC 9110 §13.1.2: ``*``, or any listed
    tag by the weak comparison, so ``W/"x"`` matches ``"x"``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


B64_PIECE = 3 * 256 * 1024
"""Bytes of a file encoded per piece of a streamed base64 output: a multiple of 3, so the pieces (each
4/3 as long, 1 MiB) concatenate into the base64 of the whole file."""


def b64_length(size: int) -> int:
    """The length of the standard (padded) base64 of ``size`` bytes: 4 characters per started 3 bytes."""
    return 4 * ((size + 2) // 3)


def base64_pieces(chunks: Iterable[bytes], piece: int = B64_PIECE) -> Iterator[bytes]:
    """The base64 of the concatenation of ``chunks``, as pieces that concatenate into exactly
    ``b64encode(b"".join(chunks))``: every piece but the last encodes a multiple of 3 bytes, so no piece
    carries padding. Holds at most one incoming chunk plus ``piece`` bytes at a time."""
    if piece <= 0 or piece % 3:
        raise ValueError(f"piece must be a positive multiple of 3, got {piece}")
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) < piece:
            continue
        cut = len(buf) - len(buf) % piece
        with memoryview(buf) as view:
            for at in range(0, cut, piece):
                yield b64lib.b64encode(view[at : at + piece])
        del buf[:cut]
    if buf:
        yield b64lib.b64encode(buf)


def base64_envelope(
    row: dict[str, Any], *, storage: Storage, base: str, max_bytes: int | None = None, **extra: Any
) -> Response:
    """The envelope of a completed base64 prediction, streamed: the JSON before ``outputs``, then each
    file's base64 read through ``storage.open`` and encoded piece by piece (``base64_pieces``), then
    the rest of the JSON. Memory stays bounded by a piece whatever the result's size, and no JSON
    encoder sees the base64 (its alphabet needs no escaping). ``Content-Length`` is known up front
    (``b64_length`` of each file's size).

    Every file is opened before the first byte is sent, so an expired result is still a clean 404, and
    a result whose base64 would exceed ``max_bytes`` (``SEQEDIT_MAX_BASE64_BYTES``) is a 413 telling
    the client to use URLs. A file the retention sweep deletes mid-stream ends the body short of its
    Content-Length, which clients see as a broken transfer, never as a wrong image."""
    data = prediction_json(row, storage=storage, base=base, base64=False)
    data.update(extra)
    keys = row["outputs"] if row["status"] == "completed" else []
    data["outputs"] = []
    data["has_nsfw_contents"] = [False] * len(keys)
    head = json.dumps(ok(data), separators=(",", ":")).encode()
    marker = b'"outputs":[]'
    at = head.index(marker)  # quotes inside strings are escaped, so this is the key itself
    prefix, suffix = head[:at] + b'"outputs":[', b"]" + head[at + len(marker) :]
    bodies: list[Body] = []
    try:
        for k in keys:
            bodies.append(storage.open(k))
    except FileNotFoundError:  # the retention sweep got there first
        for b in bodies:
            b.close()
        raise ApiError(404, f"the outputs of prediction {row['id']} have expired") from None
    total = sum(b64_length(b.length) for b in bodies)
    if max_bytes is not None and total > max_bytes:
        for b in bodies:
            b.close()
        raise too_much_base64(row["id"], total, max_bytes)
    quotes = 2 * len(bodies) + max(0, len(bodies) - 1)  # "…" per file, "," between them
    length = len(prefix) + total + quotes + len(suffix)

    def stream() -> Iterator[bytes]:
        try:
            yield prefix
            for i, body in enumerate(bodies):
                yield b'"' if i == 0 else b',"'
                yield from base64_pieces(body.chunks)
                yield b'"'
            yield suffix
        finally:
            for b in bodies:
                b.close()

    return StreamingResponse(stream(), media_type="application/json", headers={"Content-Length": str(length)})


def too_much_base64(prediction_id: str, total: int, limit: int) -> ApiError:
    """The answer to a base64 poll (or sync submit) whose outputs exceed the base64 cap: a 413 that says
    where the same outputs are as URLs. It is a 4xx, so the SDKs raise it at once with this message
    instead of retrying; the prediction itself stays completed."""
    message = (
        f"the base64 outputs of prediction {prediction_id} are {total} bytes, over the limit of {limit} bytes "
        f"for base64 output (SEQEDIT_MAX_BASE64_BYTES): submit without enable_base64_output to get URLs; "
        f"this prediction's outputs are listed as URLs in your history (POST /api/v3/predictions)"
    )
    return ApiError(413, message, extra={"field": "enable_base64_output", "limit": f"{limit} bytes of base64"})


def webhook_body(row: dict[str, Any], storage: Storage, base: str) -> bytes:
    """A webhook's body: the bare prediction object (never base64), compact JSON."""
    return json.dumps(prediction_json(row, storage=storage, base=base, base64=False), separators=(",", ":")).encode()


def absolute(url: str, base: str) -> str:
    """A storage URL as the client sees it: root-relative ones (our own ``/files/…``) joined to ``base``."""
    return f"{base.rstrip('/')}{url}" if url.startswith("/") else url


def prediction_json(
    row: dict[str, Any],
    *,
    storage: Storage,
    base: str,
    base64: bool | None = None,
    queue: tuple[int, float | None] | None = None,
) -> dict[str, Any]:
    """The prediction object for ``row``. ``base64`` (default: the row's own setting) inlines the files
    in memory (small results only: polls and sync answers of base64 jobs use ``base64_envelope``);
    otherwise outputs are ``storage.url``s valid until the row expires, resolved against ``base``.
    ``queue``: ``(queue_position, eta_seconds)`` of a waiting job (``Service.estimate``), added as the
    extensions of those names while the status is ``created``."""
    pid = row["id"]
    status = row["status"]
    use_b64 = row["base64"] if base64 is None else base64
    keys = row["outputs"] if status == "completed" else []
    if use_b64:
        outputs = [b64lib.b64encode(storage.get(k)).decode("ascii") for k in keys]
    else:
        expires = int(row["expires_at"])
        outputs = [absolute(storage.url(k, expires), base) for k in keys]
    data: dict[str, Any] = {
        "id": pid,
        "model": row["model"],
        "input": row["input"],
        "outputs": outputs,
        "urls": {"get": f"{base}/api/v3/predictions/{pid}/result"},
        "has_nsfw_contents": [False] * len(outputs),
        "status": status,
        "created_at": iso(row["created_at"]),
        "error": row["error"] if status in ("failed", "cancelled") else "",
        "executionTime": int(row["execution_ms"]),
        "timings": {"inference": int(row["inference_ms"])},
        "seed": row["seed"],
        "warnings": list(row["warnings"] or []),
        "progress": {
            "done": int(row["progress_done"]),
            "total": int(row["progress_total"]),
            "fraction": round(float(row["progress_fraction"] or 0.0), 3),
        },
        "cost": float(row["cost"]),
        "plan": row["plan"],
        "route": (row["plan"] or {}).get("route"),
        "provenance": (row["plan"] or {}).get("provenance"),
        "consistency": (row["plan"] or {}).get("consistency"),
    }
    if status == "failed":
        data["code"] = int(row["code"])
    if queue is not None and status == "created":
        data["queue_position"], data["eta_seconds"] = queue
    return data
