"""Uploads (ticket + signed single-use PUT, multipart v3/v2) and signed file serving."""

from __future__ import annotations

import time

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
