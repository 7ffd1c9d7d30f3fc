"""A real ``seqedit serve``: each prediction carries ``provenance`` (what made the set) as an extension
field next to ``route``, the poll and the Python SDK read it, and the gateway's never holds its key."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

import seqedit
from fixtures.images import sneaker_uri
from fixtures.server import TESTS, Server
from seqedit.engines.remote.engine import _public_url

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
SRC = Path(seqedit.__file__).resolve().parents[1]  # the server imports this checkout
PATH = os.pathsep.join([str(SRC), str(TESTS)])


def _ref() -> str:
    return sneaker_uri()


def _body(prompt: str, n: int = 2) -> dict:
    return {"prompt": prompt, "images": [_ref()], "size": "256*192", "max_images": n, "enable_sync_mode": True}


@pytest.mark.slow
def test_a_classic_prediction_carries_its_provenance(tmp_path):
    server = Server(tmp_path, engine="classic", PYTHONPATH=PATH).start(timeout=120)
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=180) as c:
            data = c.post(MODEL, json=_body("this sneaker in 2 colourways: red, navy")).json()["data"]
            assert data["status"] == "completed", data
            made = data["provenance"]
            assert made["engine"] == "classic" and made["seqedit"] == seqedit.__version__ and made["pillow"]
            assert isinstance(made["work_pixels"], int) and set(made["versions"]) == {"numpy", "opencv"}
            assert data["route"]["engine"] == "classic"
            polled = c.get(f"/api/v3/predictions/{data['id']}/result").json()["data"]
            assert polled["provenance"] == made
        from seqedit.sdk import Client

        with Client(server.url, api_key=server.key) as sdk:
            assert sdk.result(data["id"]).provenance == made
    finally:
        server.kill(signal.SIGTERM)


@pytest.mark.slow
def test_a_gateway_prediction_names_its_upstream_and_never_its_key(tmp_path):
    upstream = Server(tmp_path / "upstream", engine="test-fast", PYTHONPATH=PATH).start()
    gateway = None
    try:
        args = ("--upstream-url", upstream.url, "--upstream-protocol", "wavespeed", "--opt", "poll_interval=0.1")
        gateway = Server(
            tmp_path / "gateway", engine="remote", args=args, PYTHONPATH=PATH, SEQEDIT_UPSTREAM_KEY=upstream.key
        ).start(timeout=120)
        with httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=180) as c:
            data = c.post(MODEL, json=_body("a set of 2 product shots")).json()["data"]
            assert data["status"] == "completed", data
            made = data["provenance"]
            assert made["engine"] == "remote" and made["upstream_url"] == upstream.url
            assert made["upstream_protocol"] == "wavespeed"
            assert made["upstream_model"] == "bytedance/seedream-v4/edit-sequential"
            assert made["upstream_size"] == "256x192"
            polled = c.get(f"/api/v3/predictions/{data['id']}/result").text
        assert upstream.key not in json.dumps(data) and upstream.key not in polled
    finally:
        for server in (gateway, upstream):
            if server is not None:
                server.kill(signal.SIGTERM)


def test_the_recorded_upstream_url_drops_credentials_query_and_fragment():
    assert _public_url("https://user:pw@up.example:8443/v3/?token=abc#x") == "https://up.example:8443/v3/"
    assert _public_url("http://[::1]:9000/base") == "http://[::1]:9000/base"
    assert _public_url("https://api.wavespeed.ai") == "https://api.wavespeed.ai"
