from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

import fixtures.engines  # noqa: F401  (registers the test engines)
from seqedit.api.app import create_app, make_service
from seqedit.config import Settings


def make_settings(tmp_path, **kw):
    base = dict(
        data_dir=tmp_path,
        engine="test-fast",
        lease_seconds=5,
        reaper_interval=1,
        sync_timeout=10,
        allow_hosts="127.0.0.1,localhost",
        webhook_backoff=0.2,
        max_upload_bytes=2_000_000,
        max_image_pixels=4_000_000,
        public_url="http://testserver",
        max_request_bytes=4_000_000,
    )
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def service(tmp_path):
    return make_service(make_settings(tmp_path))


@pytest.fixture
def client(service):
    with TestClient(create_app(service)) as c:
        yield c


@pytest.fixture
def keys(service):
    a, _ = service.store.create_key("a")
    b, _ = service.store.create_key("b")
    return a, b


@pytest.fixture
def auth(keys):
    return {"Authorization": f"Bearer {keys[0]}"}


def wait_status(client, pid, headers, statuses=("completed", "failed", "cancelled"), timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v3/predictions/{pid}/result", headers=headers)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        if data["status"] in statuses or time.monotonic() > deadline:
            return data
        time.sleep(0.02)
