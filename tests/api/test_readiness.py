"""``/readyz`` while the disk is full or unwritable, and a job that meets the full disk: it is retried
(not failed 5000) and completes once space returns, while readiness says why it is not ready."""

from __future__ import annotations

import collections
import errno
import time

import pytest
from fastapi.testclient import TestClient

from fixtures.disk import small_disk
from fixtures.images import png
from seqedit.api import ops
from seqedit.api.app import create_app, make_service
from seqedit.api.ops import StorageCheck

from .conftest import make_settings, wait_status

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
_Usage = collections.namedtuple("_Usage", "total used free")


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", size="4m") as d:
        yield d


def fake_full(disk, monkeypatch, storage=None):
    """Where no tmpfs can be mounted: the disk's folder reports no free space and ``storage`` refuses
    writes with ENOSPC while ``disk.full`` (what the kernel does on a real tmpfs)."""
    if disk.real:
        return
    usage = ops.shutil.disk_usage

    def disk_usage(path):
        found = usage(path)
        return _Usage(found.total, found.used, 0) if disk.full and str(path).startswith(str(disk.path)) else found

    monkeypatch.setattr(ops.shutil, "disk_usage", disk_usage)
    if storage is not None:
        put = storage.put

        def put_unless_full(key, data):
            if disk.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            put(key, data)

        monkeypatch.setattr(storage, "put", put_unless_full)


def test_ready_lists_every_check(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and "reason" not in body
    assert body["checks"] == {"database": "ok", "queue": "ok", "consumers": "ok", "storage": "ok"}


def test_a_full_disk_makes_the_job_wait_and_readiness_say_why(tmp_path, disk, monkeypatch):
    settings = make_settings(
        tmp_path / "data",
        storage_url=f"file://{disk.path}/objects",
        min_free_bytes=512 * 1024,
        retry_delay=0.3,  # backoffs 0.3, 0.6, 1.2 s
        max_attempts=4,
        reaper_interval=0.2,
    )
    service = make_service(settings)
    token, _ = service.store.create_key("a")
    auth = {"Authorization": f"Bearer {token}"}
    fake_full(disk, monkeypatch, service.storage)
    with TestClient(create_app(service)) as client:
        assert client.get("/readyz").status_code == 200
        up = client.post("/api/v3/media/upload/binary", files={"file": ("a.png", png())}, headers=auth)
        image = up.json()["data"]["download_url"]  # stored before the disk fills: the job writes nothing else
        disk.fill()
        time.sleep(ops.CACHE_SECONDS + 0.05)
        r = client.get("/readyz")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
        assert body["checks"]["storage"].startswith(f"error: {disk.path}/objects has ")
        assert "free, less than min_free_bytes (512.0 KiB)" in body["reason"]

        body = {"prompt": "a series of 2 images", "images": [image], "size": "128*64", "max_images": 2}
        pid = client.post(MODEL, json=body, headers=auth).json()["data"]["id"]
        deadline = time.monotonic() + 20
        while "disk full" not in service.store.get(pid)["error"] and time.monotonic() < deadline:
            time.sleep(0.05)
        row = service.store.get(pid)
        assert row["status"] == "processing" and "disk full (ENOSPC" in row["error"], row
        time.sleep(0.6)  # a backoff and reaper passes later: retried, still waiting for space, not failed
        data = wait_status(client, pid, auth, timeout=0.1)
        assert data["status"] == "processing" and data["error"] == ""

        disk.free()
        data = wait_status(client, pid, auth, timeout=20)
        row = service.store.get(pid)
        assert data["status"] == "completed" and len(data["outputs"]) == 2, (data, row)
        assert row["attempt"] >= 2 and row["error"] == ""
        time.sleep(ops.CACHE_SECONDS + 0.05)
        assert client.get("/readyz").status_code == 200


def test_storage_check_names_the_fault_of_each_folder(tmp_path, disk, monkeypatch):
    fake_full(disk, monkeypatch)
    check = StorageCheck([tmp_path, disk.path], min_free=0, ttl=0)
    assert check.result() == "ok"
    disk.fill()
    if disk.real:  # the write probe itself meets the full disk
        assert check.result() == f"error: {disk.path} is not writable (ENOSPC: No space left on device)"
    assert StorageCheck([disk.path], min_free=1, ttl=0).result().startswith(f"error: {disk.path} has 0 B free")
    gone = tmp_path / "gone"
    assert StorageCheck([gone], min_free=0, ttl=0).result() == (
        f"error: {gone} cannot be read (ENOENT: No such file or directory)"
    )
    disk.free()
    assert check.result() == "ok"
    assert not [p for p in disk.path.iterdir() if p.name.startswith(".readyz")]  # probes cleaned up


def test_storage_check_is_cached(tmp_path, monkeypatch):
    calls = []
    check = StorageCheck([tmp_path], min_free=0, ttl=0.3)
    real = check._check
    monkeypatch.setattr(check, "_check", lambda: calls.append(1) or real())
    for _ in range(20):
        assert check.result() == "ok"
    assert len(calls) == 1
    time.sleep(0.35)
    check.result()
    assert len(calls) == 2
