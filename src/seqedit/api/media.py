"""Uploads and file serving (api-contract.md §1.10).

* ``POST /api/v3/media/uploads`` (auth) → a ticket: ``upload {method: PUT, url, headers}`` and the
  ``download_url``. The ``PUT`` URL is HMAC-signed, expires after ``upload_ticket_seconds`` and works
  once; it needs no ``Authorization`` (the SDKs send none). The content type is sniffed from the
  bytes (``imaging.probe``: header only, with the pixel cap that stops decompression bombs and the
  structural bounds that stop header bombs), never taken from the client.
* ``POST /api/v3/media/upload/binary`` and ``/api/v2/media/upload/binary`` (auth, multipart ``file``).
* ``GET /files/<key>?expires=…&sig=…`` serves uploads and outputs from ``Storage.open`` (any backend),
  streamed, with a single ``Range`` (206/416), ``ETag``/``If-None-Match`` (304) and ``Last-Modified``.
  A missing, bad or expired signature is a plain 404, as is a missing file. A signed URL is a
  capability, like an S3 presigned URL: whoever holds it can read the file until it expires.

Threat model of the upload routes: the body is the attacker's (no key is needed for a PUT, only the
ticket's URL), of any size and speed, and the event loop serves every other request (``/healthz``,
polls) meanwhile. So:

* **nothing heavy on the loop**: probing (Pillow) runs in a pool of ``probe_threads`` threads, within
  ``probe_seconds`` (then 400 naming ``file`` and the budget); storage and database calls run in
  threads too. The probe itself is bounded by ``imaging.Limits`` whatever the file.
* **bounded memory per connection**: a body is never held whole. The PUT streams it to an anonymous
  spool file under ``<data_dir>/spool`` (at most ``SPOOL_BLOCK`` bytes in memory), the probe reads
  only the header from that file, and ``Storage.put_stream`` copies it in ``COPY_CHUNK`` pieces; the
  multipart routes get a spooled part from Starlette (1 MiB in memory, the rest on disk) and do the
  same. The cap (``max_upload_bytes``) is enforced on the declared length and on the bytes received.
* **a ticket is claimed before its body is read**: the first PUT moves it to ``writing``; a second PUT
  while it is being written (or after) is a 404 at once, without reading its body. A PUT that does not
  end ``stored`` — client gone, body over the cap, no accepted image, the storage write failing with
  ENOSPC — returns the ticket to ``pending``, so it can be used again until it expires.
Oversize bodies are a 413; a body that is no accepted image is a 400 naming ``file``.
"""

from __future__ import annotations

import asyncio
import functools
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import format_datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import anyio
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

SPOOL_BLOCK = 256 * 1024  # body bytes a PUT holds in memory before writing them to its spool file
COPY_CHUNK = 1024 * 1024  # piece size of the copy from the spool file to storage
MULTIPART_SLACK = 64 * 1024  # what a multipart body may carry beyond the file (boundaries, part headers)

T = TypeVar("T")


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        f"file: {size} bytes is larger than the limit of {limit} bytes",
        extra={"field": "file", "limit": f"{limit} bytes"},
    )


class _ProbePool:
    """The bounded pool every Pillow call of this module runs in (one per process, sized by the first
    ``probe_threads`` it sees): a burst of uploads queues here instead of taking the event loop or the
    thread pool that serves storage and the database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def get(self, threads: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seqedit-probe")
            return self._pool


_PROBES = _ProbePool()


async def _in_probe_pool(settings: Any, fn: Callable[[], T], field: str = "file") -> T:
    """Run ``fn`` in the probe pool within ``settings.probe_seconds`` (queueing included), or a 400
    naming ``field`` and the budget. A probe over budget is abandoned, not killed: ``imaging.Limits``
    bounds how long it can still run."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_PROBES.get(settings.probe_threads), fn)
    try:
        async with asyncio.timeout(settings.probe_seconds):
            return await future
    except TimeoutError:
        raise ApiError(
            400,
            f"{field}: the image header could not be read within {settings.probe_seconds:g} s",
            extra={"field": field, "limit": f"{settings.probe_seconds:g} s to read the image header"},
        ) from None


async def _sniff(source: IO[bytes], settings: Any, field: str = "file") -> imaging.Probe:
    """The probe of a spooled upload, off the loop: a 400 naming ``field`` when it is no accepted image."""
    try:
        return await _in_probe_pool(
            settings,
            functools.partial(
                imaging.probe,
                source,
                field=field,
                max_bytes=settings.max_upload_bytes,
                max_pixels=settings.max_image_pixels,
            ),
            field,
        )
    except RequestError as exc:
        raise bad_input(exc) from None


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    source.seek(0)
    while chunk := source.read(COPY_CHUNK):
        yield chunk


def _spool_file(settings: Any) -> IO[bytes]:
    """An anonymous file under ``<data_dir>/spool`` (no name: nothing is left behind by a crash)."""
    folder = Path(settings.data_dir) / "spool"
    folder.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryFile(dir=folder)


async def _receive(request: Request, spool: IO[bytes], limit: int) -> int:
    """Stream the request body into ``spool``, holding at most ``SPOOL_BLOCK`` bytes; 413 past ``limit``.
    Returns the size. A client that goes away raises ``ClientDisconnect``."""
    size, pending = 0, bytearray()
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        pending += chunk
        if len(pending) >= SPOOL_BLOCK:
            await run_in_threadpool(spool.write, bytes(pending))
            pending.clear()
    if pending:
        await run_in_threadpool(spool.write, bytes(pending))
    return size


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
    """The signed, single-use, expiring PUT of a ticket (no Authorization, as the SDKs send none).

    The ticket is claimed before the body is read; the body streams to a spool file, is probed off
    the loop and copied to storage in chunks; anything short of ``stored`` hands the ticket back."""
    service = request.app.state.service
    s = service.settings
    q = request.query_params
    if not verify_path(service.secret, f"/api/v3/media/uploads/{upload_id}", q.get("expires"), q.get("sig")):
        return NOT_FOUND
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > s.max_upload_bytes:
        raise _too_large(int(declared), s.max_upload_bytes)
    row = await run_in_threadpool(service.store.take_ticket, upload_id)
    if row is None:
        return NOT_FOUND  # unknown, expired, used, or being written by another PUT right now
    stored = False
    try:
        spool = await run_in_threadpool(_spool_file, s)
        try:
            size = await _receive(request, spool, s.max_upload_bytes)
            probe = await _sniff(spool, s)
            await run_in_threadpool(service.storage.put_stream, row["object_key"], _chunks(spool))
        finally:
            await run_in_threadpool(spool.close)
        await run_in_threadpool(service.store.store_upload, upload_id, content_type=probe.mime, size=size)
        stored = True
    finally:
        if not stored:  # even when the request is being cancelled: the ticket must not stay `writing`
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(service.store.release_ticket, upload_id)
    return reply({"filename": row["filename"], "size": size, "content_type": probe.mime})


async def _binary(request: Request, key: dict) -> Response:
    """A multipart ``file`` upload: Starlette spools the part (1 MiB in memory, the rest on disk), the
    probe reads its header off the loop, storage gets it in chunks."""
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
    if int(declared) > s.max_upload_bytes + MULTIPART_SLACK:
        raise _too_large(int(declared), s.max_upload_bytes)
    form = await request.form(max_files=1, max_fields=10)
    try:
        part = form.get("file")
        if part is None or isinstance(part, str):
            raise bad_input(RequestError("file", "a multipart file part named 'file'", "is missing"))
        source = part.file
        size = await run_in_threadpool(_size, source)
        if size > s.max_upload_bytes:
            raise _too_large(size, s.max_upload_bytes)
        filename = safe_name(part.filename or "upload")
        probe = await _sniff(source, s)
        upload_id = new_id()

        def store() -> dict[str, Any]:
            object_key = f"uploads/{upload_id}/{filename}"
            service.storage.put_stream(object_key, _chunks(source))
            row: dict[str, Any] = service.store.create_upload(
                key_id=key["id"],
                object_key=object_key,
                filename=filename,
                content_type=probe.mime,
                size=size,
                state="stored",
                ticket_seconds=0,
                retention=s.retention,
                upload_id=upload_id,
            )
            return row

        row = await run_in_threadpool(store)
    finally:
        await form.close()
    return reply(_upload_reply(service, base_url(request), row))


def _size(source: IO[bytes]) -> int:
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    return size


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


@router.head(FILES_PREFIX + "{key:path}", include_in_schema=False)
@router.get(FILES_PREFIX + "{key:path}", tags=["media"])
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
