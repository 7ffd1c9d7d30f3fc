"""The bad-input table and the request-level refusals against a real ``seqedit serve`` process with
no allow-listed hosts: each is a 4xx naming the field or limit, and no task is created."""

from __future__ import annotations

import signal
import socket

import httpx
import pytest
from typer.testing import CliRunner

from fixtures.images import bomb_png, png
from fixtures.server import Server
from seqedit.client.cli import app

from .test_bad_input import CASES, GOOD, MODEL, check_table


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(
        tmp_path_factory.mktemp("strict"),
        SEQEDIT_ALLOW_HOSTS="",
        SEQEDIT_MAX_UPLOAD_BYTES="2000000",
        SEQEDIT_MAX_IMAGE_PIXELS="4000000",
    ).start()
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as c:
        yield c


def test_table_against_a_real_server(http):
    cases = list(CASES)
    host = socket.gethostname()
    if socket.getaddrinfo(host, 80)[0][4][0].startswith("127."):  # this machine's name → loopback
        cases.append(("ssrf name resolving to loopback", {**GOOD, "images": [f"http://{host}/a.png"]}, "images[0]"))
    check_table(http.post, cases)
    assert http.post("/api/v3/predictions", json={}).json()["data"]["total"] == 0


def test_request_level_refusals(server, http):
    big = http.post("/api/v3/media/upload/binary", files={"file": ("big.png", b"\0" * 2_000_001)})
    assert big.status_code == 413 and "2000000" in big.json()["message"]
    bomb = http.post("/api/v3/media/upload/binary", files={"file": ("bomb.png", bomb_png())})
    assert bomb.status_code == 400 and "pixels" in bomb.json()["limit"]
    url = http.post("/api/v3/media/upload/binary", files={"file": ("a.png", png())}).json()["data"]["download_url"]
    bad = httpx.get(url.replace("sig=", "sig=AA"))
    assert bad.status_code == 404 and bad.text == "Not Found"
    assert httpx.post(f"{server.url}{MODEL}", json=GOOD).status_code == 401
    pid = http.post(MODEL, json=GOOD).json()["data"]["id"]
    # a second key (made with the CLI beside the running server) sees nothing of the first key's
    r = CliRunner().invoke(app, ["keys", "create", "--data-dir", str(server.data_dir)])
    h = {"Authorization": f"Bearer {r.stdout.strip().splitlines()[0]}"}
    assert httpx.get(f"{server.url}/api/v3/predictions/{pid}/result", headers=h).status_code == 404
    r = httpx.post(f"{server.url}{MODEL}", headers=h, json={**GOOD, "images": [url]})
    assert r.status_code == 404 and r.json()["field"] == "images[0]"


def test_refused_submits_leave_nothing_on_disk(tmp_path):
    """W3 against a real server: 400s on images[2] and 429s at the key's limit store no inline image."""
    from fixtures.images import data_uri

    server = Server(tmp_path, engine="test-slow", SEQEDIT_KEY_CONCURRENCY="1", SEQEDIT_TEST_PANEL_SECONDS="2").start()
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as c:
            big = data_uri(png(600, 400))
            body = {"prompt": "p", "images": [big, big, "%%% not base64"], "size": "64*64"}
            assert {c.post(MODEL, json=body).status_code for _ in range(5)} == {400}
            first = c.post(MODEL, json={**body, "images": [big]})  # accepted: the key is now at its limit
            assert first.status_code == 200, first.text
            refused = [c.post(MODEL, json={**body, "images": [big, big]}).status_code for _ in range(5)]
            assert refused == [429] * 5
        stored = [p for p in (tmp_path / "objects" / "uploads").rglob("*") if p.is_file()]
        assert len(stored) == 1  # only the accepted submit's image
    finally:
        server.kill(signal.SIGTERM)
