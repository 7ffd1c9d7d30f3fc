"""``seqedit.Client`` against a real ``seqedit serve --engine classic`` on loopback, with real photos."""

from __future__ import annotations

import hashlib
import io
import json

import httpx
import pytest
from PIL import Image

import seqedit
from sdk.conftest import decode
from seqedit import Client, ImageSet
from seqedit.errors import RequestError, SeqeditError
from seqedit.sdk import ApiError, ClientError, PlanPreview, Refused, TaskCancelled, TaskFailed, Timeout

SUPPORTED = "three versions of this photo: 1. in black and white 2. in warm sunset light 3. as a pencil sketch"
GENERATIVE = "add a dragon flying over them"


@pytest.fixture(scope="module")
def client(server):
    with Client(server.url, server.key) as c:
        yield c


def _total(client: Client) -> int:
    return client.history(page_size=1).total


def test_public_names():
    assert seqedit.Client is Client and seqedit.ImageSet is ImageSet and seqedit.AsyncClient is not None


def test_edit_end_to_end(client, photos, tmp_path):
    seen = []
    result = client.edit(photos, SUPPORTED, 3, size="256*192", on_progress=lambda p: seen.append(p.status))
    assert isinstance(result, ImageSet) and len(result) == 3 and len(result.id) == 32
    assert [im.size for im in result.images] == [(256, 192)] * 3
    assert all(im.mode == "RGB" for im in result.images)
    assert len(result.urls) == 3 and all(u.startswith(client.base_url + "/files/outputs/") for u in result.urls)
    assert isinstance(result.seed, int)
    assert result.plan is not None and result.plan["count"] == 3 and result.plan["size"] == "256*192"
    assert {v.operation for v in result.verdicts} >= {"style"} and all(v.engine == "classic" for v in result.verdicts)
    assert seen[-1] == "completed"
    paths = result.save(tmp_path / "set")
    assert [p.name for p in paths] == ["1.jpg", "2.jpg", "3.jpg"]
    record = json.loads((tmp_path / "set" / "set.json").read_text())
    assert record["id"] == result.id and record["seed"] == result.seed and record["engine"] == "classic"
    for p, o in zip(paths, record["outputs"], strict=True):
        assert hashlib.sha256(p.read_bytes()).hexdigest() == o["sha256"] and (o["width"], o["height"]) == (256, 192)
        assert p.read_bytes() == httpx.get(o["url"]).content  # the server's bytes, untouched
    # the panels differ from each other and from the reference: something was edited
    a, b = (decode(p.read_bytes()).convert("L").tobytes() for p in paths[:2])
    assert a != b


def test_the_seed_repeats_a_set(client, photos):
    first = client.edit(photos[:1], "in black and white", 1, size="128*128", seed=1234)
    again = client.edit(photos[:1], "in black and white", 1, size="128*128", seed=1234)
    assert first.seed == again.seed == 1234
    assert first.outputs[0].sha256 == again.outputs[0].sha256


def test_upload_takes_paths_bytes_and_pil_images(client, photos, server):
    im = Image.open(photos[0])
    for ref in (photos[0], str(photos[0]), photos[0].read_bytes(), im):
        url = client.upload(ref)
        assert url.startswith(server.url + "/files/uploads/")
        got = decode(httpx.get(url).content)
        assert got.size == im.size
    assert client.upload("https://example.com/a.jpg") == "https://example.com/a.jpg"  # a URL is sent as is


def test_plan_answers_without_creating_a_task(client, photos):
    before = _total(client)
    preview = client.plan({"prompt": SUPPORTED, "images": photos, "size": "256*192", "max_images": 3})
    assert isinstance(preview, PlanPreview)
    assert preview.supported and preview.refusal is None and preview.engine == "classic"
    assert preview.count == 3 and preview.size == "256*192" and preview.seed is None
    assert preview.verdicts and all(v.verdict in ("supported", "approximate") for v in preview.verdicts)
    assert preview.price["max_images"] == 3 and preview.price["currency"] == "USD"
    refused = client.plan({"prompt": GENERATIVE, "images": photos})
    assert not refused.supported and refused.refusal and "dragon" in refused.refusal
    assert refused.refused_clause == GENERATIVE
    assert _total(client) == before


def test_an_unsupported_prompt_is_refused_before_any_task(client, photos):
    before = _total(client)
    with pytest.raises(Refused) as info:
        client.edit(photos, GENERATIVE, 2, size="128*128")
    assert info.value.code == 1403 and info.value.prediction is None and info.value.clause == GENERATIVE
    assert "dragon" in str(info.value)
    assert _total(client) == before


def test_a_task_the_engine_refuses_raises_refused(client, photos):
    with pytest.raises(Refused) as info:
        client.edit(photos, GENERATIVE, 1, size="128*128", check=False)
    p = info.value.prediction
    assert p is not None and p.status == "failed" and p.code == 1403 and info.value.id == p.id
    assert isinstance(info.value, TaskFailed)


def test_refuse_unsupported_at_submit_is_refused(client, photos):
    before = _total(client)
    with pytest.raises(Refused, match="dragon"):
        client.submit({"prompt": GENERATIVE, "images": photos, "refuse_unsupported": True})
    assert _total(client) == before


def test_bad_input_names_the_field(client, photos):
    for call in (
        lambda: client.edit(photos, "in black and white", 1, size="7*7"),
        lambda: client.plan({"prompt": "in black and white", "images": photos, "size": "7*7"}),
        lambda: client.submit({"prompt": "in black and white", "images": photos, "size": "7*7"}),
    ):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.status == 400 and info.value.field == "size" and "64-8192" in info.value.message
    with pytest.raises(ApiError) as info:
        client.submit({"prompt": "x", "images": photos, "max_images": 99})
    assert info.value.field == "max_images"


def test_a_missing_local_file_is_refused_before_any_request(client, photos, tmp_path):
    before = _total(client)
    with pytest.raises(RequestError) as info:
        client.edit([photos[0], tmp_path / "nope.jpg"], "in black and white", 1)
    assert info.value.field == "images[1]" and "nope.jpg" in str(info.value)
    assert _total(client) == before


def test_a_bad_key_and_an_unknown_prediction(server, client):
    with Client(server.url, "sk_wrong") as bad, pytest.raises(ApiError) as info:
        bad.history()
    assert info.value.status == 401
    with pytest.raises(ApiError) as info:
        client.result("0" * 32)
    assert info.value.status == 404
    with pytest.raises(RequestError):
        client.result("../../etc")
    with pytest.raises(ClientError, match="SEQEDIT_API_KEY"):
        Client(server.url, None)


def test_cancel_and_wait_timeout(idle_server, photos):
    with Client(idle_server.url, idle_server.key) as client:
        p = client.submit({"prompt": "in black and white", "images": photos, "max_images": 4})
        assert p.status == "created"
        with pytest.raises(Timeout) as info:
            client.wait(p.id, timeout=0.3, poll_interval=0.1)
        assert info.value.id == p.id and isinstance(info.value, TimeoutError)
        cancelled = client.cancel(p.id)
        assert cancelled.id == p.id and cancelled.status == "cancelled"
        with pytest.raises(TaskCancelled) as info:
            client.wait(p.id, timeout=60)
        assert info.value.prediction.status == "cancelled" and info.value.prediction.outputs == []


def test_history_lists_and_filters(client, photos):
    done = client.edit(photos[:1], "in black and white", 1, size="128*128")
    page = client.history(page_size=100)
    assert done.id in [p.id for p in page.items] and page.total >= 1
    completed = client.history(page_size=100, status="completed")
    assert completed.items and all(p.status == "completed" for p in completed.items)
    with pytest.raises(ApiError) as info:
        client.history(status="finished")
    assert info.value.field == "status"


def test_run_has_the_wavespeed_signature_and_shape(client, photos):
    urls = [client.upload(p) for p in photos]
    body = {"prompt": "two panels: in black and white", "images": urls, "size": "128*96", "max_images": 2}
    result = client.run("bytedance/seedream-v4/edit-sequential", body, poll_interval=0.1, timeout=120)
    assert len(result["outputs"]) == 2 and isinstance(result["seed"], int) and isinstance(result["warnings"], list)
    for url in result["outputs"]:
        assert Image.open(io.BytesIO(httpx.get(url).content)).size == (128, 96)
    sync = client.run("bytedance/seedream-v4/edit-sequential", body, enable_sync_mode=True, timeout=120)
    assert len(sync["outputs"]) == 2
    with pytest.raises(RuntimeError):  # what code written for the wavespeed SDK catches
        client.run("bytedance/seedream-v4/edit-sequential", {**body, "prompt": GENERATIVE}, poll_interval=0.1)


def test_base64_outputs_become_images(client, photos):
    urls = [client.upload(photos[0])]
    p = client.submit({"prompt": "in black and white", "images": urls, "size": "96*64", "enable_base64_output": True})
    done = client.wait(p.id, timeout=120, poll_interval=0.1)
    result = client.image_set_of(done)
    assert result.urls == [] and result.images[0].size == (96, 64)


def test_the_error_tree():
    for cls in (ApiError, Refused, TaskFailed, TaskCancelled, Timeout):
        assert issubclass(cls, ClientError) and issubclass(cls, SeqeditError) and issubclass(cls, RuntimeError)
    assert issubclass(Refused, TaskFailed) and issubclass(Timeout, TimeoutError)
