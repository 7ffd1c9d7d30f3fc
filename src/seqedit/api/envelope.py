"""The WaveSpeed wire shapes: the ``{code, message, data}`` envelope, the prediction object, errors.

Prediction object (api-contract.md §1.4): ``id, model, input, outputs, urls.get,
has_nsfw_contents`` (one entry per output), ``status, created_at`` (ISO-8601 UTC, ``Z``), ``error``
(``""`` unless failed or cancelled), ``executionTime`` and ``timings.inference`` (ms), ``code`` (only
on failure or a sync-mode timeout). Extensions: ``seed``, ``warnings``, ``progress {done, total, fraction}``,
``cost`` (USD), ``plan``.

HTTP errors: ``{"code": <status>, "message": m, "data": null, "error": m}`` (+ ``field``/``limit``
for bad input). Never a 200 with ``data: null``.
"""

from __future__ import annotations

import base64 as b64lib
import json
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse, Response

from seqedit.storage import Storage

__all__ = ["ok", "reply", "error_response", "ApiError", "prediction_json", "base64_envelope", "webhook_body", "iso"]

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


def reply(data: Any) -> JSONResponse:
    """The 200 envelope as a response (skips FastAPI's generic encoder: the data is plain JSON)."""
    return JSONResponse(ok(data))


def error_response(exc: ApiError) -> JSONResponse:
    body = {"code": exc.status, "message": exc.message, "data": None, "error": exc.message, **exc.extra}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def base64_envelope(row: dict[str, Any], *, storage: Storage, base: str, **extra: Any) -> Response:
    """The envelope of a completed base64 prediction, as bytes, without passing tens of MB of base64
    through a JSON encoder: the base64 alphabet needs no escaping, so the strings are spliced in."""
    data = prediction_json(row, storage=storage, base=base, base64=False)
    data.update(extra)
    keys = row["outputs"] if row["status"] == "completed" else []
    data["outputs"] = []
    data["has_nsfw_contents"] = [False] * len(keys)
    head = json.dumps(ok(data), separators=(",", ":")).encode()
    marker = b'"outputs":[]'
    at = head.index(marker)  # quotes inside strings are escaped, so this is the key itself
    try:
        parts = [b'"' + b64lib.b64encode(storage.get(k)) + b'"' for k in keys]
    except FileNotFoundError:  # the retention sweep got there first
        raise ApiError(404, f"the outputs of prediction {row['id']} have expired") from None
    body = b"".join([head[:at], b'"outputs":[', b",".join(parts), b"]", head[at + len(marker) :]])
    return Response(body, media_type="application/json")


def webhook_body(row: dict[str, Any], storage: Storage, base: str) -> bytes:
    """A webhook's body: the bare prediction object (never base64), compact JSON."""
    return json.dumps(prediction_json(row, storage=storage, base=base, base64=False), separators=(",", ":")).encode()


def absolute(url: str, base: str) -> str:
    """A storage URL as the client sees it: root-relative ones (our own ``/files/…``) joined to ``base``."""
    return f"{base.rstrip('/')}{url}" if url.startswith("/") else url


def prediction_json(row: dict[str, Any], *, storage: Storage, base: str, base64: bool | None = None) -> dict[str, Any]:
    """The prediction object for ``row``. ``base64`` (default: the row's own setting) inlines the files;
    otherwise outputs are ``storage.url``s valid until the row expires, resolved against ``base``."""
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
    }
    if status == "failed":
        data["code"] = int(row["code"])
    return data
