"""Uploads (ticket + signed single-use PUT, multipart v3/v2) and signed file serving."""

from __future__ import annotations

import struct
import time

from fastapi.testclient import TestClient

from fixtures.images import bomb_png, png
from seqedit.storage import own_key


def ticket(client, auth, **kw):
    r = client.post("/api/v3/media/uploads", json={"filename": "a.png", "size": 100, **kw}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_ticket_put_and_download(client, auth):
    t = ticket(client, auth, content_type="image/png")
    assert t["upload"]["method"] == "PUT" and t["upload"]["headers"] == {"Content-Type": "image/png"}
    assert client.get(t["download_url"]).status_code == 404  # nothing stored yet
    data = png(40, 30)
    r = client.put(t["upload"]["url"], content=data, headers={"Content-Type": "text/plain"})  # lie about the type
    assert r.status_code == 200
    f = client.get(t["download_url"])
    assert f.status_code == 200 and f.content == data and f.headers["content-type"] == "image/png"  # sniffed
    etag = f.headers["etag"]
    assert client.get(t["download_url"], headers={"If-None-Match": etag}).status_code == 304
    part = client.get(t["download_url"], headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == data[:8]
    assert client.put(t["upload"]["url"], content=data).status_code == 404  # single use


def test_put_refuses_bad_signature_and_non_images(client, auth):
    t = ticket(client, auth)
    url = t["upload"]["url"]
    assert client.put(url.replace("sig=", "sig=x"), content=png()).status_code == 404
    assert client.put(url.split("?")[0], content=png()).status_code == 404
    r = client.put(url, content=b"<html>not an image</html>")
    assert r.status_code == 400 and r.json()["field"] == "file"
    assert client.put(url, content=png()).status_code == 200  # the ticket survived the bad body


def test_oversize_and_bomb_uploads(client, auth, service):
    limit = service.settings.max_upload_bytes
    r = client.post("/api/v3/media/uploads", json={"filename": "big.png", "size": limit + 1}, headers=auth)
    assert r.status_code == 413 and str(limit) in r.json()["message"]
    t = ticket(client, auth)
    assert client.put(t["upload"]["url"], content=b"\0" * (limit + 1)).status_code == 413
    r = client.put(t["upload"]["url"], content=bomb_png())
    assert r.status_code == 400 and "pixels" in r.json()["limit"]
    r = client.post("/api/v3/media/upload/binary", files={"file": ("big.png", b"\0" * (limit + 1))}, headers=auth)
    assert r.status_code == 413


def test_binary_uploads_v3_and_v2(client, auth):
    for path in ("/api/v3/media/upload/binary", "/api/v2/media/upload/binary"):
        r = client.post(path, files={"file": ("x y.png", png(), "application/octet-stream")}, headers=auth)
        assert r.status_code == 200, r.text
        d = r.json()["data"]
        assert d["type"] == "image" and d["filename"] == "x_y.png"
        f = client.get(d["download_url"])
        assert f.status_code == 200 and f.headers["content-type"] == "image/png"
    assert client.post("/api/v3/media/upload/binary", files={"file": ("a.png", png())}).status_code == 401
    r = client.post("/api/v3/media/upload/binary", data={"other": "1"}, files={"x": ("a", b"1")}, headers=auth)
    assert r.status_code == 400 and r.json()["field"] == "file"


def test_files_need_a_valid_unexpired_signature(client, auth, service):
    d = client.post("/api/v3/media/upload/binary", files={"file": ("a.png", png())}, headers=auth).json()["data"]
    url = d["download_url"]
    key = own_key(url, service.secret)
    for bad in (
        url.split("?")[0],
        url.replace("sig=", "sig=A"),
        url.replace("/a.png", "/b.png"),
        service.storage.url(key, int(time.time()) - 5),
        "/files/uploads/x",
    ):
        r = client.get(bad)
        assert r.status_code == 404 and r.text == "Not Found", bad
        assert r.headers["content-type"].startswith("text/plain")
    assert client.get("/files/../seqedit.db").status_code == 404
    assert client.get("/files/uploads/%2e%2e/%2e%2e/seqedit.db?expires=1&sig=x").status_code == 404


def test_uploaded_file_is_used_without_http_and_only_by_its_owner(client, keys):
    a, b = ({"Authorization": f"Bearer {k}"} for k in keys)
    url = client.post("/api/v3/media/upload/binary", files={"file": ("a.png", png())}, headers=a).json()["data"][
        "download_url"
    ]
    req = {"prompt": "p", "images": [url], "size": "64*64", "max_images": 1, "enable_sync_mode": True}
    d = client.post("/api/v3/bytedance/seedream-v4/edit-sequential", json=req, headers=a).json()["data"]
    assert d["status"] == "completed"
    r = client.post("/api/v3/bytedance/seedream-v4/edit-sequential", json=req, headers=b)
    assert r.status_code == 404 and r.json()["field"] == "images[0]"


def test_files_stream_from_the_storage_port_with_ranges_and_head(client, auth):
    data = png(300, 200)
    d = client.post("/api/v3/media/upload/binary", files={"file": ("a.png", data)}, headers=auth).json()["data"]
    url = d["download_url"]
    whole = client.get(url)
    assert whole.headers["content-length"] == str(len(data)) and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["last-modified"].endswith("GMT")
    head = client.head(url)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(data))
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    assert tail.headers["content-range"] == f"bytes {len(data) - 10}-{len(data) - 1}/{len(data)}"
    rest = client.get(url, headers={"Range": f"bytes={len(data) - 3}-"})
    assert rest.status_code == 206 and rest.content == data[-3:]
    outside = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert outside.status_code == 416 and outside.headers["content-range"] == f"bytes */{len(data)}"
    several = client.get(url, headers={"Range": "bytes=0-1,5-6"})  # multi-range: the whole file (RFC 9110)
    assert several.status_code == 200 and several.content == data


# ------------------------------------------------------------------ the ticket: claimed first, handed back


def _upload_id(t) -> str:
    return t["upload"]["url"].split("?")[0].rsplit("/", 1)[-1]


def test_a_ticket_being_written_refuses_a_second_put_at_once(client, auth, service):
    t = ticket(client, auth)
    assert service.store.take_ticket(_upload_id(t)) is not None  # a PUT in flight holds the claim
    assert client.put(t["upload"]["url"], content=png()).status_code == 404
    assert service.store.release_ticket(_upload_id(t))
    assert client.put(t["upload"]["url"], content=png()).status_code == 200
    assert not service.store.release_ticket(_upload_id(t))  # stored stays stored


def test_disk_full_mid_write_returns_the_ticket_to_open(client, auth, service, monkeypatch):
    """W4: a storage write failing with ENOSPC left the ticket `writing`, then 404 forever."""
    import errno

    real = service.storage.put_stream

    def full(key, chunks):
        next(iter(chunks))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(service.storage, "put_stream", full)
    t = ticket(client, auth)
    with TestClient(client.app, raise_server_exceptions=False) as c:
        assert c.put(t["upload"]["url"], content=png(300, 200)).status_code == 500
    up = service.store.upload_by_object(own_key(t["download_url"], service.secret))
    assert up["state"] == "pending" and not service.storage.exists(up["object_key"])
    monkeypatch.setattr(service.storage, "put_stream", real)
    r = client.put(t["upload"]["url"], content=png(300, 200))
    assert r.status_code == 200 and client.get(t["download_url"]).content == png(300, 200)


def test_over_cap_and_refused_bodies_return_the_ticket_to_open(client, auth, service):
    t = ticket(client, auth)
    limit = service.settings.max_upload_bytes

    def chunked():  # no Content-Length: only the bytes received are capped
        for _ in range(limit // 65536 + 2):
            yield b"\0" * 65536

    assert client.put(t["upload"]["url"], content=chunked()).status_code == 413
    r = client.put(t["upload"]["url"], content=b"8BPS" + b"\0" * 100)
    assert r.status_code == 400 and r.json()["message"].startswith("file: format PSD is not accepted")
    assert client.put(t["upload"]["url"], content=png()).status_code == 200


def test_a_client_that_goes_away_mid_body_returns_the_ticket_to_open(client, auth, service):
    import asyncio
    from urllib.parse import urlsplit

    t = ticket(client, auth)
    url = urlsplit(t["upload"]["url"])
    messages = [
        {"type": "http.request", "body": png()[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "headers": [(b"host", b"testserver"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "app": client.app,
    }

    async def run():
        try:
            await client.app(scope, receive, send)
        except Exception:
            pass  # how Starlette reports a disconnect is its business; the ticket is ours

    asyncio.run(run())
    assert service.store.upload_by_object(own_key(t["download_url"], service.secret))["state"] == "pending"
    assert client.put(t["upload"]["url"], content=png()).status_code == 200


def test_formats_outside_the_allow_list_are_refused_on_every_upload_route(client, auth):
    psd = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 4, 4, 8, 3) + b"\0" * 200
    t = ticket(client, auth)
    r = client.put(t["upload"]["url"], content=psd)
    assert r.status_code == 400 and r.json()["field"] == "file"
    assert r.json()["message"] == "file: format PSD is not accepted (limit: JPEG, PNG, WebP, GIF, BMP or TIFF)"
    r = client.post("/api/v3/media/upload/binary", files={"file": ("a.psd", psd)}, headers=auth)
    assert r.status_code == 400 and r.json()["message"].startswith("file: format PSD is not accepted")


def test_probe_time_budget_is_a_400_naming_file(tmp_path, monkeypatch):
    from fixtures.images import png as _png
    from seqedit import imaging
    from seqedit.api.app import create_app, make_service

    from .conftest import make_settings

    service = make_service(make_settings(tmp_path, probe_seconds=0.2))
    key, _ = service.store.create_key("a")
    real = imaging.probe

    def slow(*args, **kw):
        time.sleep(0.6)
        return real(*args, **kw)

    monkeypatch.setattr(imaging, "probe", slow)
    with TestClient(create_app(service)) as c:
        r = c.post(
            "/api/v3/media/upload/binary", files={"file": ("a.png", _png())}, headers={"Authorization": f"Bearer {key}"}
        )
    assert (
        r.status_code == 400 and r.json()["field"] == "file" and r.json()["limit"] == "0.2 s to read the image header"
    )
