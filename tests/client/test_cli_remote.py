"""``seqedit edit|plan --server``, ``seqedit status|cancel|history``: the CLI as a client, run as a
subprocess against a real ``seqedit serve --engine classic`` on loopback."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from fixtures.server import SEQEDIT, Server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUPPORTED = "three versions of this photo: 1. in black and white 2. in warm sunset light 3. as a pencil sketch"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("cli-serve"), engine="classic").start(timeout=120)
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """No job consumers: a task stays queued until cancelled (no race with a fast engine)."""
    s = Server(tmp_path_factory.mktemp("cli-idle"), workers=0).start(timeout=120)
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[str]:
    d = tmp_path_factory.mktemp("photos")
    paths = []
    for name in ("astronaut.jpg", "coffee.jpg"):
        im = Image.open(EXAMPLES / name).convert("RGB")
        im.thumbnail((256, 256))
        im.save(d / name, "JPEG", quality=90)
        paths.append(str(d / name))
    return paths


def seqedit(*args: str, key: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SEQEDIT_API_KEY"}
    env.update(COLUMNS="200", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if key is not None:
        env["SEQEDIT_API_KEY"] = key
    return subprocess.run([str(SEQEDIT), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_edit_on_a_server_prints_and_writes_what_in_process_does(server, photos, tmp_path):
    args = ["edit", *photos, "-p", SUPPORTED, "--size", "256*192", "--seed", "7"]
    remote = seqedit(*args, "-o", str(tmp_path / "remote"), "--server", server.url, key=server.key)
    assert remote.returncode == 0, remote.stderr
    local = seqedit(*args, "-o", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    # the same plan table, panel lines and warnings on stdout
    assert remote.stdout.replace("remote", "local") == local.stdout
    assert "3 panel(s) at 256*192, seed 7, format jpeg" in remote.stdout and "supported" in remote.stdout
    assert "submitted" in remote.stderr and server.key not in remote.stdout + remote.stderr
    # the same files: N images at the size, and the server rendered exactly what this machine renders
    for k in (1, 2, 3):
        data = (tmp_path / "remote" / f"{k}.jpg").read_bytes()
        assert Image.open(io.BytesIO(data)).size == (256, 192)
        assert data == (tmp_path / "local" / f"{k}.jpg").read_bytes()
    record = json.loads((tmp_path / "remote" / "set.json").read_text())
    mine = json.loads((tmp_path / "local" / "set.json").read_text())
    assert record["seed"] == mine["seed"] == 7 and len(record["id"]) == 32 and record["server"] == server.url
    assert [v["clause"] for v in record["verdicts"]] == [v["clause"] for v in mine["verdicts"]]
    assert [o["sha256"] for o in record["outputs"]] == [o["sha256"] for o in mine["outputs"]]
    assert record["warnings"] == mine["warnings"]
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == ["1.jpg", "2.jpg", "3.jpg", "set.json"]


def test_plan_on_a_server(server, photos):
    ok = seqedit("plan", *photos, "-p", SUPPORTED, "--server", server.url, "--api-key", server.key)
    assert ok.returncode == 0, ok.stderr
    assert "3 panel(s)" in ok.stdout and "style" in ok.stdout
    as_json = seqedit("plan", *photos, "-p", SUPPORTED, "--json", "--server", server.url, key=server.key)
    doc = json.loads(as_json.stdout)
    assert doc["supported"] is True and doc["count"] == 3 and doc["engine"] == "classic"
    refused = seqedit("plan", *photos, "-p", "add a dragon flying over them", "--server", server.url, key=server.key)
    assert refused.returncode == 3 and "unsupported" in refused.stdout
    assert refused.stderr.count("\n") == 1 and "dragon" in refused.stderr


def test_refusals_and_bad_input_are_one_line_with_the_right_exit_code(server, photos, tmp_path):
    out = tmp_path / "out"
    cases = [
        (["-p", "add a dragon flying over them"], 3, "dragon"),
        (["-p", "in black and white", "--size", "7*7"], 2, "size: width 7 is outside 64-8192"),
        (["-p", "in black and white", "-n", "99"], 2, "max_images"),
        (["-p", "in black and white", "--engine", "diffusion"], 2, "--engine is not used with --server"),
    ]
    for extra, code, text in cases:
        r = seqedit("edit", *photos, *extra, "-o", str(out), "--server", server.url, key=server.key)
        assert r.returncode == code, (extra, r.stderr)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and text in r.stderr, (extra, r.stderr)
        assert "Traceback" not in r.stderr
    missing = seqedit("edit", photos[0], str(tmp_path / "nope.jpg"), "-p", "x", "--server", server.url, key=server.key)
    assert missing.returncode == 2 and "images[1]" in missing.stderr and "nope.jpg" in missing.stderr
    assert not out.exists()


def test_key_and_server_errors(server, photos):
    no_key = seqedit("history", "--server", server.url)
    assert no_key.returncode == 2 and "--api-key" in no_key.stderr and "SEQEDIT_API_KEY" in no_key.stderr
    bad_key = seqedit("history", "--server", server.url, "--api-key", "sk_wrong")
    assert bad_key.returncode == 2 and bad_key.stderr.startswith("error: ") and "sk_wrong" not in bad_key.stdout
    nowhere = seqedit("status", "0" * 32, "--server", "http://127.0.0.1:9", key=server.key)
    assert nowhere.returncode == 2 and "cannot reach the server" in nowhere.stderr
    not_url = seqedit("history", "--server", "localhost:8000", key=server.key)
    assert not_url.returncode == 2 and "http(s) URL" in not_url.stderr


def test_status_and_history(server, photos):
    from seqedit import Client

    with Client(server.url, server.key) as client:
        done = client.submit({"prompt": "in black and white", "images": [client.upload(photos[0])], "size": "96*64"})
        client.wait(done.id, timeout=120, poll_interval=0.1)
    status = seqedit("status", done.id, "--server", server.url, key=server.key)
    assert status.returncode == 0 and f"{done.id}  completed" in status.stdout and "/files/outputs/" in status.stdout
    as_json = json.loads(seqedit("status", done.id, "--json", "--server", server.url, key=server.key).stdout)
    assert as_json["id"] == done.id and len(as_json["outputs"]) == 1
    history = seqedit("history", "--json", "--page-size", "100", "--server", server.url, key=server.key)
    ids = {p["id"]: p["status"] for p in json.loads(history.stdout)["items"]}
    assert ids[done.id] == "completed"
    table = seqedit("history", "--status", "completed", "--server", server.url, key=server.key)
    assert table.returncode == 0 and done.id in table.stdout and "of" in table.stdout
    failed = seqedit("history", "--status", "failed", "--server", server.url, key=server.key)
    assert failed.returncode == 0 and done.id not in failed.stdout
    unknown = seqedit("status", "f" * 32, "--server", server.url, key=server.key)
    assert unknown.returncode == 2 and "not found" in unknown.stderr


def test_cancel(idle, photos):
    from seqedit import Client

    with Client(idle.url, idle.key) as client:
        queued = client.submit({"prompt": "in black and white", "images": photos, "max_images": 3})
    cancel = seqedit("cancel", queued.id, "--server", idle.url, key=idle.key)
    assert cancel.returncode == 0 and f"{queued.id}  cancelled" in cancel.stdout
    status = seqedit("status", queued.id, "--json", "--server", idle.url, key=idle.key)
    assert json.loads(status.stdout)["status"] == "cancelled"


def test_ctrl_c_cancels_the_task_on_the_server(idle, photos, tmp_path):
    """The server's task is stopped as the in-process run would be: no set written, exit 130."""
    env = {**os.environ, "SEQEDIT_API_KEY": idle.key, "COLUMNS": "200"}
    args = [
        str(SEQEDIT),
        "edit",
        *photos,
        "-p",
        "in black and white",
        "-o",
        str(tmp_path / "out"),
        "--server",
        idle.url,
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # "submitted <id> to <url>", printed once the task exists
        assert line.startswith("submitted "), line
        prediction_id = line.split()[1]
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest
    assert f"interrupted; cancelled {prediction_id}" in rest
    status = seqedit("status", prediction_id, "--json", "--server", idle.url, key=idle.key)
    assert json.loads(status.stdout)["status"] == "cancelled"
    assert not (tmp_path / "out" / "set.json").exists()
