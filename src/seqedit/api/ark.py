"""The Ark protocol (api-contract.md §2, §6.4): ``POST /api/v3/images/generations`` as BytePlus ModelArk
and Volcengine Ark serve Seedream, so their official SDKs (``byteplussdkarkruntime.Ark(base_url=…)``)
work unchanged.

This router only translates, like ``api.wavespeed``: the Ark body becomes an ``EditRequest`` + a
``Submission`` for ``jobs.submit`` (the same keys, limits, staging, queue and history as WaveSpeed), and
rows come back in Ark's shapes. Errors use Ark's body ``{"error": {code, message, param, type}}``
with Ark's statuses; every 408/409/429/5xx carries ``x-should-retry: false`` (the SDK otherwise
re-sends twice, and a re-sent submit is a second billed job).

Fields (explicit ``null`` is absent for every optional one; unknown fields are ignored):

* ``model`` — one of ``models.ARK_MODELS`` (all run on the configured engine); another id is a 404
  ``InvalidEndpoint.NotFound``.
* ``image`` — a string or a list (URL or data URI), 1-10; none is a 400 naming ``image`` (no engine
  seqedit ships makes images without a reference).
* ``size`` — ``1K``/``2K``/``4K`` (1024², 2048², 4096² pixels at the first reference's aspect, sides
  multiples of 64: ``sizes.fit``) or ``WxH``; absent is ``2K``.
* ``sequential_image_generation`` — ``disabled`` (default): one image; ``auto``: as many as the
  prompt asks for (its stated count, panel lines, or a list of items, read by ``plan``), at least 1,
  capped by ``sequential_image_generation_options.max_images`` (1-15; absent: 15 − references); references +
  ``max_images`` ≤ 15, else 400 ``InvalidParameter`` naming ``max_images``.
* ``response_format`` ``url``|``b64_json``; ``watermark`` (default true: ``seqedit.watermark``);
  ``seed`` (−1..2³¹−1); ``output_format`` (jpeg, png; webp too); ``stream``;
  ``optimize_prompt_options.mode`` (``standard``|``fast``) is checked and recorded in the prediction's
  ``input`` only: seqedit does not rewrite prompts.

Non-stream: the request waits for the job as WaveSpeed's sync mode does (``Submissions.wait``, up to
``sync_timeout``); past it, a 504 naming the prediction id (the job goes on and is in history).

Stream (``text/event-stream``): one ``image_generation.partial_succeeded`` per panel **as the runner
commits it**, read from the row (``Service.rows.read``, the poll cache, in a loop woken by the
``Notifier`` when the panel was committed in this process, else every ``STREAM_POLL`` s, so it works
across processes), then one
``image_generation.partial_failed`` per panel a failed job did not make, ``image_generation.completed``
with usage, and ``data: [DONE]``. A bad request is still a plain 400 JSON. A client that leaves
mid-stream only stops the reading loop: the job is queued independently, completes, and is billed once.
"""

from __future__ import annotations

import base64 as b64lib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from seqedit.api.auth import require_key
from seqedit.api.envelope import ApiError, absolute
from seqedit.api.models import ARK_MODELS
from seqedit.api.outage import unavailable
from seqedit.api.routing import ErrorStyle, ProtocolRouter
from seqedit.api.wavespeed import base_url, echo_ref, json_body, show
from seqedit.errors import INTERNAL, NotFound, RequestError
from seqedit.jobs.store import LimitExceeded, Status
from seqedit.jobs.submit import Submission
from seqedit.plan import declared_count, find_enumeration, split_panel_lines
from seqedit.request import LIMITS, EditRequest
from seqedit.sizes import parse_size

__all__ = ["router", "auto_count", "TIERS"]

TIERS = {"1k": 1024 * 1024, "2k": 2048 * 2048, "4k": 4096 * 4096}  # Ark's size presets, in pixels
DEFAULT_TIER = "2k"
MAX_TOTAL = 15  # Ark: references + max_images
STREAM_POLL = 0.05  # seconds between reads of the row while streaming (a panel committed elsewhere)
TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "RequestTimeout",
    409: "Conflict",
    413: "BadRequest",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
CODES = {
    400: "InvalidParameter",
    401: "AuthenticationError",
    403: "AccessDenied",
    404: "InvalidEndpoint.NotFound",
    413: "InvalidParameter",
    429: "RateLimitExceeded.KeyConcurrency",
    503: "ServiceUnavailable",
    504: "RequestTimeout",
}
NO_RETRY = {408, 409, 429}  # and every 5xx: the SDK would re-send them
PARAMS = {"images": "image", "max_images": "sequential_image_generation_options.max_images"}


def _param(field: str) -> str:
    if field.startswith("images["):
        return "image" + field[len("images") :]
    return PARAMS.get(field, field)


def render(exc: ApiError) -> Response:
    """Ark's error body: ``{"error": {code, message, param, type}}``, its status, no-retry headers."""
    status = exc.status
    code = exc.extra.get("ark_code") or CODES.get(status) or ("InternalServiceError" if status >= 500 else "Error")
    param = exc.extra.get("param") or _param(str(exc.extra.get("field") or ""))
    if param == "body":
        param = ""
    kind = TYPES.get(status) or ("InternalServiceError" if status >= 500 else "BadRequest")
    headers = dict(exc.headers)
    if status in NO_RETRY or status >= 500:
        headers.setdefault("x-should-retry", "false")
    body = {"error": {"code": code, "message": exc.message, "param": param, "type": kind}}
    return JSONResponse(body, status_code=status, headers=headers)


def bad(param: str, message: str, code: str = "InvalidParameter", status: int = 400) -> ApiError:
    return ApiError(status, f"The parameter `{param}` {message}", extra={"param": param, "ark_code": code})


def translate(exc: Exception) -> ApiError | None:
    if isinstance(exc, NotFound):
        return ApiError(404, f"{_param(exc.field)}: {exc.message}", extra={"param": _param(exc.field)})
    if isinstance(exc, RequestError):
        param = _param(exc.field)
        return ApiError(
            413 if "bytes" in exc.limit else 400,
            f"The parameter `{param}` specified in the request is not valid: {exc.message} (limit: {exc.limit})",
            extra={"param": param},
        )
    if isinstance(exc, LimitExceeded):
        return ApiError(429, str(exc))
    return None


router = ProtocolRouter(ErrorStyle(render, translate))


# ---------------------------------------------------------------------- the body


def _optional(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise bad(name, f"must be {what}, got {show(value)}")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _optional(body, name, str, " | ".join(allowed))
    if value is None:
        return default
    if value.lower() not in allowed:
        raise bad(name, f"must be one of {', '.join(allowed)}, got {show(value)}")
    return str(value.lower())


def _images(body: dict[str, Any], engine: str) -> list[str]:
    value = body.get("image")
    if value is None or value == []:
        raise bad(
            "image",
            f"is required: the {engine} engine edits reference images and cannot generate from text alone "
            f"(give 1-{LIMITS.max_refs} images as URLs or data URIs)",
            code="MissingParameter",
        )
    images = [value] if isinstance(value, str) else value
    if not isinstance(images, list):
        raise bad("image", f"must be a string or a list of strings, got {show(value)}")
    return images


def _size(body: dict[str, Any]) -> tuple[str | None, int | None]:
    """``(size for EditRequest, pixel budget)``: a preset is a budget at the first reference's aspect."""
    value = _optional(body, "size", str, "1K, 2K, 4K or WxH (e.g. 2048x2048)")
    tier = (value or DEFAULT_TIER).strip().lower()
    if tier in TIERS:
        return None, TIERS[tier]
    assert value is not None
    parse_size(value, field="size")  # RequestError naming size
    return value, None


def auto_count(prompt: str, cap: int) -> int:
    """``sequential_image_generation: auto``: the number of images the prompt asks for (a stated count,
    its panel lines, or else the longest one-per-image list the planner finds), at least 1, at most ``cap``."""
    asked = declared_count(prompt)
    shared, lines = split_panel_lines(prompt)
    if asked is None and lines:
        asked = max(k for k, _ in lines)
    if asked is None:
        asked = next((n for n in range(cap, 1, -1) if find_enumeration(shared, n) is not None), None)
    return max(1, min(asked or 1, cap))


def parse(body: dict[str, Any], engine: str) -> tuple[EditRequest, dict[str, Any]]:
    """The request and the ``input`` echo stored on the prediction, or a 400 naming Ark's parameter."""
    model = body.get("model")
    if model is None or model == "":
        raise bad("model", "is required", code="MissingParameter")
    if not isinstance(model, str):
        raise bad("model", f"must be a string, got {show(model)}")
    if model not in ARK_MODELS:
        raise ApiError(
            404,
            f"The model or endpoint {show(model)} does not exist or you do not have access to it; "
            f"available: {', '.join(ARK_MODELS)}",
            extra={"param": "model", "ark_code": "InvalidEndpoint.NotFound"},
        )
    prompt = body.get("prompt")
    if prompt is None:
        raise bad("prompt", "is required", code="MissingParameter")
    images = _images(body, engine)
    size, pixels = _size(body)
    mode = _choice(body, "sequential_image_generation", ("auto", "disabled"), "disabled")
    options = _optional(body, "sequential_image_generation_options", dict, "an object {max_images}") or {}
    cap = options.get("max_images")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_TOTAL):
        raise bad("sequential_image_generation_options.max_images", f"must be an integer 1-15, got {show(cap)}")
    cap = max(1, MAX_TOTAL - len(images)) if cap is None else cap  # absent: as many as the references leave
    if mode == "auto" and len(images) + cap > MAX_TOTAL:
        raise bad(
            "sequential_image_generation_options.max_images",
            f"is too large: {len(images)} reference images + max_images {cap} = {len(images) + cap} > {MAX_TOTAL}",
        )
    watermark = _optional(body, "watermark", bool, "true or false")
    optimize = _optional(body, "optimize_prompt_options", dict, "an object {mode}") or {}
    prompt_mode = optimize.get("mode")
    if prompt_mode is not None and prompt_mode not in ("standard", "fast"):
        raise bad("optimize_prompt_options.mode", f"must be standard or fast, got {show(prompt_mode)}")
    output_format = _optional(body, "output_format", str, "jpeg or png")
    seed = body.get("seed")
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    count = 1
    if mode == "auto" and isinstance(prompt, str):
        count = auto_count(prompt, cap)
    req = EditRequest.create(
        prompt=prompt,
        images=images,
        size=size,
        max_images=count,
        seed=seed,
        output_format=output_format or "jpeg",
        watermark=True if watermark is None else watermark,
        pixels=pixels,
    )
    echo: dict[str, Any] = {
        "prompt": req.prompt,
        "image": [echo_ref(r) for r in req.images],
        "size": body.get("size") or DEFAULT_TIER.upper(),
        "sequential_image_generation": mode,
        "max_images": req.max_images,
        "watermark": req.watermark,
        "response_format": _choice(body, "response_format", ("url", "b64_json"), "url"),
    }
    if mode == "auto":
        echo["sequential_image_generation_options"] = {"max_images": cap}
    if prompt_mode is not None:
        echo["optimize_prompt_options"] = {"mode": prompt_mode}
    if req.seed is not None:
        echo["seed"] = req.seed
    if req.output_format != "jpeg":
        echo["output_format"] = req.output_format
    return req, echo


# ---------------------------------------------------------------------- rows in Ark's shapes


def _panel_size(row: dict[str, Any]) -> tuple[int, int]:
    text = str((row.get("plan") or {}).get("size") or "0*0")
    w, _, h = text.partition("*")
    return int(w), int(h)


def _image(row: dict[str, Any], key: str, request: Request, b64: bool) -> dict[str, Any]:
    storage = request.app.state.service.storage
    w, h = _panel_size(row)
    if b64:
        return {"b64_json": b64lib.b64encode(storage.get(key)).decode("ascii"), "size": f"{w}x{h}"}
    return {"url": absolute(storage.url(key, int(row["expires_at"])), base_url(request)), "size": f"{w}x{h}"}


def _panel_error(row: dict[str, Any]) -> dict[str, str]:
    if row["status"] == Status.CANCELLED.value:
        return {"code": "RequestCancelled", "message": "the request was cancelled before this image was made"}
    code = int(row.get("code") or INTERNAL)
    ark = "InternalServiceError" if code >= INTERNAL else "InvalidParameter"
    return {"code": ark, "message": str(row.get("error") or "the image could not be generated")}


def _usage(row: dict[str, Any]) -> dict[str, int]:
    n = len(row["outputs"])
    w, h = _panel_size(row)
    tokens = n * w * h // 256
    return {"generated_images": n, "output_tokens": tokens, "total_tokens": tokens}


def _wanted(row: dict[str, Any]) -> int:
    return int(row.get("progress_total") or row["request"].get("max_images") or 1)


async def _completed_reply(row: dict[str, Any], request: Request, model: str, b64: bool) -> Response:
    outputs = list(row["outputs"])
    if row["status"] != Status.COMPLETED.value and not outputs:
        error = _panel_error(row)
        status = 500 if error["code"] == "InternalServiceError" else 400
        raise ApiError(status, f"{error['message']} (prediction {row['id']})", extra={"ark_code": error["code"]})
    data: list[dict[str, Any]] = await run_in_threadpool(lambda: [_image(row, k, request, b64) for k in outputs])
    if row["status"] != Status.COMPLETED.value:
        data += [{"error": _panel_error(row)} for _ in range(len(outputs), _wanted(row))]
    created = int(row["created_at"])
    body = {"model": model, "created": created, "created_at": created, "data": data, "usage": _usage(row)}
    return JSONResponse(body, headers={"x-seqedit-prediction-id": row["id"]})


def _event(kind: str, model: str, payload: dict[str, Any]) -> bytes:
    """One SSE event: ``event:`` is ``data.type``; ``created`` and ``created_at`` (the SDK's event models
    declare the latter) are now."""
    now = int(time.time())
    data = {"type": kind, "model": model, "created": now, "created_at": now, **payload}
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _stream(pid: str, request: Request, model: str, b64: bool) -> AsyncIterator[bytes]:
    """One event per committed panel, read from the row; then failures, completed, ``[DONE]``.

    One ``Notifier`` watch is taken before the first read and held to the end (``watching``: lossless),
    so a panel committed between a read and the next wait still wakes the loop at once; without a
    notification the row is read every ``STREAM_POLL`` s (a job that ran in another process)."""
    service = request.app.state.service
    sent = 0
    with service.notifier.watching(pid) as watch:  # also when the client left: only this loop stops
        while True:
            row = await service.rows.read(pid)  # from memory while it cannot have changed
            if row is None:  # swept while we watched
                break
            outputs = list(row["outputs"])
            for i in range(sent, len(outputs)):
                image = await run_in_threadpool(_image, row, outputs[i], request, b64)
                yield _event("image_generation.partial_succeeded", model, {"image_index": i, **image})
            sent = max(sent, len(outputs))  # a failed job's row lets go of its outputs
            if Status(row["status"]).is_terminal():
                if row["status"] != Status.COMPLETED.value:
                    for i in range(sent, _wanted(row)):
                        failed = {"image_index": i, "error": _panel_error(row)}
                        yield _event("image_generation.partial_failed", model, failed)
                yield _event("image_generation.completed", model, {"usage": _usage(row)})
                break
            await watch.changed(STREAM_POLL)
    yield b"data: [DONE]\n\n"


# ---------------------------------------------------------------------- the route


@router.post("/api/v3/images/generations", tags=["ark"])
async def generate(request: Request, key: dict = Depends(require_key)):
    """Ark's image generation: a set of images from references and one prompt, JSON or SSE."""
    service = request.app.state.service
    body = await json_body(request)
    req, echo = parse(body, service.settings.engine)
    stream = _optional(body, "stream", bool, "true or false") or False
    b64 = echo["response_format"] == "b64_json"
    model = str(body["model"])
    idem = request.headers.get("idempotency-key") or None
    if idem is not None and len(idem) > 200:
        raise bad("Idempotency-Key", f"must be at most 200 characters, has {len(idem)}")
    submission = Submission(model=model, request=req, echo=echo, idempotency_key=idem, base64=b64, sync=True)
    row, _created = await run_in_threadpool(service.submissions.submit, key, submission)
    headers = {"x-seqedit-prediction-id": row["id"]}
    client_id = request.headers.get("x-client-request-id")
    if client_id and len(client_id) <= 200:
        headers["x-client-request-id"] = client_id
    if stream:
        return StreamingResponse(
            _stream(row["id"], request, model, b64),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    timeout = service.settings.sync_timeout
    try:
        row = await service.submissions.wait(row["id"], timeout)
    except Exception as exc:
        if unavailable(exc) is None:
            raise
        row = {**row, "status": Status.PROCESSING.value}  # accepted; the database went while we waited
    if not Status(row["status"]).is_terminal():
        raise ApiError(
            504,
            f"The request is still running after {timeout:g} s; it was accepted as prediction {row['id']}, "
            f"goes on, and appears in history (GET /api/v3/predictions/{row['id']}/result). Do not re-send it.",
            headers=headers,
            extra={"ark_code": "RequestTimeout"},
        )
    response = await _completed_reply(row, request, model, b64)
    response.headers.update(headers)
    return response
