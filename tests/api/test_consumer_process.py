"""``seqedit serve`` runs its consumers in a child process (``jobs.child``), as a user starts it: one
command, one data dir. The jobs run in the child, not in the API process; a killed child is
restarted and the job it held completes once; a cancel reaches a running job through the socket;
SIGTERM stops both, handing the running job back without spending an attempt; a SIGKILLed serve
leaves no orphan; ``--inline-consumers`` keeps the old one-process layout."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from fixtures.images import data_uri, png
from fixtures.server import Server
from seqedit.jobs import child

pytestmark = pytest.mark.skipif(not child.supported(), reason="consumer processes need Linux")

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def consumer_pid(server: Server, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in children(server.proc.pid) if "_consumers" in cmdline(p)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no consumer process under serve:\n{server.log()}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(")")[1].split()[0] != "Z"


def submit(server: Server, n: int = 1, **extra) -> str:
    body = {"prompt": "panels", "images": [data_uri(png())], "size": "64*64", "max_images": n, **extra}
    r = httpx.post(server.url + MODEL, json=body, headers=server.headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]["id"]


def result(server: Server, pid: str) -> dict:
    r = httpx.get(f"{server.url}/api/v3/predictions/{pid}/result", headers=server.headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def wait_status(server: Server, pid: str, statuses: set[str], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = result(server, pid)
        if data["status"] in statuses:
            return data
        time.sleep(0.05)
    raise AssertionError(f"{pid} never reached {statuses}: {data}\n{server.log()}")


def attempt(data_dir: Path, pid: str) -> tuple[int, int]:
    from seqedit.jobs.store import Store

    store = Store(f"sqlite:///{data_dir / 'seqedit.db'}")
    try:
        row = store.get(pid)
        return row["attempt"], row["releases"]
    finally:
        store.close()


def test_jobs_run_in_the_consumer_process_and_sync_mode_sees_them(tmp_path):
    server = Server(tmp_path / "d").start()
    try:
        child_pid = consumer_pid(server)
        r = httpx.post(
            server.url + MODEL,
            json={
                "prompt": "two",
                "images": [data_uri(png())],
                "size": "64*64",
                "max_images": 2,
                "enable_sync_mode": True,
            },
            headers=server.headers,
            timeout=60,
        )
        data = r.json()["data"]
        assert data["status"] == "completed" and len(data["outputs"]) == 2, data
        assert httpx.get(data["outputs"][1], timeout=10).status_code == 200
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        log = server.log()
        # the job ran in the child: its "job started" line carries the child's pid in the workers table
        from seqedit.jobs.store import Store

        store = Store(f"sqlite:///{tmp_path / 'd' / 'seqedit.db'}")
        try:
            live = {w["pid"]: w["roles"] for w in store.live_workers(60)}
        finally:
            store.close()
        assert live.get(child_pid) == "consumers", live
        assert "consumers" not in live.get(server.proc.pid, "").split(","), live
        assert "consumer process started" in log
    finally:
        server.kill(signal.SIGTERM)


def test_a_killed_consumer_process_is_restarted_and_its_job_completes_once(tmp_path):
    # the default 30 s lease and 10 s reaper: the job comes back at once because serve voids the dead
    # child's leases, not because they ran out (the wait below would time out first)
    server = Server(tmp_path / "d", engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="0.3").start()
    try:
        first = consumer_pid(server)
        pid = submit(server, n=3)
        wait_status(server, pid, {"processing"})
        os.kill(first, signal.SIGKILL)
        data = wait_status(server, pid, {"completed", "failed"}, timeout=20)
        assert data["status"] == "completed" and len(data["outputs"]) == 3, data
        second = consumer_pid(server)
        assert second != first and alive(second)
        assert "the consumer process exited; restarting it" in server.log()
        assert "1 lease(s) voided, 1 job(s) re-enqueued" in server.log()
        attempts, releases = attempt(tmp_path / "d", pid)
        assert attempts - releases == 2  # the killed attempt, then the one that completed
        later = submit(server)
        assert wait_status(server, later, {"completed"})["status"] == "completed"
    finally:
        server.kill(signal.SIGTERM)


def test_a_cancel_reaches_a_job_running_in_the_consumer_process(tmp_path):
    server = Server(tmp_path / "d", engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="30").start()
    try:
        consumer_pid(server)
        pid = submit(server)
        wait_status(server, pid, {"processing"})
        r = httpx.post(f"{server.url}/api/v3/predictions/{pid}/cancel", headers=server.headers, timeout=30)
        assert r.status_code == 200
        assert wait_status(server, pid, {"cancelled", "failed", "completed"}, timeout=20)["status"] == "cancelled"
    finally:
        server.kill(signal.SIGTERM)


def test_sigterm_stops_both_and_hands_the_running_job_back(tmp_path):
    server = Server(tmp_path / "d", engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="30").start()
    child_pid = consumer_pid(server)
    pid = submit(server)
    wait_status(server, pid, {"processing"})
    server.kill(signal.SIGTERM)  # (uvicorn re-raises the signal once it has stopped: the exit is -15)
    deadline = time.monotonic() + 20
    while alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child_pid)
    attempts, releases = attempt(tmp_path / "d", pid)
    assert (attempts, releases) == (1, 1)  # handed back: the attempt does not count
    # the next serve resumes it
    again = Server(tmp_path / "d", engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="0.05")
    again.key = server.key  # the first serve created it
    again.start()
    try:
        assert wait_status(again, pid, {"completed"})["status"] == "completed"
    finally:
        again.kill(signal.SIGTERM)


def test_a_sigkilled_serve_leaves_no_consumer_process(tmp_path):
    server = Server(tmp_path / "d").start()
    child_pid = consumer_pid(server)
    server.kill(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child_pid)  # died with its parent: a restarted serve meets no orphan


def test_inline_consumers_keep_one_process(tmp_path):
    server = Server(tmp_path / "d", args=("--inline-consumers",)).start()
    try:
        pid = submit(server)
        assert wait_status(server, pid, {"completed"})["status"] == "completed"
        assert not [p for p in children(server.proc.pid) if "_consumers" in cmdline(p)]
    finally:
        server.kill(signal.SIGTERM)


def test_the_consumer_command_refuses_to_run_by_hand(tmp_path):
    from fixtures.server import SEQEDIT

    r = subprocess.run([str(SEQEDIT), "_consumers"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "started by `seqedit serve`" in r.stderr
