"""``datadir``: the data dir and everything in it are private whatever the umask, and a looser dir left
by an earlier run is tightened."""

from __future__ import annotations

import os
import signal
import stat

import httpx

from fixtures.images import data_uri, png
from fixtures.server import Server
from seqedit.datadir import make_private


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
    for name in ("seqedit.db", "secret", "queue.db"):
        assert mode(data / name) == 0o600, name
    for folder, _dirs, files in os.walk(data / "objects"):
        assert mode(folder) == 0o700, folder
        for name in files:
            assert mode(os.path.join(folder, name)) == 0o600, name
    assert any(files for _, _, files in os.walk(data / "objects" / "outputs"))
