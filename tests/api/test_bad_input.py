"""Bad input: each case is a 4xx whose body names the field or the limit, and no task is created."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from fixtures.images import bomb_png, data_uri, png
from seqedit.api.app import create_app, make_service

from .conftest import make_settings

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
GOOD = {"prompt": "a series of 2", "images": [data_uri(png())], "max_images": 2}


def with_(**kw):
    return {**GOOD, **kw}


def without(name):
    return {k: v for k, v in GOOD.items() if k != name}


CASES = [
    ("prompt missing", without("prompt"), "prompt"),
    ("prompt empty", with_(prompt="  "), "prompt"),
    ("prompt not a string", with_(prompt=5), "prompt"),
    ("prompt too long", with_(prompt="x" * 10_001), "prompt"),
    ("images missing", without("images"), "images"),
    ("images empty", with_(images=[]), "images"),
    ("images not a list", with_(images="http://x"), "images"),
    ("11 images", with_(images=[data_uri(png())] * 11), "images"),
    ("image not a string", with_(images=[123]), "images[0]"),
    ("image empty string", with_(images=[""]), "images[0]"),
    ("size malformed", with_(size="big"), "size"),
    ("size too small", with_(size="32*32"), "size"),
    ("size too large", with_(size="9000*512"), "size"),
    ("size not a string", with_(size=512), "size"),
    ("max_images 0", with_(max_images=0), "max_images"),
    ("max_images 16", with_(max_images=16), "max_images"),
    ("max_images text", with_(max_images="many"), "max_images"),
    ("max_images bool", with_(max_images=True), "max_images"),
    ("max_images float", with_(max_images=1.5), "max_images"),
    ("seed text", with_(seed="lucky"), "seed"),
    ("seed below -1", with_(seed=-2), "seed"),
    ("seed too large", with_(seed=2**31), "seed"),
    ("output_format gif", with_(output_format="gif"), "output_format"),
    ("base64 flag not boolean", with_(enable_base64_output="maybe"), "enable_base64_output"),
    ("sync flag not boolean", with_(enable_sync_mode=[1]), "enable_sync_mode"),
    (
        "base64 with webhook",
        with_(enable_base64_output=True, webhook_url="https://example.com/h"),
        "webhook callback does not support base64 output",
    ),
    ("webhook private", with_(webhook_url="http://10.0.0.1/hook"), "webhook"),
    ("webhook loopback", with_(webhook_url="http://127.0.0.1:9/hook"), "webhook"),
    ("webhook not a URL", with_(webhook_url="ftp://example.com/x"), "webhook"),
    ("ssrf 127.0.0.1", with_(images=["http://127.0.0.1/a.png"]), "images[0]"),
    ("ssrf 10.0.0.1", with_(images=["http://10.0.0.1/a.png"]), "images[0]"),
    ("ssrf metadata", with_(images=[data_uri(png()), "http://169.254.169.254/latest/meta-data/"]), "images[1]"),
    ("ssrf [::1]", with_(images=["http://[::1]:8080/a.png"]), "images[0]"),
    ("ssrf localhost", with_(images=["http://localhost/a.png"]), "images[0]"),
    ("ssrf 0.0.0.0", with_(images=["http://0.0.0.0/a.png"]), "images[0]"),
    ("ssrf decimal ip", with_(images=["http://2130706433/a.png"]), "images[0]"),
    ("not an image", with_(images=[data_uri(b"hello world")]), "images[0]"),
    ("bad base64", with_(images=["@@@not base64@@@"]), "images[0]"),
    ("decompression bomb", with_(images=[data_uri(bomb_png())]), "pixels"),
]


@pytest.fixture
def strict_client(tmp_path, monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *a, **kw):  # a public-looking name whose DNS answer is loopback
        if host == "rebind.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    service = make_service(make_settings(tmp_path, allow_hosts=""))
    token, _ = service.store.create_key("t")
    with TestClient(create_app(service)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def check_table(post, cases):
    failures = []
    for name, body, needle in cases:
        r = post(MODEL, json=body)
        text = r.text
        if not (400 <= r.status_code < 500 and needle in text):
            failures.append(f"{name}: {r.status_code} {text[:200]}")
        elif r.status_code != 413 and "field" in r.json():
            assert r.json()["limit"], name
    assert not failures, "\n".join(failures)


def test_bad_input_table(strict_client):
    rebind = ("ssrf name resolving to loopback", with_(images=["http://rebind.example.com/a.png"]), "images[0]")
    check_table(strict_client.post, CASES + [rebind])
    assert strict_client.post("/api/v3/predictions", json={}).json()["data"]["total"] == 0  # no task
    assert strict_client.get("/metrics").text.count("seqedit_predictions{") == 0


def test_malformed_bodies(strict_client):
    assert strict_client.post(MODEL, content=b"{not json").status_code == 400
    assert strict_client.post(MODEL, json=[1, 2]).status_code == 400
    limit = strict_client.app.state.service.settings.max_request_bytes
    r = strict_client.post(MODEL, content=b" " * (limit + 1), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and str(limit) in r.json()["limit"]

    def chunks():  # no Content-Length: the cap applies while streaming
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    assert strict_client.post(MODEL, content=chunks()).status_code == 413
    r = strict_client.post(
        "/api/v3/media/upload/binary", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code == 411
    r = strict_client.post(MODEL, json=with_(images=["http://127.0.0.1/a.png"]))
    assert r.json()["field"] == "images[0]" and r.json()["data"] is None and r.json()["code"] == 400


def test_good_body_is_accepted(strict_client):
    assert strict_client.post(MODEL, json=GOOD).status_code == 200
