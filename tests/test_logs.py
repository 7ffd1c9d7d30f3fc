"""``seqedit.logs`` as an operator sees it: a real ``seqedit serve`` writing one access line per request
(status, latency, key id; never a query string, token, signature or key) and one line per job state
change (completed, failed, cancelled, released), in ``--log-format json`` and in text."""

from __future__ import annotations

import json
import re
import signal
import socket
import time

import httpx
from typer.testing import CliRunner

from fixtures.images import data_uri, png
from fixtures.server import Server, free_port
from seqedit.client.cli import app
from seqedit.jobs.store import Store

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
ENV = {"SEQEDIT_TEST_PANEL_SECONDS": "0.2", "SEQEDIT_WORKERS": "2"}
STDOUT_LINES = ("Created the first API key", "Playground: ", "seqedit serving on ")  # printed, not logged


def body(**kw):
    return {"prompt": "p", "images": [data_uri(png())], "size": "64*64", **kw}


def until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def json_lines(server: Server) -> list[dict]:
    """Every line the server wrote that is not one of its stdout prints, each parsed as JSON (it must be)."""
    lines = []
    for raw in server.log().splitlines():
        if not raw.strip() or raw.startswith(STDOUT_LINES):
            continue
        lines.append(json.loads(raw))  # a line that is no JSON object fails the test here
    return lines


def status(http, pid):
    return http.get(f"/api/v3/predictions/{pid}/result").json()["data"]


def test_json_lines_for_requests_and_every_job_ending(tmp_path):
    server = Server(tmp_path / "data", engine="test-slow", args=("--log-format", "json"), **ENV).start()
    missing = f"http://127.0.0.1:{free_port()}/gone.png"  # nothing listens: the runner cannot fetch it
    try:
        key_id = Store(f"sqlite:///{server.data_dir / 'seqedit.db'}").find_key(server.key)["id"]
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
            done = http.post(MODEL, json=body(enable_sync_mode=True)).json()["data"]
            assert done["status"] == "completed"
            signed = done["outputs"][0]
            assert "sig=" in signed
            assert httpx.get(signed, timeout=30).status_code == 200
            assert httpx.get(f"{server.url}/healthz?token=sign-in-secret", timeout=30).status_code == 200
            assert httpx.get(f"{server.url}/api/v3/predictions/{'0' * 32}/result", timeout=30).status_code == 401
            failed = http.post(MODEL, json=body(images=[missing], enable_sync_mode=True)).json()["data"]
            assert failed["status"] == "failed" and failed["code"] == 1402
            cancelled = http.post(MODEL, json=body(max_images=10)).json()["data"]["id"]
            until(lambda: status(http, cancelled)["status"] == "processing")
            http.post(f"/api/v3/predictions/{cancelled}/cancel")
            until(lambda: status(http, cancelled)["status"] == "cancelled")
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:  # a 431 at the protocol
                raw.sendall(b"GET /healthz?token=sign-in-secret HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
                assert raw.recv(100).startswith(b"HTTP/1.1 431")
            released = http.post(MODEL, json=body(max_images=10)).json()["data"]["id"]
            until(lambda: status(http, released)["status"] == "processing")
    finally:
        server.kill(signal.SIGTERM)  # a clean stop: the running job is handed back
    lines = json_lines(server)
    for line in lines:
        assert {"ts", "level", "logger", "msg"} <= set(line), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"]), line
    text = json.dumps(lines)
    for secret in (server.key, "sign-in-secret", signed.split("sig=")[1].split("&")[0], "sig="):
        assert secret not in text, secret

    # the start-up lines, in the same format
    starting = [
        x for x in lines if x["logger"] == "seqedit.service" and x["msg"].startswith("seqedit service starting")
    ]
    assert starting and "consumers" in starting[0]["msg"]
    serving = [x for x in lines if x["msg"] == "serving"]
    assert serving and serving[0]["url"] == server.url and serving[0]["lock"] == "exclusive"

    # one access line per request: method, path without the query, status, latency, client, key id
    access = [x for x in lines if x["logger"] == "seqedit.access"]
    requests = [x for x in access if x["msg"] == "request"]
    assert all(x["client"] == "127.0.0.1" and x["ms"] >= 0 for x in requests)
    by_path = {(x["method"], x["path"], x["status"]): x for x in requests}
    submit = by_path[("POST", MODEL, 200)]
    assert submit["key_id"] == key_id and submit["level"] == "INFO"
    assert by_path[("GET", "/healthz", 200)]["key_id"] is None
    assert by_path[("GET", f"/api/v3/predictions/{'0' * 32}/result", 401)]["key_id"] is None
    file_path = "/" + signed.split("://", 1)[1].split("/", 1)[1].split("?")[0]
    assert ("GET", file_path, 200) in by_path
    assert sum(1 for x in access if x.get("path") == "/healthz") >= 1  # the fixture's probes too, each its own line
    refused = [x for x in access if x["msg"] == "connection refused"]  # what never reached the application
    assert [(x["status"], x["client"]) for x in refused] == [(431, "127.0.0.1")]
    assert "max_header_bytes" in refused[0]["reason"] and "path" not in refused[0]

    # one line per job state change, with id, key, engine, attempt, status/code, duration
    jobs = [x for x in lines if x["logger"] == "seqedit.runner"]

    def event(pid, msg):
        found = [x for x in jobs if x.get("prediction") == pid and x["msg"] == msg]
        assert len(found) == 1, (pid, msg, [x["msg"] for x in jobs if x.get("prediction") == pid])
        line = found[0]
        assert line["key_id"] == key_id and line["engine"] == "test-slow" and line["attempt"] == 1, line
        return line

    for pid in (done["id"], failed["id"], cancelled, released):
        event(pid, "job started")
    ok = event(done["id"], "job completed")
    assert ok["status"] == "completed" and ok["outputs"] == 1 and ok["ms"] >= 0
    bad = event(failed["id"], "job failed")
    assert bad["status"] == "failed" and bad["code"] == 1402 and "images[0]" in bad["error"] and bad["ms"] >= 0
    assert "\n" not in bad["error"]
    assert event(cancelled, "job cancelled")["status"] == "cancelled"
    assert event(released, "job released")["ms"] >= 0


def test_text_lines_carry_the_same_fields(tmp_path):
    server = Server(tmp_path / "data", engine="test-fast").start()  # text is the default
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
            pid = http.post(MODEL, json=body(enable_sync_mode=True)).json()["data"]["id"]
            assert httpx.get(f"{server.url}/docs?x=1%0Afake%3Dline", timeout=30).status_code == 200
    finally:
        server.kill(signal.SIGTERM)
    log = server.log()
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(rf"^{ts} INFO seqedit\.service: seqedit service starting: roles api, consumers", log, re.M)
    assert re.search(
        rf"^{ts} INFO seqedit\.access: request method=POST path={re.escape(MODEL)} status=200 ms=[\d.]+ "
        r"client=127\.0\.0\.1 key_id=[0-9a-f]+$",
        log,
        re.M,
    ), log
    assert re.search(rf"^{ts} INFO seqedit\.access: request method=GET path=/docs status=200 .* key_id=-$", log, re.M)
    assert "fake" not in log  # the query string is never written
    assert re.search(
        rf"^{ts} INFO seqedit\.runner: job completed prediction={pid} key_id=\S+ engine=test-fast attempt=1 "
        r"status=completed outputs=1 ms=\d+$",
        log,
        re.M,
    ), log


def test_a_bad_log_format_is_refused_naming_it(tmp_path):
    run = CliRunner()
    r = run.invoke(app, ["serve", "--port", "1", "--data-dir", str(tmp_path / "a")], env={"SEQEDIT_LOG_FORMAT": "xml"})
    assert r.exit_code == 2, r.output
    assert "SEQEDIT_LOG_FORMAT: Input should be 'text' or 'json' (got 'xml')" in r.stderr
    r = run.invoke(app, ["worker", "--log-format", "xml", "--data-dir", str(tmp_path / "b")])
    assert r.exit_code == 2 and "Invalid value for '--log-format'" in r.output, r.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
