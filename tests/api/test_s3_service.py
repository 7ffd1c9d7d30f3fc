"""The service with its files in S3 (``SEQEDIT_STORAGE_URL=s3://…`` on a real SeaweedFS server): uploads
and outputs land in the bucket, clients get presigned bucket URLs (or, with ``SEQEDIT_STORAGE_PROXY=1``,
our own ``/files`` URLs streamed from the bucket), a presigned URL of ours handed back is read from the
bucket and must be the caller's, ``/readyz`` asks the bucket, retention deletes from it; and a real
``seqedit serve`` runs a classic-engine job whose outputs download from the bucket and decode."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.conftest import make_settings, wait_status
from fixtures.images import png
from fixtures.s3 import Relay
from fixtures.server import SEQEDIT, Server
from seqedit.api.app import create_app, make_service
from seqedit.storage import S3Storage

MODEL = "bytedance/seedream-v4/edit-sequential"


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The ``AWS_*`` variables of the test server in this process's environment (the service reads them)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


def s3_app(tmp_path, s3, **kw):
    url = s3.url()
    service = make_service(make_settings(tmp_path, storage_url=url, **kw))
    assert isinstance(service.storage, S3Storage)
    return service


def keyed(service):
    a, _ = service.store.create_key("a")
    b, _ = service.store.create_key("b")
    return {"Authorization": f"Bearer {a}"}, {"Authorization": f"Bearer {b}"}


def test_outputs_are_presigned_bucket_urls_and_retention_deletes_them(tmp_path, s3_env):
    service = s3_app(tmp_path, s3_env)
    a, _ = keyed(service)
    with TestClient(create_app(service)) as client:
        up = client.post("/api/v3/media/upload/binary", files={"file": ("ref.png", png(64, 48))}, headers=a)
        ref = up.json()["data"]["download_url"]
        assert ref.startswith(s3_env.endpoint + "/seqedit/") and "X-Amz-Signature=" in ref
        got = httpx.get(ref, timeout=30)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(got.content)).size == (64, 48)
        r = client.post(f"/api/v3/{MODEL}", json={"prompt": "two views", "images": [ref], "max_images": 2}, headers=a)
        pid = r.json()["data"]["id"]
        data = wait_status(client, pid, a)
        assert data["status"] == "completed", data
        assert len(data["outputs"]) == 2
        for out in data["outputs"]:
            assert out.startswith(s3_env.endpoint + "/seqedit/") and f"/outputs/{pid}/" in out
            r = httpx.get(out, timeout=30)
            assert r.status_code == 200 and r.content
        row = service.store.get(pid)
        assert all(service.storage.exists(k) for k in row["outputs"])
        preds, _ups = service.sweep(now=time.time() + service.settings.retention + 60)
        assert preds == 1
        assert not any(service.storage.exists(k) for k in row["outputs"])
        assert httpx.get(data["outputs"][0], timeout=30).status_code == 404  # gone from the bucket itself


def test_our_presigned_upload_url_is_read_from_the_bucket_and_only_by_its_owner(tmp_path, s3_env):
    """With the SSRF guard letting nothing through (no allow_hosts), an http fetch of the loopback
    bucket would be refused at submit: a job that completes read its reference from the bucket."""
    service = s3_app(tmp_path, s3_env, allow_hosts="")
    a, b = keyed(service)
    with TestClient(create_app(service)) as client:
        up = client.post("/api/v3/media/upload/binary", files={"file": ("ref.png", png(64, 48))}, headers=a)
        ref = up.json()["data"]["download_url"]
        body = {"prompt": "one view", "images": [ref], "max_images": 1}
        r = client.post(f"/api/v3/{MODEL}", json=body, headers=a)
        assert r.status_code == 200, r.text
        assert wait_status(client, r.json()["data"]["id"], a)["status"] == "completed"
        r = client.post(f"/api/v3/{MODEL}", json=body, headers=b)  # another key's file
        assert r.status_code == 404 and "images[0]" in r.text
        other = urlsplit(ref)._replace(path=urlsplit(ref).path.replace("/uploads/", "/outputs/")).geturl()
        assert client.post(f"/api/v3/{MODEL}", json={**body, "images": [other]}, headers=a).status_code == 404


def test_proxy_mode_serves_the_bucket_through_files(tmp_path, s3_env):
    service = s3_app(tmp_path, s3_env, storage_proxy=True)
    a, _ = keyed(service)
    data = png(64, 48)
    with TestClient(create_app(service)) as client:
        up = client.post("/api/v3/media/upload/binary", files={"file": ("ref.png", data)}, headers=a)
        url = up.json()["data"]["download_url"]
        assert url.startswith("http://testserver/files/uploads/")
        key = urlsplit(url).path.removeprefix("/files/")
        assert service.storage.get(key) == data  # in the bucket, not on local disk
        assert not (tmp_path / "objects").exists()
        r = client.get(url)
        assert r.status_code == 200 and r.content == data and r.headers["content-type"] == "image/png"
        etag = r.headers["etag"]
        part = client.get(url, headers={"Range": "bytes=0-7"})
        assert part.status_code == 206 and part.content == data[:8]
        assert part.headers["content-range"] == f"bytes 0-7/{len(data)}"
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert client.head(url).headers["content-length"] == str(len(data))
        assert client.get(url.replace("sig=", "sig=0")).status_code == 404
        r = client.post(f"/api/v3/{MODEL}", json={"prompt": "x", "images": [url], "max_images": 1}, headers=a)
        done = wait_status(client, r.json()["data"]["id"], a)
        assert done["status"] == "completed" and done["outputs"][0].startswith("http://testserver/files/outputs/")
        assert client.get(done["outputs"][0]).status_code == 200


def test_readyz_asks_the_bucket(tmp_path, s3_env, monkeypatch):
    with TestClient(create_app(s3_app(tmp_path / "up", s3_env))) as client:
        r = client.get("/readyz")
        assert r.json()["checks"]["storage"] == "ok", r.text
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    with TestClient(create_app(s3_app(tmp_path / "down", s3_env))) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert "storage: error: s3://seqedit/" in r.json()["reason"] and "does not answer" in r.json()["reason"]


def test_serve_refuses_an_s3_url_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["SEQEDIT_STORAGE_URL"] = "s3://seqedit/x"
    r = subprocess.run(
        [str(SEQEDIT), "serve", "--port", "1", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_classic_job_through_serve_with_its_files_in_s3(tmp_path, s3_server):
    from seqedit.engines import names

    if "classic" not in names():
        pytest.skip("the classic engine is not available")
    from wavespeed import Client

    url = s3_server.url()
    server = Server(tmp_path, engine="classic", SEQEDIT_STORAGE_URL=url, **s3_server.env).start()
    try:
        assert httpx.get(f"{server.url}/readyz", timeout=30).json()["checks"]["storage"] == "ok"
        client = Client(api_key=server.key, base_url=server.url)
        ref = tmp_path / "ref.png"
        ref.write_bytes(png(320, 240, (180, 120, 60)))
        uploaded = client.upload(str(ref))
        assert uploaded.startswith(s3_server.endpoint)
        result = client.run(
            MODEL,
            {
                "prompt": "a series of 2 images: in black and white, and in warm sunset light",
                "images": [uploaded],
                "size": "320*256",
                "max_images": 2,
            },
            poll_interval=0.2,
            timeout=240,
        )
        assert len(result["outputs"]) == 2
        for out in result["outputs"]:
            assert out.startswith(s3_server.endpoint + "/seqedit/") and "X-Amz-Signature=" in out
            assert Image.open(io.BytesIO(httpx.get(out, timeout=30).content)).size == (320, 256)
    finally:
        server.kill(signal.SIGTERM)
    assert not list((tmp_path).glob("objects/outputs/*"))  # nothing on local disk


def test_the_playground_may_show_and_fetch_presigned_outputs(tmp_path, s3_env):
    """The page's CSP allows the bucket's origin for images and fetches when outputs are presigned, and
    stays 'self' only when files go through /files."""
    with TestClient(create_app(s3_app(tmp_path / "presigned", s3_env))) as client:
        csp = client.get("/").headers["content-security-policy"]
        assert (
            f"img-src 'self' {s3_env.endpoint} blob: data:" in csp and f"connect-src 'self' {s3_env.endpoint};" in csp
        )
    with TestClient(create_app(s3_app(tmp_path / "proxied", s3_env, storage_proxy=True))) as client:
        csp = client.get("/").headers["content-security-policy"]
        assert "img-src 'self' blob: data:;" in csp and "connect-src 'self';" in csp


def test_a_job_that_finds_the_bucket_gone_is_retried_and_completes_when_it_is_back(tmp_path, s3_env, monkeypatch):
    """The service reaches S3 through a relay; with the relay cut the job's reference read fails with a
    network error, which hands the attempt back (a transient fault, not a failed job); with the relay
    listening again the retry completes."""
    with Relay(s3_env.endpoint) as relay:
        monkeypatch.setenv("AWS_ENDPOINT_URL", relay.endpoint)
        service = s3_app(tmp_path, s3_env, retry_delay=0.2, max_attempts=6)
        a, _ = keyed(service)
        with TestClient(create_app(service)) as client:
            up = client.post("/api/v3/media/upload/binary", files={"file": ("ref.png", png(64, 48))}, headers=a)
            ref = up.json()["data"]["download_url"]
            relay.cut()
            r = client.post(f"/api/v3/{MODEL}", json={"prompt": "x", "images": [ref], "max_images": 1}, headers=a)
            pid = r.json()["data"]["id"]
            deadline = time.monotonic() + 60  # a hang guard: the first attempt fails within seconds
            while service.store.get(pid)["attempt"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            row = service.store.get(pid)
            assert row["attempt"] >= 2 and row["status"] != "failed", row
            relay.resume()
            data = wait_status(client, pid, a, timeout=60)
            assert data["status"] == "completed", data
            assert service.storage.exists(service.store.get(pid)["outputs"][0])
