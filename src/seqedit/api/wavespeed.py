"""The WaveSpeed protocol (api-contract.md §1): submit, poll, history, cancel, price, webhook secret.

Submit does no pixel work: it validates the body into an ``EditRequest`` (a bad field is a 400 that
names the field and the limit, and no task is created), checks each image reference cheaply (our own
file URLs: signature and owner; http(s): the SSRF guard; inline base64: header probe, then stored as
an object), inserts the row and enqueues its id. Sync mode then waits on the row for up to
``sync_timeout`` seconds and answers the completed envelope, or HTTP 200 with ``status: processing``,
``code: 5004`` and "Sync mode timed out …" while the job keeps running.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from seqedit import imaging
from seqedit.api.auth import require_key
from seqedit.api.envelope import ApiError, base64_envelope, prediction_json, reply
from seqedit.api.models import MODELS, get_model
from seqedit.errors import RequestError
from seqedit.jobs.store import LimitExceeded, new_id
from seqedit.pricing import cost
from seqedit.storage import OBJECT_REF, own_key

router = APIRouter()

BASE64_WEBHOOK = "webhook callback does not support base64 output, please use the normal API to use base64 output"
SYNC_TIMEOUT = "Sync mode timed out after {s:g} seconds. The prediction is still processing asynchronously."


def base_url(request: Request) -> str:
    service = request.app.state.service
    return service.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


def bad_input(exc: RequestError, status: int = 400) -> ApiError:
    return ApiError(status, str(exc), extra={"field": exc.field, "limit": exc.limit})


async def json_body(request: Request) -> dict[str, Any]:
    limit = request.app.state.service.settings.max_request_bytes
    declared = request.headers.get("content-length")
    too_large = ApiError(413, f"the request body is larger than the limit of {limit} bytes",
                         extra={"field": "body", "limit": f"{limit} bytes"})
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise too_large
    raw = bytes(buf)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


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


def _echo(ref: str) -> str:
    return ref if len(ref) <= 200 or ref.startswith(("http://", "https://")) else ref[:60] + f"…({len(ref)} chars)"


def check_refs(service, key: dict[str, Any], images: tuple[str, ...]) -> list[str]:
    """Cheap, early checks of every image reference; inline base64 is stored as an object.
    Returns the references the runner will resolve. Raises ``ApiError`` naming ``images[i]``."""
    from seqedit.fetch import FetchError, check_url
    from seqedit.jobs.runner import decode_base64, parse_data_uri

    s = service.settings
    out = []
    for i, ref in enumerate(images):
        field = f"images[{i}]"
        ref = ref.strip()
        if ref.startswith(("http://", "https://")):
            okey = own_key(ref, service.secret)
            if okey is not None:
                if not _owned(service, key, okey):
                    raise ApiError(404, f"{field}: file not found", extra={"field": field, "limit": "your own files"})
                out.append(OBJECT_REF + okey)
                continue
            try:
                check_url(ref, s.allowed_hosts)
            except FetchError as exc:
                raise ApiError(400, f"{field}: {exc.message}", extra={"field": field, "limit": "a public http(s) URL"}) from None
            out.append(ref)
            continue
        try:
            data = parse_data_uri(ref) if ref.startswith("data:") else decode_base64(ref)
        except ValueError as exc:
            raise ApiError(400, f"{field}: must be an http(s) URL, a data: URI or base64 ({exc})",
                           extra={"field": field, "limit": "http(s) URL | data: URI | base64"}) from None
        try:
            probe = imaging.probe(data, field=field, max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels)
        except RequestError as exc:
            status = 413 if "bytes" in exc.limit else 400
            raise bad_input(exc, status) from None
        object_key = f"uploads/{new_id()}/inline-{i}.{probe.format.lower() or 'bin'}"
        service.storage.put(object_key, data)
        service.store.create_upload(key_id=key["id"], object_key=object_key, filename=f"inline-{i}",
                                    content_type=probe.mime, size=len(data), state="stored",
                                    ticket_seconds=0, retention=s.retention)
        out.append(OBJECT_REF + object_key)
    return out


def _owned(service, key: dict[str, Any], object_key: str) -> bool:
    if object_key.startswith("uploads/"):
        up = service.store.upload_by_object(object_key)
        return up is not None and up["key_id"] == key["id"] and up["state"] == "stored"
    parts = object_key.split("/")
    return len(parts) >= 2 and service.store.get(parts[1], key_id=key["id"]) is not None


# ---------------------------------------------------------------------- predictions (fixed paths first)

@router.post("/api/v3/predictions", tags=["predictions"])
async def history(request: Request, key: dict = Depends(require_key)):
    body = await json_body(request)
    service = request.app.state.service
    try:
        page = int(body.get("page") or 1)
        page_size = int(body.get("page_size") or 20)
    except (TypeError, ValueError):
        raise ApiError(400, "page and page_size must be integers") from None
    if page < 1:
        raise bad_input(RequestError("page", ">= 1", f"{page} is out of range"))
    if not 1 <= page_size <= 100:
        raise bad_input(RequestError("page_size", "1-100", f"{page_size} is out of range"))
    filters = {"model": body.get("model") or None, "status": body.get("status") or None,
               "created_after": _time(body, "created_after"), "created_before": _time(body, "created_before")}
    rows, total = await run_in_threadpool(service.store.history, key["id"], page=page, page_size=page_size, **filters)
    base = base_url(request)
    items = [prediction_json(r, base=base, service=service, base64=False) for r in rows]
    return reply({"page": page, "page_size": page_size, "total": total, "items": items})


def _time(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise bad_input(RequestError(name, "ISO-8601 time or unix seconds", f"cannot read {value!r}"[:100]))


async def _result(request: Request, prediction_id: str, key: dict) -> dict:
    service = request.app.state.service
    row = await run_in_threadpool(service.store.get, prediction_id, key["id"])
    if row is None:
        raise ApiError(404, f"prediction {prediction_id} not found")
    base = base_url(request)
    if row["base64"] and row["status"] == "completed":
        return await run_in_threadpool(base64_envelope, row, base=base, service=service)
    return reply(prediction_json(row, base=base, service=service))


@router.get("/api/v3/predictions/{prediction_id}/result", tags=["predictions"])
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
    row = await run_in_threadpool(service.store.cancel, prediction_id, key["id"])
    if row is None:
        raise ApiError(404, f"prediction {prediction_id} not found")
    if row["status"] == "processing":
        service.runner.cancel_local(prediction_id)
    elif row["status"] == "cancelled":
        service.notifier.notify(prediction_id)
        service.webhooks.wake()
    return reply(prediction_json(row, base=base_url(request), service=service, base64=False))


# ---------------------------------------------------------------------- price and webhook secret

@router.post("/api/v3/model/price", tags=["account"])
async def price(request: Request, key: dict = Depends(require_key)):
    body = await json_body(request)
    model_id = body.get("model") or body.get("model_id") or ""
    spec = get_model(str(model_id))
    if spec is None:
        raise ApiError(404, f"model not found: {model_id!r}; available: {', '.join(MODELS)}")
    n = spec.fixed_count or body.get("max_images") or 1
    try:
        n = int(n)
    except (TypeError, ValueError):
        raise bad_input(RequestError("max_images", "integer 1-15", f"must be an integer, got {n!r}")) from None
    if not 1 <= n <= 15:
        raise bad_input(RequestError("max_images", "integer 1-15", f"{n} is out of range"))
    unit = request.app.state.service.settings.price_per_image
    total = float(cost(n, unit))
    return reply({"model": spec.id, "unit_price": float(unit), "max_images": n, "base_price": total,
               "discounted_price": total, "currency": "USD"})


@router.get("/api/v3/webhook/secret", tags=["account"])
async def webhook_secret(key: dict = Depends(require_key)):
    return reply({"secret": key["webhook_secret"]})


@router.get("/api/v3/models", tags=["account"])
async def models(key: dict = Depends(require_key)):
    return reply([{"model_id": m.id, "name": m.id, "type": "image-to-image", "description": m.description,
                "api_schema": {"api_schemas": [{"type": "model_run", "method": "POST",
                                                "api_path": f"/api/v3/{m.id}", "request_schema": m.schema()}]}}
               for m in MODELS.values()])


# ---------------------------------------------------------------------- submit (the catch-all: last)

@router.post("/api/v3/{model_id:path}", tags=["predictions"])
async def submit(model_id: str, request: Request, key: dict = Depends(require_key)):
    service = request.app.state.service
    s = service.settings
    spec = get_model(model_id)
    if spec is None:
        raise ApiError(404, f"model not found: {model_id!r}; available: {', '.join(MODELS)}")
    body = await json_body(request)
    base64 = _flag(body, "enable_base64_output")
    sync = _flag(body, "enable_sync_mode")
    webhook = webhook_from(request, body)
    if base64 and webhook:
        raise ApiError(400, BASE64_WEBHOOK, extra={"field": "enable_base64_output", "limit": "not with a webhook"})
    try:
        req = spec.parse(body)
    except RequestError as exc:
        raise bad_input(exc) from None
    idem = request.headers.get("idempotency-key") or None
    if idem is not None and len(idem) > 200:
        raise bad_input(RequestError("Idempotency-Key", "at most 200 characters", f"has {len(idem)}"))
    limit = key.get("concurrency") or s.key_concurrency or None

    def create() -> tuple[dict[str, Any], bool]:
        if idem is not None:  # a repeat returns the first prediction without re-checking anything
            found = service.store.by_idempotency(key["id"], idem)
            if found is not None:
                return found, False
        if webhook:
            from seqedit.fetch import FetchError, check_url

            try:
                check_url(webhook, s.allowed_hosts)
            except FetchError as exc:
                raise ApiError(400, f"webhook: {exc.message}", extra={"field": "webhook", "limit": "a public http(s) URL"}) from None
        refs = check_refs(service, key, req.images)
        request_dict = {**req.to_dict(), "images": refs}
        echo = {"prompt": req.prompt, "images": [_echo(r) for r in req.images],
                "size": None if req.size is None else str(req.size), "max_images": req.max_images,
                "enable_base64_output": base64, "enable_sync_mode": sync}
        if req.seed is not None:
            echo["seed"] = req.seed
        if req.output_format != "jpeg":
            echo["output_format"] = req.output_format
        try:
            row, created = service.store.create(
                key_id=key["id"], model=spec.id, input=echo, request=request_dict, total=req.max_images,
                output_format=req.output_format, cost=str(cost(req.max_images, s.price_per_image)),
                retention=s.retention, base64=base64, webhook_url=webhook, idempotency_key=idem, limit=limit)
        except LimitExceeded as exc:
            raise ApiError(429, str(exc), headers={"x-should-retry": "false"}) from None
        if created:  # row first, then the queue message: a crash in between is the reaper's to mend
            service.queue.enqueue(row["id"])
        return row, created

    row, created = await run_in_threadpool(create)
    base = base_url(request)
    if not sync:
        return reply(prediction_json(row, base=base, service=service, base64=False))
    deadline = time.monotonic() + s.sync_timeout
    while True:
        row = await run_in_threadpool(service.store.get, row["id"])
        if row["status"] in ("completed", "failed", "cancelled"):
            if row["base64"] and row["status"] == "completed":
                return await run_in_threadpool(base64_envelope, row, base=base, service=service)
            return reply(prediction_json(row, base=base, service=service))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            data = prediction_json(row, base=base, service=service, base64=False)
            data.update(status="processing", code=5004, error=SYNC_TIMEOUT.format(s=s.sync_timeout))
            return reply(data)
        await service.notifier.wait(row["id"], min(remaining, 0.5))
