"""``seqedit serve --workers 0`` (API only) with separate ``seqedit worker`` processes on the same data
dir (rows in SQLite, or in PostgreSQL via ``SEQEDIT_DB_URL``): jobs run in the workers; a SIGKILLed
worker's job is taken over after its lease expires."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest

from fixtures.images import data_uri, png
from fixtures.server import SEQEDIT, Server

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
ENV = {"SEQEDIT_LEASE_SECONDS": "1.5", "SEQEDIT_REAPER_INTERVAL": "0.3", "SEQEDIT_TEST_PANEL_SECONDS": "0.3"}


def start_worker(server: Server) -> subprocess.Popen:
    log = (server.data_dir / f"worker-{time.monotonic_ns()}.log").open("wb")
    proc = subprocess.Popen(
        [str(SEQEDIT), "worker", "--engine", "test-slow", "--data-dir", str(server.data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **server.env},
    )
    return proc


def poll(http, pid):
    return http.get(f"/api/v3/predictions/{pid}/result").json()["data"]


def until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("rows", ["sqlite", "postgresql"])
def test_worker_processes_and_takeover_after_sigkill(tmp_path, rows, request):
    env = dict(ENV)
    if rows == "postgresql":
        pg = request.getfixturevalue("pg_server")
        if pg is None:
            pytest.skip("PostgreSQL binaries not available")
        from fixtures.postgres import fresh_database

        env["SEQEDIT_DB_URL"] = fresh_database(pg)
    server = Server(tmp_path, engine="test-slow", workers=0, **env).start()
    first = start_worker(server)
    second = None
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
            pid = http.post(
                MODEL, json={"prompt": "p", "images": [data_uri(png())], "size": "64*64", "max_images": 5}
            ).json()["data"]["id"]
            until(lambda: poll(http, pid)["progress"]["done"] >= 1)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = start_worker(server)
            until(lambda: poll(http, pid)["status"] == "completed", timeout=60)
            row = poll(http, pid)
            assert len(row["outputs"]) == 5 and all("/2/" in u for u in row["outputs"])  # the second attempt
            folder = tmp_path / "objects" / "outputs" / pid
            assert [p.name for p in folder.iterdir()] == ["2"]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)
        server.kill(signal.SIGTERM)
