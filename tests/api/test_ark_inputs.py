"""Bad input on the Ark route: each case is an Ark error body (``error.code``, ``message``, ``param``,
``type``) with Ark's status, naming the parameter; no task is created. Also: the SDK's explicit nulls,
``auto``'s count, and a bad streaming request answered as plain JSON."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fixtures.images import bomb_png, data_uri, png
from seqedit.api.app import create_app, make_service
from seqedit.api.ark import auto_count

from .conftest import make_settings

ROUTE = "/api/v3/images/generations"
REF = data_uri(png())
GOOD = {"model": "seedream-4-0-250828", "prompt": "make it blue", "image": REF, "size": "64x64", "watermark": False}
SDK_NULLS = {  # the exact body the Ark SDK sends (api-contract §2.2), nulls included
    "model": "seedream-4-0-250828",
    "prompt": "a pair of images",
    "image": [REF],
    "response_format": "url",
    "size": "64x64",
    "seed": None,
    "guidance_scale": None,
    "watermark": None,
    "optimize_prompt": None,
    "optimize_prompt_options": None,
    "sequential_image_generation": "auto",
    "sequential_image_generation_options": {"max_images": 2},
    "tools": None,
    "output_format": None,
    "layer_decomposition": None,
}


def with_(**kw):
    return {**GOOD, **kw}


def without(name):
    return {k: v for k, v in GOOD.items() if k != name}


MAX = "sequential_image_generation_options.max_images"
CASES = [  # name, body, status, Ark code, param
    ("model missing", without("model"), 400, "MissingParameter", "model"),
    ("model not a string", with_(model=4), 400, "InvalidParameter", "model"),
    ("model unknown", with_(model="seedream-9"), 404, "InvalidEndpoint.NotFound", "model"),
    ("prompt missing", without("prompt"), 400, "MissingParameter", "prompt"),
    ("prompt empty", with_(prompt=" "), 400, "InvalidParameter", "prompt"),
    ("prompt not a string", with_(prompt=["p"]), 400, "InvalidParameter", "prompt"),
    ("prompt too long", with_(prompt="x" * 10_001), 400, "InvalidParameter", "prompt"),
    ("image missing (text-to-image)", without("image"), 400, "MissingParameter", "image"),
    ("image null", with_(image=None), 400, "MissingParameter", "image"),
    ("image empty list", with_(image=[]), 400, "MissingParameter", "image"),
    ("image a number", with_(image=5), 400, "InvalidParameter", "image"),
    ("11 images", with_(image=[REF] * 11), 400, "InvalidParameter", "image"),
    ("image entry not a string", with_(image=[REF, 7]), 400, "InvalidParameter", "image[1]"),
    ("image empty string", with_(image=""), 400, "InvalidParameter", "image[0]"),
    ("data URI not an image", with_(image=data_uri(b"hello")), 400, "InvalidParameter", "image[0]"),
    ("data URI bad base64", with_(image="data:image/png;base64,@@@"), 400, "InvalidParameter", "image[0]"),
    ("data URI bomb", with_(image=data_uri(bomb_png())), 400, "InvalidParameter", "image[0]"),
    ("ssrf loopback", with_(image="http://127.0.0.1/a.png"), 400, "InvalidParameter", "image[0]"),
    ("ssrf private", with_(image=["http://10.0.0.1/a.png"]), 400, "InvalidParameter", "image[0]"),
    ("ssrf metadata", with_(image=[REF, "http://169.254.169.254/latest/"]), 400, "InvalidParameter", "image[1]"),
    ("ssrf localhost", with_(image="http://localhost/a.png"), 400, "InvalidParameter", "image[0]"),
    ("ssrf decimal ip", with_(image="http://2130706433/a.png"), 400, "InvalidParameter", "image[0]"),
    ("ssrf [::1]", with_(image="http://[::1]/a.png"), 400, "InvalidParameter", "image[0]"),
    ("not http", with_(image="ftp://example.com/a.png"), 400, "InvalidParameter", "image[0]"),
    ("size unknown preset", with_(size="8K"), 400, "InvalidParameter", "size"),
    ("size malformed", with_(size="big"), 400, "InvalidParameter", "size"),
    ("size too small", with_(size="32x32"), 400, "InvalidParameter", "size"),
    ("size too large", with_(size="9000x512"), 400, "InvalidParameter", "size"),
    ("size a number", with_(size=2048), 400, "InvalidParameter", "size"),
    ("seed text", with_(seed="lucky"), 400, "InvalidParameter", "seed"),
    ("seed below -1", with_(seed=-2), 400, "InvalidParameter", "seed"),
    ("seed too large", with_(seed=2**31), 400, "InvalidParameter", "seed"),
    ("seed bool", with_(seed=True), 400, "InvalidParameter", "seed"),
    (
        "mode unknown",
        with_(sequential_image_generation="always"),
        400,
        "InvalidParameter",
        "sequential_image_generation",
    ),
    ("mode bool", with_(sequential_image_generation=True), 400, "InvalidParameter", "sequential_image_generation"),
    (
        "options not an object",
        with_(sequential_image_generation_options=3),
        400,
        "InvalidParameter",
        "sequential_image_generation_options",
    ),
    ("max_images 0", with_(sequential_image_generation_options={"max_images": 0}), 400, "InvalidParameter", MAX),
    ("max_images 16", with_(sequential_image_generation_options={"max_images": 16}), 400, "InvalidParameter", MAX),
    ("max_images text", with_(sequential_image_generation_options={"max_images": "3"}), 400, "InvalidParameter", MAX),
    ("max_images bool", with_(sequential_image_generation_options={"max_images": True}), 400, "InvalidParameter", MAX),
    (
        "refs + max_images 16",
        with_(
            image=[REF] * 10, sequential_image_generation="auto", sequential_image_generation_options={"max_images": 6}
        ),
        400,
        "InvalidParameter",
        MAX,
    ),
    ("response_format unknown", with_(response_format="png"), 400, "InvalidParameter", "response_format"),
    ("watermark text", with_(watermark="yes"), 400, "InvalidParameter", "watermark"),
    ("watermark number", with_(watermark=1), 400, "InvalidParameter", "watermark"),
    ("stream text", with_(stream="true"), 400, "InvalidParameter", "stream"),
    (
        "optimize not an object",
        with_(optimize_prompt_options="fast"),
        400,
        "InvalidParameter",
        "optimize_prompt_options",
    ),
    (
        "optimize mode unknown",
        with_(optimize_prompt_options={"mode": "turbo"}),
        400,
        "InvalidParameter",
        "optimize_prompt_options.mode",
    ),
    ("output_format gif", with_(output_format="gif"), 400, "InvalidParameter", "output_format"),
    ("output_format number", with_(output_format=1), 400, "InvalidParameter", "output_format"),
]


@pytest.fixture
def client(tmp_path):
    service = make_service(make_settings(tmp_path, allow_hosts=""))
    token, _ = service.store.create_key("t")
    with TestClient(create_app(service)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def tasks(client) -> int:
    return client.post("/api/v3/predictions", json={}).json()["data"]["total"]


def test_bad_input_table(client):
    failures = []
    for name, body, status, code, param in CASES:
        r = client.post(ROUTE, json=body)
        error = r.json().get("error") if r.headers.get("content-type") == "application/json" else None
        if r.status_code != status or not isinstance(error, dict):
            failures.append(f"{name}: {r.status_code} {r.text[:200]}")
            continue
        if (error.get("code"), error.get("param")) != (code, param) or not error.get("message") or not error["type"]:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)
    assert tasks(client) == 0


def test_malformed_bodies_and_auth(client):
    for raw in (b"{not json", b"[1, 2]"):
        r = client.post(ROUTE, content=raw)
        assert r.status_code == 400 and r.json()["error"]["type"] == "BadRequest"
    limit = client.app.state.service.settings.max_request_bytes
    r = client.post(ROUTE, content=b" " * (limit + 1), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and str(limit) in r.json()["error"]["message"]
    r = client.post(ROUTE, json=GOOD, headers={"Authorization": "Bearer sk_nope"})
    assert r.status_code == 401 and r.json()["error"] == {
        "code": "AuthenticationError",
        "message": r.json()["error"]["message"],
        "param": "",
        "type": "Unauthorized",
    }
    assert tasks(client) == 0


def test_a_bad_stream_request_is_plain_json(client):
    r = client.post(ROUTE, json=with_(stream=True, size="nope"))
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.json()["error"]["param"] == "size"


def test_explicit_nulls_are_absent(client):
    r = client.post(ROUTE, json=SDK_NULLS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["data"]) == 2 and body["usage"]["generated_images"] == 2  # "a pair", max_images 2
    assert body["created"] == body["created_at"] and body["model"] == "seedream-4-0-250828"
    pid = r.headers["x-seqedit-prediction-id"]
    row = client.get(f"/api/v3/predictions/{pid}/result").json()["data"]
    assert row["input"]["watermark"] is True  # null: Ark's default, marked
    assert row["model"] == "seedream-4-0-250828" and row["status"] == "completed"


def test_optimize_mode_is_recorded(client):
    r = client.post(ROUTE, json=with_(optimize_prompt_options={"mode": "fast"}, seed=5))
    assert r.status_code == 200, r.text
    row = client.get(f"/api/v3/predictions/{r.headers['x-seqedit-prediction-id']}/result").json()["data"]
    assert row["input"]["optimize_prompt_options"] == {"mode": "fast"} and row["seed"] == 5


@pytest.mark.parametrize(
    ("prompt", "cap", "count"),
    [
        ("make it blue", 15, 1),  # asks for nothing: one image
        ("a series of 4 images", 15, 4),
        ("a series of 4 images", 3, 3),  # capped
        ("Panel 1: red\nPanel 2: blue\nPanel 3: green", 15, 3),
        ("the same person at ages 25, 45 and 65", 10, 3),
        ("fifteen covers", 15, 15),
    ],
)
def test_auto_count(prompt, cap, count):
    assert auto_count(prompt, cap) == count


def test_fuzzed_bodies_never_500(client):
    """Hypothesis bodies from the published ``ArkRequest`` schema: a 200 (JSON or a stream ending in
    ``[DONE]``) or a 4xx in Ark's error body, never a 500."""
    from hypothesis import given

    from seqedit.api.openapi import ARK_REQUEST

    from .test_fuzz import FUZZ, body_for

    props = {**ARK_REQUEST["properties"], "image": {"type": "array", "maxItems": 3}}

    @FUZZ
    @given(body=body_for(props))
    def run(body):
        r = client.post(
            ROUTE, content=json.dumps(body, allow_nan=True).encode(), headers={"Content-Type": "application/json"}
        )
        assert r.status_code < 500, f"{str(body)[:300]} -> {r.status_code} {r.text[:300]}"
        if r.headers["content-type"].startswith("text/event-stream"):
            assert r.text.rstrip().endswith("data: [DONE]")
        elif r.status_code == 200:
            assert r.json()["usage"]["generated_images"] == len(r.json()["data"])
        else:
            assert set(r.json()["error"]) == {"code", "message", "param", "type"}

    run()
