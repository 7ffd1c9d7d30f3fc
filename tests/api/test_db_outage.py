"""The database goes away under a real ``seqedit serve`` (rows in a real PostgreSQL that the test stops
and starts again): every API route answers 503 with the WaveSpeed error body and ``Retry-After``, never
a 500; a refused submit leaves nothing behind; once the database is back, new submits work and every
prediction accepted before the outage completes."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from fixtures.images import data_uri, png
from fixtures.postgres import controllable_postgres, fresh_database
from fixtures.server import Server
from seqedit.api.outage import MESSAGE, RETRY_AFTER
from seqedit.api.wavespeed import SYNC_OUTAGE
from seqedit.jobs.store import Store

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
ENV = {
    "SEQEDIT_TEST_PANEL_SECONDS": "0.3",
    "SEQEDIT_LEASE_SECONDS": "2",
    "SEQEDIT_REAPER_INTERVAL": "0.3",
    "SEQEDIT_RETRY_DELAY": "0.5",
}


@pytest.fixture
def postgres():
    with controllable_postgres() as server:
        if server is None:
            pytest.skip("PostgreSQL binaries not available")
        yield server


def files(folder) -> set[str]:
    return {os.path.join(d, f) for d, _, names in os.walk(folder) for f in names}


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.headers["retry-after"] == str(RETRY_AFTER)
    assert r.json() == {"code": 503, "message": MESSAGE, "data": None, "error": MESSAGE}


def test_api_answers_503_while_postgresql_is_down_and_loses_nothing(tmp_path, postgres):
    db_url = fresh_database(postgres.url)
    server = Server(tmp_path / "data", engine="test-slow", SEQEDIT_DB_URL=db_url, **ENV).start()
    store = Store(db_url)
    unseen, _ = store.create_key("never used before the outage")  # not in the server's key cache
    store.close()
    body = {"prompt": "p", "images": [data_uri(png())], "size": "64*64", "max_images": 3}
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
            accepted = [http.post(MODEL, json=body).json()["data"]["id"] for _ in range(4)]
            deadline = time.monotonic() + 30
            while http.get(f"/api/v3/predictions/{accepted[0]}/result").json()["data"]["status"] != "processing":
                assert time.monotonic() < deadline, "the first job never started"
                time.sleep(0.05)
            # a sync request that is waiting (its job queued behind the four) when the database goes
            sync_answer: list[httpx.Response] = []
            waiter = threading.Thread(
                target=lambda: sync_answer.append(
                    httpx.post(
                        server.url + MODEL, json={**body, "enable_sync_mode": True}, headers=server.headers, timeout=60
                    )
                )
            )
            waiter.start()
            while http.post("/api/v3/predictions", json={"page": 1, "page_size": 1}).json()["data"]["total"] < 5:
                assert time.monotonic() < deadline, "the sync submit was never accepted"
                time.sleep(0.05)
            objects = files(server.data_dir / "objects")

            postgres.stop()  # one job running, four queued, one sync request waiting
            waiter.join(timeout=30)
            (answer,) = sync_answer  # accepted before the outage: not a 503 (a retry would duplicate it)
            assert answer.status_code == 200, answer.text
            waited = answer.json()["data"]
            assert (waited["status"], waited["code"], waited["error"]) == ("processing", 5004, SYNC_OUTAGE)
            accepted.append(waited["id"])
            for request in (
                lambda: http.post(MODEL, json=body),  # submit (inline image: stored, then the row fails)
                lambda: http.post(MODEL, json={**body, "enable_sync_mode": True}),
                lambda: http.get(f"/api/v3/predictions/{accepted[1]}/result"),  # poll
                lambda: http.get(f"/api/v3/predictions/{accepted[1]}"),
                lambda: http.post("/api/v3/predictions", json={"page": 1, "page_size": 10}),  # history
                lambda: http.post(f"/api/v3/predictions/{accepted[3]}/cancel"),
                lambda: http.get("/metrics"),
            ):
                assert_unavailable(request())
            # a key the server has not cached: the key lookup itself meets the outage
            other = {"Authorization": f"Bearer {unseen}"}
            assert_unavailable(http.get(f"/api/v3/predictions/{accepted[1]}/result", headers=other))
            assert_unavailable(http.post(MODEL, json=body, headers=other))
            assert_unavailable(http.get("/api/v3/webhook/secret", headers=other))
            assert http.get("/healthz").status_code == 200  # the process is alive
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error")
            assert files(server.data_dir / "objects") - objects == set()  # refused submits stored nothing

            postgres.start()
            deadline = time.monotonic() + 30
            while (r := http.post(MODEL, json=body)).status_code != 200:  # the pool reconnects
                assert_unavailable(r)
                assert time.monotonic() < deadline, "submits never worked again"
                time.sleep(0.2)
            accepted.append(r.json()["data"]["id"])

            deadline = time.monotonic() + 90
            rows = {}
            while len(rows) < len(accepted):
                for pid in accepted:
                    row = http.get(f"/api/v3/predictions/{pid}/result").json()["data"]
                    if row["status"] in ("completed", "failed", "cancelled"):
                        rows[pid] = row
                assert time.monotonic() < deadline, {p: r["status"] for p, r in rows.items()}
                time.sleep(0.2)
            history = http.post("/api/v3/predictions", json={"page": 1, "page_size": 100}).json()["data"]
    finally:
        server.kill(signal.SIGTERM)
    assert {pid: row["status"] for pid, row in rows.items()} == dict.fromkeys(accepted, "completed")
    assert all(len(row["outputs"]) == 3 for row in rows.values())
    assert history["total"] == len(accepted)  # no refused submit left a row behind
    log = server.log()
    assert " status=503 " in log and " status=500 " not in log  # the access lines: 503s, never a 500
    assert "database unavailable: answering 503" in log
