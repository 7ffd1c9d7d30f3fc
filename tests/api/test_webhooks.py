"""Webhooks from a real ``seqedit serve``: signed delivery, retries while the receiver is down, and a
dead or hanging receiver never blocks the workers."""

from __future__ import annotations

import json
import signal
import socket
import time

import httpx
import pytest

from fixtures.images import data_uri, png
from fixtures.receiver import Receiver
from fixtures.server import Server, free_port
from seqedit.signing import verify_webhook

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
BODY = {"prompt": "two", "images": [data_uri(png())], "size": "64*64", "max_images": 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("serve"), SEQEDIT_WEBHOOK_BACKOFF="0.3", SEQEDIT_WEBHOOK_TIMEOUT="1.5").start()
    yield s
    s.kill(signal.SIGTERM)


def until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def submit(server, body=BODY, query=""):
    r = httpx.post(f"{server.url}{MODEL}{query}", headers=server.headers, json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]["id"]


def status(server, pid):
    return httpx.get(f"{server.url}/api/v3/predictions/{pid}/result", headers=server.headers).json()["data"]


def test_signed_webhook_reaches_the_receiver(server):
    rx = Receiver()
    try:
        secret = httpx.get(f"{server.url}/api/v3/webhook/secret", headers=server.headers).json()["data"]["secret"]
        pid = submit(server, query=f"?webhook={rx.url}")  # unencoded, as JS 0.0.15 sends it
        until(lambda: rx.deliveries)
        headers, body = rx.deliveries[0]
        assert verify_webhook(secret, headers, body)
        assert not verify_webhook("whsec_" + "0" * 64, headers, body)
        assert headers["webhook-id"] == f"{pid}-completed" and headers["content-type"] == "application/json"
        payload = json.loads(body)
        assert "code" not in payload or payload["code"] != 200  # the bare prediction, no envelope
        assert payload["id"] == pid and payload["status"] == "completed" and len(payload["outputs"]) == 2
        assert payload["error"] == "" and payload["input"]["max_images"] == 2
        assert httpx.get(payload["outputs"][0]).status_code == 200
    finally:
        rx.close()


def test_receiver_down_is_retried_later_without_blocking_workers(server):
    port = free_port()  # nothing listens here yet
    hook = f"http://127.0.0.1:{port}/hook"
    first = submit(server, body={**BODY, "webhook_url": hook})
    until(lambda: status(server, first)["status"] == "completed")
    # while its webhook keeps failing, other jobs run at full speed
    t0 = time.monotonic()
    others = [submit(server) for _ in range(3)]
    until(lambda: all(status(server, p)["status"] == "completed" for p in others))
    assert time.monotonic() - t0 < 10
    rx = Receiver(port=port, statuses=[500])  # comes up, fails once, then accepts
    try:
        until(lambda: rx.deliveries, timeout=30)
        assert rx.attempts >= 2 and rx.deliveries[0][0]["webhook-id"] == f"{first}-completed"
    finally:
        rx.close()


def test_hanging_receiver_does_not_block_workers(server):
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)  # accepts connections into the backlog, never answers
    try:
        hooked = [
            submit(server, body={**BODY, "webhook_url": f"http://127.0.0.1:{hole.getsockname()[1]}/h"})
            for _ in range(6)
        ]
        plain = [submit(server) for _ in range(3)]
        until(lambda: all(status(server, p)["status"] == "completed" for p in hooked + plain), timeout=15)
    finally:
        hole.close()
