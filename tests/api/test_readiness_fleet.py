"""``/readyz`` in a fleet: an API-only process is ready only while a process with the consumers role
beats somewhere (its heartbeat row in the shared database), and not while the queue cannot be
reached; a process with its own consumers is ready as soon as they run."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from fixtures.redis import redis_fixture  # noqa: F401  (the `redis` fixture)
from seqedit.api.app import create_app, make_service
from seqedit.service import API_ONLY, WORKER

from .conftest import make_settings

NO_CONSUMER = "no consumer alive: no `seqedit worker` heartbeat in the last 3 s"


def test_an_api_replica_is_ready_only_while_a_worker_beats(tmp_path):
    settings = make_settings(tmp_path, heartbeat_seconds=1.0)
    api = make_service(settings, roles=API_ONLY)
    with TestClient(create_app(api)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["checks"]["consumers"] == NO_CONSUMER
        assert body["reason"] == f"consumers: {NO_CONSUMER}"
        assert body["checks"]["database"] == body["checks"]["queue"] == body["checks"]["storage"] == "ok"

        worker = make_service(settings, roles=WORKER)  # another process on the same database
        worker.start()
        try:
            r = client.get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["checks"]["consumers"] == "ok"
            rows = {w["id"]: w for w in api.store.live_workers(10)}
            assert rows[worker.id]["roles"] == "consumers,reaper,webhooks,sweep"
            assert rows[worker.id]["concurrency"] == 1 and rows[worker.id]["engine"] == "test-fast"
            assert rows[api.id]["roles"] == "api,reaper,webhooks,sweep" and rows[api.id]["concurrency"] == 0
        finally:
            worker.stop()
        r = client.get("/readyz")  # a clean stop is seen at once, without waiting for the beat to age
        assert r.status_code == 503 and r.json()["checks"]["consumers"] == NO_CONSUMER


def test_a_worker_that_stops_beating_stops_counting(tmp_path):
    settings = make_settings(tmp_path, heartbeat_seconds=0.2)
    api = make_service(settings, roles=API_ONLY)
    api.store.heartbeat("gone", host="h", pid=1, roles="consumers,reaper", engine="test-fast", concurrency=1)
    assert api.consumers_alive() == "ok"
    deadline = time.monotonic() + 10
    while api.consumers_alive() == "ok":  # three missed beats later (0.6 s) it no longer counts
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.consumers_alive() == "no consumer alive: no `seqedit worker` heartbeat in the last 0.6 s"


def test_serve_with_its_own_consumers_is_ready_at_once(tmp_path):
    service = make_service(make_settings(tmp_path))
    with TestClient(create_app(service)) as client:
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"]["consumers"] == "ok"


def test_not_ready_while_the_redis_queue_is_down(redis, tmp_path):
    settings = make_settings(tmp_path, queue_url=redis.url)
    service = make_service(settings)
    with TestClient(create_app(service)) as client:
        assert client.get("/readyz").status_code == 200
        redis.stop()
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["queue"] == "error: the queue cannot be reached (its message count is unknown)"
        redis.start()
        assert client.get("/readyz").status_code == 200
