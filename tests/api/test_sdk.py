"""The official ``wavespeed`` Python SDK (PyPI, pinned 2.0.5) against a real ``seqedit serve``."""

from __future__ import annotations

import base64
import io
import signal

import httpx
import pytest
from PIL import Image

wavespeed = pytest.importorskip("wavespeed")
from wavespeed import Client  # noqa: E402

from fixtures.images import png  # noqa: E402
from fixtures.server import Server  # noqa: E402

MODEL = "bytedance/seedream-v4/edit-sequential"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("serve")).start()
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def client(server):
    assert server.key and server.key.startswith("sk_")
    return Client(api_key=server.key, base_url=server.url + "/")


@pytest.fixture(scope="module")
def uploaded(client, tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    paths = []
    for i, colour in enumerate([(220, 30, 30), (30, 30, 220)]):
        p = d / f"ref{i}.png"
        p.write_bytes(png(80, 60, colour))
        paths.append(str(p))
    return [client.upload(p) for p in paths]


def test_upload_returns_our_download_urls(server, uploaded):
    for url in uploaded:
        assert url.startswith(server.url + "/files/uploads/")
        r = httpx.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"


def test_run_returns_n_images_of_the_size(client, uploaded):
    result = client.run(
        MODEL,
        {"prompt": "a series of 4 images of these two objects", "images": uploaded, "size": "256*192", "max_images": 4},
        poll_interval=0.05,
        timeout=60,
    )
    assert len(result["outputs"]) == 4
    for url in result["outputs"]:
        im = Image.open(io.BytesIO(httpx.get(url).content))
        assert im.size == (256, 192) and im.format == "JPEG"


def test_sync_mode(client, uploaded):
    result = client.run(
        MODEL,
        {"prompt": "two panels", "images": uploaded[:1], "size": "128*128", "max_images": 2},
        enable_sync_mode=True,
        timeout=60,
    )
    assert len(result["outputs"]) == 2 and result["outputs"][0].startswith("http://127.0.0.1")


def test_base64_mode(client, uploaded):
    result = client.run(
        MODEL,
        {"prompt": "three", "images": uploaded, "size": "128*64", "max_images": 3, "enable_base64_output": True},
        poll_interval=0.05,
        timeout=60,
    )
    assert len(result["outputs"]) == 3
    for out in result["outputs"]:
        assert Image.open(io.BytesIO(base64.b64decode(out))).size == (128, 64)


def test_bad_request_raises_with_the_server_message(client, uploaded):
    with pytest.raises(RuntimeError) as info:
        client.run(MODEL, {"prompt": "x", "images": uploaded, "max_images": 99}, poll_interval=0.05, timeout=30)
    assert "HTTP 400" in str(info.value) and "max_images" in str(info.value) and "1-15" in str(info.value)


def test_failed_task_raises_with_the_server_message(client, server):
    missing = server.url + "/files/uploads/0/nothing.png?expires=1&sig=x"  # fetched over HTTP: a 404
    with pytest.raises(RuntimeError) as info:
        client.run(MODEL, {"prompt": "x", "images": [missing], "max_images": 1}, poll_interval=0.05, timeout=30)
    text = str(info.value)
    assert "Prediction failed" in text and "images[0]" in text and "404" in text


def test_get_result_returns_the_envelope(client, uploaded, server):
    r = httpx.post(
        f"{server.url}/api/v3/{MODEL}",
        headers=server.headers,
        json={"prompt": "one", "images": uploaded, "size": "64*64", "enable_sync_mode": True},
    )
    pid = r.json()["data"]["id"]
    env = client.get_result(pid)
    assert env["code"] == 200 and env["message"] == "success"
    assert env["data"]["id"] == pid and env["data"]["status"] == "completed" and len(env["data"]["outputs"]) == 1
