"""Uploads and file serving (api-contract.md §1.10).

* ``POST /api/v3/media/uploads`` (auth) → a ticket: ``upload {method: PUT, url, headers}`` and the
  ``download_url``. The ``PUT`` URL is HMAC-signed, expires after ``upload_ticket_seconds`` and works
  once; it needs no ``Authorization`` (the SDKs send none). The content type is sniffed from the
  bytes (``imaging.probe``: header only, with the pixel cap that stops decompression bombs), never
  taken from the client.
* ``POST /api/v3/media/upload/binary`` and ``/api/v2/media/upload/binary`` (auth, multipart ``file``).
* ``GET /files/<key>?expires=…&sig=…`` serves uploads and outputs from ``Storage.open`` (any backend),
  streamed, with a single ``Range`` (206/416), ``ETag``/``If-None-Match`` (304) and ``Last-Modified``.
  A missing, bad or expired signature is a plain 404, as is a missing file. A signed URL is a
  capability, like an S3 presigned URL: whoever holds it can read the file until it expires.
Oversize bodies are a 413.
"""

from __future__ import annotations

import re
import time
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from seqedit import imaging
from seqedit.api.auth import require_key
from seqedit.api.envelope import ApiError, absolute, reply
from seqedit.api.routing import ProtocolRouter
from seqedit.api.wavespeed import ERRORS, bad_input, base_url, json_body
from seqedit.errors import RequestError
from seqedit.jobs.store import new_id
from seqedit.signing import sign_path, verify_path
from seqedit.storage import FILES_PREFIX, ByteRange, RangeNotSatisfiable, safe_name

router = ProtocolRouter(ERRORS)

NOT_FOUND = PlainTextResponse("Not Found", status_code=404)
_OUTPUT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        f"file: {size} bytes is larger than the limit of {limit} bytes",
        extra={"field": "file", "limit": f"{limit} bytes"},
    )


def _sniff(data: bytes, settings, field: str = "file") -> imaging.Probe:
    if len(data) > settings.max_upload_bytes:
        raise _too_large(len(data), settings.max_upload_bytes)
    try:
        return imaging.probe(
            data, field=field, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
        )
    except RequestError as exc:
        raise bad_input(exc) from None


def _upload_reply(service, base: str, row: dict[str, Any]) -> dict[str, Any]:
    url = absolute(service.storage.url(row["object_key"], int(row["expires_at"])), base)
    return {"type": "image", "download_url": url, "filename": row["filename"], "size": row["size"]}


@router.post("/api/v3/media/uploads", tags=["media"])
async def upload_ticket(request: Request, key: dict = Depends(require_key)):
    service = request.app.state.service
    s = service.settings
    body = await json_body(request)
    filename = safe_name(str(body.get("filename") or "upload"))
    size = body.get("size") or 0
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise bad_input(RequestError("size", "a byte count", f"must be a non-negative integer, got {size!r}"[:100]))
    if size > s.max_upload_bytes:
        raise _too_large(size, s.max_upload_bytes)
    upload_id = new_id()
    row = await run_in_threadpool(
        service.store.create_upload,
        key_id=key["id"],
        object_key=f"uploads/{upload_id}/{filename}",
        filename=filename,
        content_type="",
        size=size,
        state="pending",
        ticket_seconds=s.upload_ticket_seconds,
        retention=s.retention,
        upload_id=upload_id,
    )
    base = base_url(request)
    path = f"/api/v3/media/uploads/{upload_id}"
    headers = {}
    if isinstance(body.get("content_type"), str) and body["content_type"]:
        headers["Content-Type"] = body["content_type"]
    data = _upload_reply(service, base, row)
    data["upload"] = {
        "method": "PUT",
        "url": f"{base}{path}?{sign_path(service.secret, path, int(row['ticket_expires']))}",
        "headers": headers,
    }
    return reply(data)


@router.put("/api/v3/media/uploads/{upload_id}", tags=["media"])
async def upload_put(upload_id: str, request: Request):
    """The signed, single-use, expiring PUT of a ticket (no Authorization, as the SDKs send none)."""
    service = request.app.state.service
    s = service.settings
    q = request.query_params
    if not verify_path(service.secret, f"/api/v3/media/uploads/{upload_id}", q.get("expires"), q.get("sig")):
        return NOT_FOUND
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > s.max_upload_bytes:
        raise _too_large(int(declared), s.max_upload_bytes)
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > s.max_upload_bytes:
            raise _too_large(len(buf), s.max_upload_bytes)
    data = bytes(buf)
    probe = _sniff(data, s)
    row = await run_in_threadpool(service.store.take_ticket, upload_id)
    if row is None:
        return NOT_FOUND  # unknown, expired or already used
    await run_in_threadpool(service.storage.put, row["object_key"], data)
    await run_in_threadpool(service.store.store_upload, upload_id, content_type=probe.mime, size=len(data))
    return reply({"filename": row["filename"], "size": len(data), "content_type": probe.mime})


async def _binary(request: Request, key: dict) -> Response:
    service = request.app.state.service
    s = service.settings
    declared = request.headers.get("content-length")
    if not (declared and declared.isdigit()):
        # the multipart parser spools the whole body before we see it: only a declared length is capped
        raise ApiError(
            411,
            "a Content-Length header is required for multipart uploads",
            extra={"field": "Content-Length", "limit": "required"},
        )
    if int(declared) > s.max_upload_bytes + 64 * 1024:
        raise _too_large(int(declared), s.max_upload_bytes)
    form = await request.form(max_files=1, max_fields=10)
    try:
        part = form.get("file")
        if part is None or isinstance(part, str):
            raise bad_input(RequestError("file", "a multipart file part named 'file'", "is missing"))
        data = await part.read(s.max_upload_bytes + 1)
        filename = safe_name(part.filename or "upload")
    finally:
        await form.close()
    probe = _sniff(data, s)
    upload_id = new_id()

    def store() -> dict[str, Any]:
        object_key = f"uploads/{upload_id}/{filename}"
        service.storage.put(object_key, data)
        row: dict[str, Any] = service.store.create_upload(
            key_id=key["id"],
            object_key=object_key,
            filename=filename,
            content_type=probe.mime,
            size=len(data),
            state="stored",
            ticket_seconds=0,
            retention=s.retention,
            upload_id=upload_id,
        )
        return row

    row = await run_in_threadpool(store)
    return reply(_upload_reply(service, base_url(request), row))


@router.post("/api/v3/media/upload/binary", tags=["media"])
async def upload_binary(request: Request, key: dict = Depends(require_key)):
    return await _binary(request, key)


@router.post("/api/v2/media/upload/binary", tags=["media"], include_in_schema=False)
async def upload_binary_v2(request: Request, key: dict = Depends(require_key)):
    return await _binary(request, key)


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _byte_range(header: str | None) -> ByteRange | None:
    """One ``Range: bytes=a-b`` range; None (the whole file) when absent, malformed or multi-range
    (RFC 9110 lets a server ignore a Range it does not support)."""
    m = _RANGE.fullmatch((header or "").strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        return (None, int(last))
    return (int(first), int(last) if last else None)


@router.api_route(FILES_PREFIX + "{key:path}", methods=["GET", "HEAD"], tags=["media"])
async def files(key: str, request: Request) -> Response:
    service = request.app.state.service
    q = request.query_params
    if not service.signer.verify(key, q.get("expires"), q.get("sig")):
        return NOT_FOUND
    media_type = _OUTPUT_TYPES.get(key.rsplit(".", 1)[-1].lower())
    if key.startswith("uploads/"):
        up = await run_in_threadpool(service.store.upload_by_object, key)
        if up is None or up["state"] != "stored":
            return NOT_FOUND
        media_type = up["content_type"] or "application/octet-stream"
    max_age = max(0, int(q.get("expires", "0")) - int(time.time()))
    wanted = _byte_range(request.headers.get("range"))
    try:
        body = await run_in_threadpool(service.storage.open, key, wanted)
    except FileNotFoundError:
        return NOT_FOUND
    except RangeNotSatisfiable as exc:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.size}"})
    info = body.info
    headers = {
        "Cache-Control": f"private, max-age={max_age}",
        "ETag": info.etag,
        "Accept-Ranges": "bytes",
        "Last-Modified": format_datetime(info.modified, usegmt=True),
    }
    match = request.headers.get("if-none-match")
    if match and info.etag in [t.strip() for t in match.split(",")] + ["*"]:
        body.close()
        return Response(status_code=304, headers={k: headers[k] for k in ("ETag", "Cache-Control")})
    headers["Content-Length"] = str(body.length)
    status = 200
    if body.partial:
        status = 206
        headers["Content-Range"] = f"bytes {body.start}-{body.stop - 1}/{info.size}"
    if request.method == "HEAD":
        body.close()
        return Response(status_code=status, headers=headers, media_type=media_type or "application/octet-stream")
    return StreamingResponse(
        body.chunks, status_code=status, headers=headers, media_type=media_type or "application/octet-stream"
    )
