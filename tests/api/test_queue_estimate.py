"""Scheduling as a client sees it: per-key fairness (one key's burst of 30 does not hold another key's
single job for more than the job running when it arrived), and ``queue_position`` / ``eta_seconds``
in the prediction object while a job waits — 0 or 1 for the other key's job, positive and falling as
the queue drains for the burst's last job, absent once it runs. Our SDK's ``Prediction`` reads them
(the official ``wavespeed`` SDK reads ``data`` with ``.get``, so extra fields pass it by: its tests in
``tests/api/test_sdk.py`` poll queued jobs)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from fixtures.images import data_uri, png
from seqedit.api.app import create_app, make_service
from seqedit.sdk.types import Prediction
from seqedit.service import API_ONLY

from .conftest import make_settings

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
BODY = {"prompt": "p", "images": [data_uri(png())], "size": "64*64", "max_images": 1}


def poll(client, pid, auth) -> dict:
    r = client.get(f"/api/v3/predictions/{pid}/result", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_a_second_keys_job_is_next_and_waiting_jobs_carry_a_falling_eta(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.1")
    service = make_service(make_settings(tmp_path, engine="test-slow", workers=1, heartbeat_seconds=1))
    keys = [service.store.create_key(name)[0] for name in ("a", "b", "c")]
    a, b, c = ({"Authorization": f"Bearer {k}"} for k in keys)
    with TestClient(create_app(service)) as client:
        warm = [client.post(MODEL, json=BODY, headers=c).json()["data"]["id"] for _ in range(3)]
        deadline = time.monotonic() + 60
        while any(poll(client, i, c)["status"] != "completed" for i in warm):  # a recent duration to go by
            assert time.monotonic() < deadline
            time.sleep(0.05)
        service._figures = None  # drop the fleet figures cached before any job had completed

        burst = [client.post(MODEL, json=BODY, headers=a).json()["data"]["id"] for _ in range(30)]
        single = client.post(MODEL, json=BODY, headers=b).json()["data"]["id"]
        single_waiting: list[tuple[int, float]] = []
        last_waiting: dict[int, float] = {}  # the burst's last job: position -> the ETA first seen there
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "the queue did not drain"
            seen = poll(client, single, b)
            if seen["status"] == "created":
                single_waiting.append((seen["queue_position"], seen["eta_seconds"]))
            else:
                assert "queue_position" not in seen and "eta_seconds" not in seen
            last = poll(client, burst[-1], a)
            if last["status"] != "created":
                assert "queue_position" not in last
                break
            last_waiting.setdefault(last["queue_position"], last["eta_seconds"])
            time.sleep(0.02)
        while poll(client, burst[-1], a)["status"] != "completed":
            assert time.monotonic() < deadline, "the burst's last job did not complete"
            time.sleep(0.05)

    rows = {pid: service.store.get(pid) for pid in [*burst, single]}
    assert all(r["status"] == "completed" for r in rows.values())
    mine = rows[single]
    overtaken_by = [p for p in burst if mine["created_at"] <= rows[p]["started_at"] < mine["started_at"]]
    assert len(overtaken_by) <= 1, len(overtaken_by)  # at most the job already running when it arrived... or none
    assert all(position in (0, 1) and eta > 0 for position, eta in single_waiting), single_waiting

    positions = sorted(last_waiting, reverse=True)
    assert len(positions) >= 5, last_waiting  # it was seen waiting at many places in the queue
    etas = [last_waiting[p] for p in positions]
    assert all(eta is not None and eta > 0 for eta in etas), etas
    assert all(later <= earlier for earlier, later in zip(etas, etas[1:], strict=False)), list(
        zip(positions, etas, strict=True)
    )


def test_no_eta_without_a_recent_job_or_a_live_consumer(tmp_path):
    service = make_service(make_settings(tmp_path), roles=API_ONLY)
    token, _ = service.store.create_key("a")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(service)) as client:
        first = client.post(MODEL, json=BODY, headers=auth).json()["data"]
        assert first["status"] == "created" and first["queue_position"] == 0 and first["eta_seconds"] is None
        second = poll(client, client.post(MODEL, json=BODY, headers=auth).json()["data"]["id"], auth)
        assert second["queue_position"] == 1 and second["eta_seconds"] is None
        # a job completed recently, but still no consumer anywhere: nothing would run it
        service.store.heartbeat("w", host="h", pid=1, roles="consumers", concurrency=2)
        service._figures = None  # the cached fleet figures (1 s)
        assert poll(client, first["id"], auth)["eta_seconds"] is None  # no completed job yet
        assert Prediction.from_json(second).queue_position == 1


@pytest.mark.parametrize(
    ("position", "running", "slots", "eta"),
    [(0, 0, 1, 2.0), (0, 1, 1, 4.0), (3, 1, 1, 10.0), (3, 1, 2, 5.0), (0, 1, 4, 2.0), (5, 3, 4, 4.5)],
)
def test_the_eta_counts_whole_jobs_over_the_live_slots(tmp_path, position, running, slots, eta):
    """m × (max(0, p + r − s + 1) / s + 1) with the recent median m = 2 s."""
    service = make_service(make_settings(tmp_path), roles=API_ONLY)
    service.store.queue_position = lambda _id: position  # type: ignore[method-assign]
    service.store.running_count = lambda now=None: running  # type: ignore[method-assign]
    service._fleet_figures = lambda: (2.0, slots, running)  # type: ignore[method-assign]
    assert service.estimate({"id": "x", "status": "created"}) == (position, eta)
    assert service.estimate({"id": "x", "status": "processing"}) is None


def test_our_sdk_reads_the_extensions():
    sdk = Prediction.from_json({"id": "x", "status": "created", "queue_position": 3, "eta_seconds": 12.5})
    assert (sdk.queue_position, sdk.eta_seconds) == (3, 12.5)
    assert Prediction.from_json({"id": "x", "status": "completed"}).eta_seconds is None
