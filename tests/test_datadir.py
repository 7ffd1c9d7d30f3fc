"""``datadir``: the data dir and everything in it are private whatever the umask, and a looser dir left
by an earlier run is tightened; one process owns an embedded data dir (a second ``serve`` exits 2
naming the holder), while ``serve --workers 0`` and ``worker`` processes share it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

import httpx
import pytest

from fixtures.images import data_uri, png
from fixtures.server import SEQEDIT, Server, free_port
from seqedit.datadir import DataDirBusy, NoDataDir, hold, holders, make_private, require


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_a_loose_data_dir_is_tightened_once(tmp_path):
    old = os.umask(0o022)
    try:
        data = tmp_path / "data"
        (data / "objects" / "outputs" / "p").mkdir(parents=True)
        (data / "seqedit.db").write_bytes(b"x")
        (data / "objects" / "outputs" / "p" / "0.jpg").write_bytes(b"x")
        os.chmod(data, 0o755)
        assert make_private(data) == 6  # data, db, objects, outputs, p, 0.jpg
        assert mode(data) == 0o700 and mode(data / "seqedit.db") == 0o600
        assert mode(data / "objects" / "outputs" / "p") == 0o700
        assert mode(data / "objects" / "outputs" / "p" / "0.jpg") == 0o600
        assert make_private(data) == 0
        (data / "new.txt").write_bytes(b"x")  # the umask make_private set
        assert mode(data / "new.txt") == 0o600
    finally:
        os.umask(old)


def test_a_real_server_keeps_rows_secret_and_objects_private(tmp_path):
    """W5: seqedit.db was 0644 and objects/ 0755 under a default umask."""
    server = Server(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as c:
            body = {"prompt": "p", "images": [data_uri(png())], "size": "64*64", "enable_sync_mode": True}
            assert (
                c.post("/api/v3/bytedance/seedream-v4/edit-sequential", json=body).json()["data"]["status"]
                == "completed"
            )
    finally:
        server.kill(signal.SIGTERM)
    data = tmp_path / "data"
    assert mode(data) == 0o700
    for name in ("seqedit.db", "seqedit.db-writer.lock", "secret"):
        assert mode(data / name) == 0o600, name
    for folder, _dirs, files in os.walk(data / "objects"):
        assert mode(folder) == 0o700, folder
        for name in files:
            assert mode(os.path.join(folder, name)) == 0o600, name
    assert any(files for _, _, files in os.walk(data / "objects" / "outputs"))


# --------------------------------------------------------------------------- the data dir's lock

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
SLOW = {"SEQEDIT_TEST_PANEL_SECONDS": "0.3", "SEQEDIT_LEASE_SECONDS": "2", "SEQEDIT_REAPER_INTERVAL": "0.3"}


def seqedit(server: Server, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Another seqedit command on ``server``'s data dir, to its end."""
    return subprocess.run(
        [str(SEQEDIT), *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, **server.env},
        timeout=timeout,
    )


def start_worker(server: Server) -> subprocess.Popen:
    log = (server.data_dir / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [str(SEQEDIT), "worker", "--engine", server.engine, "--data-dir", str(server.data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **server.env},
    )


def until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_second_serve_exits_2_naming_the_holder_and_leaves_its_jobs_alone(tmp_path):
    first = Server(tmp_path / "data", engine="test-slow", **SLOW).start()
    second = None
    try:
        with httpx.Client(base_url=first.url, headers=first.headers, timeout=30) as http:
            body = {"prompt": "p", "images": [data_uri(png())], "size": "64*64", "max_images": 6}
            pid = http.post(MODEL, json=body).json()["data"]["id"]
            until(lambda: http.get(f"/api/v3/predictions/{pid}/result").json()["data"]["progress"]["done"] >= 1)
            # the database, its WAL/SHM files, its writers' lock and the data dir's lock: the owner's only, in use
            for name in ("lock", "seqedit.db", "seqedit.db-wal", "seqedit.db-shm", "seqedit.db-writer.lock"):
                assert mode(first.data_dir / name) == 0o600, name
            for refused in (
                seqedit(first, "serve", "--engine", "test-slow", "--port", str(free_port())),
                seqedit(first, "worker", "--engine", "test-slow"),
            ):
                assert refused.returncode == 2, refused.stdout + refused.stderr
                line = refused.stderr.strip()
                assert len(line.splitlines()) == 1, line
                assert line.startswith(f"error: the data dir {first.data_dir.resolve()} is in use by another seqedit")
                assert f"pid {first.proc.pid} on host {socket.gethostname()}" in line
                assert "(`seqedit serve --port" in line and re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line)
                assert "Created the first API key" not in refused.stdout
            row = http.get(f"/api/v3/predictions/{pid}/result").json()["data"]
            until(lambda: http.get(f"/api/v3/predictions/{pid}/result").json()["data"]["status"] == "completed")
            row = http.get(f"/api/v3/predictions/{pid}/result").json()["data"]
            assert len(row["outputs"]) == 6 and all("/1/" in u for u in row["outputs"])  # never re-run
        first.kill(signal.SIGKILL)  # no clean stop: the kernel drops the lock with the process
        second = Server(tmp_path / "data", engine="test-slow", **SLOW).start()
        with httpx.Client(base_url=second.url, timeout=30) as http:
            assert http.get("/healthz").status_code == 200
    finally:
        first.kill(signal.SIGKILL)
        if second is not None:
            second.kill(signal.SIGTERM)


def test_workers_share_a_data_dir_with_an_api_only_serve(tmp_path):
    """The documented single-host split: `serve --workers 0` + `seqedit worker` processes take the lock
    shared; a `serve` with its own consumers cannot join them."""
    server = Server(tmp_path / "data", engine="test-fast", workers=0).start()
    worker = start_worker(server)
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as http:
            body = {"prompt": "p", "images": [data_uri(png())], "size": "64*64", "enable_sync_mode": True}
            assert http.post(MODEL, json=body).json()["data"]["status"] == "completed"
        refused = seqedit(server, "serve", "--engine", "test-fast", "--port", str(free_port()))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        line = refused.stderr.strip()
        assert "is in use by 2 other seqedit processes" in line, line
        assert f"pid {server.proc.pid} " in line and f"pid {worker.pid} " in line and "`seqedit worker " in line
        assert "run `serve --workers 0`" in line
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        server.kill(signal.SIGTERM)


def test_lock_modes_in_one_process(tmp_path):
    """Exclusive excludes everyone, shared admits shared; releasing (or dying) frees it; no holder line
    of a dead process is named."""
    data = tmp_path / "data"
    owner = hold(data, "exclusive", roles="api, consumers")
    with pytest.raises(DataDirBusy) as busy:
        hold(data, "shared")
    assert busy.value.holders[0]["pid"] == os.getpid() and busy.value.holders[0]["mode"] == "exclusive"
    with pytest.raises(DataDirBusy):
        hold(data, "exclusive")
    owner.release()
    a, b = hold(data, "shared"), hold(data, "shared")
    assert {h["mode"] for h in holders(data)} == {"shared"}  # one line per process: these two are alike
    with pytest.raises(DataDirBusy) as busy:
        hold(data, "exclusive")
    assert f"pid {os.getpid()} on host" in busy.value.line() and "owns its data dir alone" in busy.value.line()
    a.release()
    b.release()
    hold(data, "exclusive").release()
    assert mode(data / "lock") == 0o600 and mode(data) == 0o700
    # a holder line left by a process that is gone is not named (its lock went with it)
    (data / "lock").write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}) + "\n")
    assert holders(data) == []


def test_require_finds_only_a_data_dir(tmp_path):
    with pytest.raises(NoDataDir) as missing:
        require(tmp_path / "nope")
    assert str(missing.value).startswith(f"no seqedit data dir at {tmp_path / 'nope'} (start `seqedit serve")
    assert not (tmp_path / "nope").exists()
    (tmp_path / "seqedit.db").write_bytes(b"")
    assert require(tmp_path) == tmp_path.resolve()
