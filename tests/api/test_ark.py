"""The official Ark SDK (``byteplus-python-sdk-v2``, pinned 3.0.63) against a real ``seqedit serve``:
non-stream url and b64_json, streaming panel by panel as they are committed, Ark's errors, the
watermark, and a client that leaves mid-stream."""

from __future__ import annotations

import base64
import io
import json
import signal
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageChops

ark_runtime = pytest.importorskip("byteplussdkarkruntime")
from byteplussdkarkruntime import Ark  # noqa: E402
from byteplussdkarkruntime._exceptions import ArkAuthenticationError, ArkBadRequestError  # noqa: E402
from byteplussdkarkruntime.types.images import SequentialImageGenerationOptions as Options  # noqa: E402

from fixtures.images import data_uri, png  # noqa: E402
from fixtures.server import Server  # noqa: E402
from seqedit.sizes import fit  # noqa: E402

MODEL = "seedream-4-0-250828"
SHOTS = Path("/tmp/ark")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("ark"), engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="0.5").start()
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def client(server):
    return Ark(base_url=server.url + "/api/v3", api_key=server.key, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def ref():
    return data_uri(png(160, 120, (200, 60, 40)))


def history(server) -> list[dict]:
    r = httpx.post(f"{server.url}/api/v3/predictions", json={"page_size": 100}, headers=server.headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]["items"]


def save(name: str, data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    SHOTS.mkdir(parents=True, exist_ok=True)
    image.save(SHOTS / f"{name}.png")
    return image


def test_non_stream_urls(client, ref):
    r = client.images.generate(
        model=MODEL,
        prompt="a series of 3 product shots of this object",
        image=ref,
        size="128x96",
        sequential_image_generation="auto",
        sequential_image_generation_options=Options(max_images=5),
        response_format="url",
        watermark=False,
    )
    assert r.model == MODEL and len(r.data) == 3  # auto: the prompt's 3, under the cap of 5
    for i, item in enumerate(r.data):
        assert item.size == "128x96"
        got = httpx.get(item.url, timeout=10)
        assert got.status_code == 200
        assert save(f"url-{i}", got.content).size == (128, 96)
    assert r.usage.generated_images == 3
    assert r.usage.output_tokens == r.usage.total_tokens == 3 * 128 * 96 // 256


def test_non_stream_b64_and_preset_size(client, ref):
    r = client.images.generate(
        model="seedream-4-5-251128",
        prompt="make it blue",
        image=[ref],
        size="1K",
        response_format="b64_json",
        watermark=False,
    )
    assert len(r.data) == 1  # disabled (the default): one image
    image = save("b64", base64.b64decode(r.data[0].b64_json))
    want = fit(160 / 120, 1024 * 1024)  # 1K at the reference's 4:3, sides multiples of 64
    assert image.size == (want.width, want.height) == (1152, 896)
    assert r.data[0].size == "1152x896" and r.usage.generated_images == 1


def test_stream_one_event_per_panel_while_the_rest_render(server, client, ref):
    stream = client.images.generate(
        model=MODEL,
        prompt="Panel 1: red. Panel 2: green. Panel 3: blue.",
        image=ref,
        size="64x64",
        sequential_image_generation="auto",
        sequential_image_generation_options=Options(max_images=3),
        stream=True,
        watermark=False,
    )
    events, first_row = [], None
    for event in stream:
        events.append(event)
        if first_row is None:
            first_row = history(server)[0]  # the job as it is when the first event arrives
    kinds = [e.type for e in events]
    assert kinds == ["image_generation.partial_succeeded"] * 3 + ["image_generation.completed"]
    assert [e.image_index for e in events[:3]] == [0, 1, 2]
    assert first_row["status"] == "processing" and first_row["progress"]["done"] < 3  # later panels still rendering
    for e in events[:3]:
        assert e.size == "64x64" and httpx.get(e.url, timeout=10).status_code == 200
    usage = events[-1].usage  # the SDK's union parses every event as its first member: a dict here
    assert (usage if isinstance(usage, dict) else usage.model_dump())["generated_images"] == 3


def test_refs_plus_max_images_over_15_is_400_with_param(client, ref):
    with pytest.raises(ArkBadRequestError) as info:
        client.images.generate(
            model=MODEL,
            prompt="p",
            image=[ref] * 2,
            sequential_image_generation="auto",
            sequential_image_generation_options=Options(max_images=14),
        )
    err = info.value
    assert err.status_code == 400 and err.code == "InvalidParameter"
    assert err.param == "sequential_image_generation_options.max_images" and "16 > 15" in err.message


def test_wrong_key_is_401(server, ref):
    wrong = Ark(base_url=server.url + "/api/v3", api_key="sk_wrong", max_retries=0)
    with pytest.raises(ArkAuthenticationError) as info:
        wrong.images.generate(model=MODEL, prompt="p", image=ref)
    assert info.value.status_code == 401 and info.value.code == "AuthenticationError"


def test_watermark_is_drawn_bottom_right(client, ref):
    def one(mark: bool) -> Image.Image:
        r = client.images.generate(
            model=MODEL,
            prompt="p",
            image=ref,
            size="512x384",
            seed=7,
            response_format="b64_json",
            watermark=mark,
            output_format="png",
        )
        return save(f"watermark-{mark}", base64.b64decode(r.data[0].b64_json)).convert("RGB")

    marked, plain = one(True), one(None)  # null is absent: Ark's default, marked
    bare = one(False)
    assert ImageChops.difference(marked, plain).getbbox() is None
    box = ImageChops.difference(marked, bare).getbbox()
    assert box is not None, "the watermark changed no pixel"
    left, top, right, bottom = box
    assert left > 512 // 2 and top > 384 * 3 // 4 and right <= 512 and bottom <= 384  # only the bottom-right


def test_client_leaving_mid_stream_does_not_lose_the_job(server, ref):
    body = {
        "model": MODEL,
        "prompt": "a set of 4 images",
        "image": ref,
        "size": "64x64",
        "sequential_image_generation": "auto",
        "stream": True,
    }
    with httpx.stream(
        "POST", f"{server.url}/api/v3/images/generations", json=body, headers=server.headers, timeout=30
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        pid = r.headers["x-seqedit-prediction-id"]
        for line in r.iter_lines():
            if line.startswith("data:"):
                break  # the first panel's event: leave
    deadline_polls = 400
    for _ in range(deadline_polls):  # a hang guard, not a timing assert
        got = httpx.get(f"{server.url}/api/v3/predictions/{pid}/result", headers=server.headers, timeout=10)
        data = got.json()["data"]
        if data["status"] in ("completed", "failed", "cancelled"):
            break
        import time

        time.sleep(0.05)
    assert data["status"] == "completed" and len(data["outputs"]) == 4
    assert sum(1 for p in history(server) if p["id"] == pid) == 1


# ---------------------------------------------------------------------- in-process: endings other than success


@pytest.fixture
def local(tmp_path, request):
    from fastapi.testclient import TestClient

    from seqedit.api.app import create_app, make_service

    from .conftest import make_settings

    service = make_service(make_settings(tmp_path, **request.param))
    token, _ = service.store.create_key("t")
    with TestClient(create_app(service)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


BODY = {
    "model": MODEL,
    "prompt": "a set of 3 images",
    "image": data_uri(png()),
    "size": "64x64",
    "sequential_image_generation": "auto",
    "watermark": False,
}


@pytest.mark.parametrize("local", [{"engine": "test-crashing"}], indirect=True)
def test_a_job_that_fails_midway(local):
    """seqedit's jobs are all or nothing (a failed job keeps no outputs and bills none): without stream
    it is one Ark error; a stream has sent the committed panels, then one partial_failed per missing one."""
    r = local.post("/api/v3/images/generations", json=BODY)
    assert r.status_code == 500 and r.headers["x-should-retry"] == "false"
    assert r.json()["error"]["code"] == "InternalServiceError" and "test-crashing" in r.json()["error"]["message"]

    with local.stream("POST", "/api/v3/images/generations", json={**BODY, "stream": True}) as s:
        text = "".join(s.iter_text())
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    kinds = [e["type"] for e in events]
    sent = kinds.count("image_generation.partial_succeeded")  # 0 or 1: panel 1 may be withdrawn before a read
    assert sent <= 1 and kinds == ["image_generation.partial_succeeded"] * sent + [
        "image_generation.partial_failed"
    ] * (3 - sent) + ["image_generation.completed"]
    assert [e.get("image_index") for e in events[:3]] == [0, 1, 2]
    assert events[2]["error"]["code"] == "InternalServiceError"
    assert events[-1]["usage"]["generated_images"] == 0  # billed as the failed job it is
    assert text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize("local", [{"engine": "test-failing"}], indirect=True)
def test_a_job_that_made_nothing_is_an_ark_error(local):
    r = local.post("/api/v3/images/generations", json=BODY)
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidParameter"
    assert "test-failing engine cannot do" in r.json()["error"]["message"]


@pytest.mark.parametrize("local", [{"engine": "test-slow", "sync_timeout": 0.2}], indirect=True)
def test_a_wait_past_sync_timeout_is_504_no_retry_and_the_job_goes_on(local):
    r = local.post("/api/v3/images/generations", json=BODY)
    assert r.status_code == 504 and r.headers["x-should-retry"] == "false"
    assert r.json()["error"]["code"] == "RequestTimeout"
    pid = r.headers["x-seqedit-prediction-id"]
    assert pid in r.json()["error"]["message"]
    from .conftest import wait_status

    done = wait_status(local, pid, {})
    assert done["status"] == "completed" and len(done["outputs"]) == 3
