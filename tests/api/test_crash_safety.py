"""Crash safety: SIGKILL a real ``seqedit serve`` at random points while jobs run, restart, repeat.

Every accepted job must end completed exactly once (one committed output set of N files) or failed
with a code; none is lost or stuck.
"""

from __future__ import annotations

import random
import signal
import time

import httpx
import pytest

from fixtures.images import data_uri, png
from fixtures.server import Server

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
KILLS = 10


@pytest.mark.slow
def test_sigkill_loop_loses_nothing_and_commits_once(tmp_path):
    rng = random.Random(1234)
    env = {"SEQEDIT_TEST_PANEL_SECONDS": "0.15", "SEQEDIT_REAPER_INTERVAL": "0.5", "SEQEDIT_LEASE_SECONDS": "3"}
    accepted: dict[str, int] = {}
    key = None
    ref = data_uri(png())
    kills_while_running = 0
    for round_ in range(KILLS + 1):
        server = Server(tmp_path, engine="test-slow", workers=2, **env).start()
        key = key or server.key
        server.key = key
        if round_ == KILLS:
            break
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
            for _ in range(rng.randint(1, 3)):
                n = rng.randint(1, 4)
                r = http.post(MODEL, json={"prompt": "p", "images": [ref], "size": "64*64", "max_images": n})
                assert r.status_code == 200, r.text
                accepted[r.json()["data"]["id"]] = n
            time.sleep(rng.uniform(0.05, 0.9))
            running = http.post("/api/v3/predictions", json={"status": "processing"}).json()["data"]["total"]
            kills_while_running += running > 0
        server.kill(signal.SIGKILL)
    assert kills_while_running >= KILLS // 2, "the kills should land while jobs run"

    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
            deadline = time.monotonic() + 90
            while True:
                rows = {pid: http.get(f"/api/v3/predictions/{pid}/result").json()["data"] for pid in accepted}
                if all(r["status"] in ("completed", "failed") for r in rows.values()):
                    break
                assert time.monotonic() < deadline, {p: r["status"] for p, r in rows.items()}
                time.sleep(0.2)
            total = http.post("/api/v3/predictions", json={"page_size": 100}).json()["data"]
            assert all(item["status"] in ("completed", "failed") for item in total["items"])  # none stuck
            completed = 0
            for pid, row in rows.items():
                if row["status"] == "failed":
                    assert row["code"] == 5000 and "worker lost" in row["error"], row
                    assert row["outputs"] == []
                    continue
                completed += 1
                n = accepted[pid]
                assert len(row["outputs"]) == n and row["progress"] == {"done": n, "total": n, "fraction": 1.0}
                # exactly one committed output set on disk: one attempt folder with N files
                folder = tmp_path / "objects" / "outputs" / pid
                attempts = [p for p in folder.iterdir()]
                assert len(attempts) == 1, attempts
                assert sorted(p.name for p in attempts[0].iterdir()) == [f"{i}.jpg" for i in range(n)]
                for url in row["outputs"]:
                    assert f"/outputs/{pid}/{attempts[0].name}/" in url
                    assert httpx.get(url).status_code == 200
            assert completed >= len(accepted) // 2
    finally:
        server.kill(signal.SIGTERM)


def test_sigterm_hands_running_jobs_back_without_burning_an_attempt(tmp_path):
    env = {"SEQEDIT_TEST_PANEL_SECONDS": "0.3", "SEQEDIT_MAX_ATTEMPTS": "1"}
    server = Server(tmp_path, engine="test-slow", **env).start()
    key = server.key
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
        pid = http.post(
            MODEL, json={"prompt": "p", "images": [data_uri(png())], "size": "64*64", "max_images": 6}
        ).json()["data"]["id"]
        deadline = time.monotonic() + 20
        while http.get(f"/api/v3/predictions/{pid}/result").json()["data"]["progress"]["done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    server.kill(signal.SIGTERM)  # a clean stop mid-job
    server = Server(tmp_path, engine="test-slow", **env).start()
    server.key = key
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
            deadline = time.monotonic() + 30
            while (row := http.get(f"/api/v3/predictions/{pid}/result").json()["data"])["status"] == "processing":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert row["status"] == "completed" and len(row["outputs"]) == 6  # not "worker lost"
            assert all("/2/" in u for u in row["outputs"])
    finally:
        server.kill(signal.SIGTERM)
