"""The WaveSpeed protocol in-process (``TestClient``): envelope, prediction object, modes, errors."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

from fixtures.images import data_uri, png
from seqedit.signing import verify_webhook  # noqa: F401

from .conftest import wait_status

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"


def body(**kw):
    b = {
        "prompt": "a series of 3 images of this object",
        "images": [data_uri(png())],
        "size": "128*64",
        "max_images": 3,
    }
    b.update(kw)
    return b


def test_submit_poll_download(client, auth):
    r = client.post(MODEL, json=body(unknown_field=1, guidance_scale=3), headers=auth)
    assert r.status_code == 200, r.text
    env = r.json()
    assert (env["code"], env["message"]) == (200, "success")
    d = env["data"]
    assert re.fullmatch(r"[0-9a-f]{32}", d["id"]) and d["status"] == "created"
    assert d["outputs"] == [] and d["has_nsfw_contents"] == [] and d["error"] == ""
    assert d["urls"]["get"].endswith(f"/api/v3/predictions/{d['id']}/result")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d["created_at"])
    assert d["executionTime"] == 0 and d["timings"] == {"inference": 0} and "code" not in d
    assert "unknown_field" not in d["input"] and d["cost"] == 0.081
    done = wait_status(client, d["id"], auth)
    assert done["status"] == "completed" and done["error"] == ""
    assert len(done["outputs"]) == 3 and done["has_nsfw_contents"] == [False] * 3
    assert done["progress"] == {"done": 3, "total": 3, "fraction": 1.0} and done["plan"]["count"] == 3
    assert isinstance(done["seed"], int) and done["executionTime"] >= 0
    for url in done["outputs"]:
        f = client.get(url)
        assert f.status_code == 200 and f.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(f.content)).size == (128, 64)
    for alias in (f"/api/v3/predictions/{d['id']}", f"/api/v2/predictions/{d['id']}/result"):
        assert client.get(alias, headers=auth).json()["data"]["outputs"] == done["outputs"]


def test_sync_mode_and_base64(client, auth):
    tricky = 'two panels; "outputs":[] in the prompt must stay text'
    r = client.post(
        MODEL, json=body(prompt=tricky, enable_sync_mode=True, enable_base64_output=True, max_images=2), headers=auth
    )
    d = r.json()["data"]
    assert d["input"]["prompt"] == tricky and d["has_nsfw_contents"] == [False, False]
    assert d["status"] == "completed" and len(d["outputs"]) == 2
    for out in d["outputs"]:
        assert Image.open(io.BytesIO(base64.b64decode(out))).format == "JPEG"
    again = client.get(f"/api/v3/predictions/{d['id']}/result", headers=auth).json()["data"]
    assert again["outputs"] == d["outputs"]


def test_sync_timeout_body(tmp_path, auth, service, client, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.5")
    service.settings.engine = "test-slow"
    service.settings.sync_timeout = 0.3
    d = client.post(MODEL, json=body(enable_sync_mode=True), headers=auth).json()["data"]
    assert d["status"] == "processing" and d["code"] == 5004
    assert d["error"].startswith("Sync mode timed out") and d["id"]
    assert wait_status(client, d["id"], auth)["status"] == "completed"  # it kept running


def test_failed_task_is_200_with_code(client, auth, service):
    service.settings.engine = "test-failing"
    d = client.post(MODEL, json=body(enable_sync_mode=True), headers=auth).json()["data"]
    assert d["status"] == "failed" and d["code"] == 1403 and "cannot do" in d["error"]
    assert d["outputs"] == [] and d["has_nsfw_contents"] == []


def test_edit_model_gives_one_output(client, auth):
    d = client.post(
        "/api/v3/bytedance/seedream-v4/edit", json=body(max_images=5, enable_sync_mode=True), headers=auth
    ).json()["data"]
    assert d["status"] == "completed" and len(d["outputs"]) == 1


def test_unknown_model_is_404_json(client, auth):
    r = client.post("/api/v3/acme/nothing", json=body(), headers=auth)
    assert r.status_code == 404 and "model not found" in r.json()["message"]


def test_auth_and_isolation(client, keys):
    a, b = ({"Authorization": f"Bearer {k}"} for k in keys)
    assert client.post(MODEL, json=body()).status_code == 401
    r = client.post(MODEL, json=body(), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["code"] == 401 and r.json()["data"] is None
    pid = client.post(MODEL, json=body(), headers=a).json()["data"]["id"]
    assert client.get(f"/api/v3/predictions/{pid}/result", headers=b).status_code == 404
    assert client.post(f"/api/v3/predictions/{pid}/cancel", headers=b).status_code == 404
    assert client.post("/api/v3/predictions", json={}, headers=b).json()["data"]["total"] == 0


def test_history_filters(client, auth):
    ids = [client.post(MODEL, json=body(enable_sync_mode=True), headers=auth).json()["data"]["id"] for _ in range(3)]
    data = client.post("/api/v3/predictions", json={"page": 1, "page_size": 2}, headers=auth).json()["data"]
    assert data["total"] == 3 and len(data["items"]) == 2
    data = client.post("/api/v3/predictions", json={"status": "failed"}, headers=auth).json()["data"]
    assert data["total"] == 0
    data = client.post(
        "/api/v3/predictions",
        json={"model": "bytedance/seedream-v4/edit-sequential", "created_after": "2000-01-01T00:00:00Z"},
        headers=auth,
    ).json()["data"]
    assert {i["id"] for i in data["items"]} <= set(ids) and data["total"] == 3


def test_cancel_queued_and_running(client, auth, service, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.3")
    service.settings.engine = "test-slow"
    first = client.post(MODEL, json=body(max_images=10), headers=auth).json()["data"]["id"]
    queued = client.post(MODEL, json=body(max_images=10), headers=auth).json()["data"]["id"]
    r = client.post(f"/api/v3/predictions/{queued}/cancel", headers=auth).json()["data"]
    assert r["status"] == "cancelled"
    wait_status(client, first, auth, statuses=("processing",))
    client.post(f"/api/v3/predictions/{first}/cancel", headers=auth)
    d = wait_status(client, first, auth)
    assert d["status"] == "cancelled" and d["outputs"] == []
    assert client.get(f"/api/v3/predictions/{queued}/result", headers=auth).json()["data"]["status"] == "cancelled"


def test_idempotency_key(client, auth):
    h = {**auth, "Idempotency-Key": "order-42"}
    a = client.post(MODEL, json=body(), headers=h).json()["data"]["id"]
    b = client.post(MODEL, json=body(), headers=h).json()["data"]["id"]
    assert a == b
    assert client.post("/api/v3/predictions", json={}, headers=auth).json()["data"]["total"] == 1


def test_concurrency_limit_429_before_task(client, service, auth, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.3")
    service.settings.engine = "test-slow"
    service.settings.key_concurrency = 1
    assert client.post(MODEL, json=body(), headers=auth).status_code == 200
    r = client.post(MODEL, json=body(), headers=auth)
    assert r.status_code == 429 and r.headers["x-should-retry"] == "false" and "at most 1" in r.json()["message"]
    assert client.post("/api/v3/predictions", json={}, headers=auth).json()["data"]["total"] == 1


def test_price_secret_health_metrics(client, auth):
    p = client.post(
        "/api/v3/model/price", json={"model": "bytedance/seedream-v4/edit-sequential", "max_images": 4}, headers=auth
    ).json()["data"]
    assert p["base_price"] == 0.108 and p["currency"] == "USD"
    assert client.get("/api/v3/webhook/secret", headers=auth).json()["data"]["secret"].startswith("whsec_")
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post(MODEL, json=body(enable_sync_mode=True), headers=auth)
    text = client.get("/metrics").text
    assert 'seqedit_queue_depth{status="created"}' in text
    assert 'seqedit_predictions{status="completed",code="0"} 1' in text
    assert "seqedit_job_duration_seconds_count 1" in text
    assert client.get("/docs").status_code == 200


JSON_ROUTES = [MODEL, "/api/v3/predictions", "/api/v3/media/uploads", "/api/v3/model/price"]


def test_deep_json_is_400_naming_the_limit_on_every_route(client, auth, service, caplog):
    """W1: a 1,000-deep body was a RecursionError (500 and a 9 KB traceback); now a 400 naming the limit."""
    limit = service.settings.max_json_depth
    deep = b'{"prompt": ' + b"[" * 1000 + b"]" * 1000 + b"}"

    def nested(depth):  # an object holding arrays: ``depth`` levels in all
        return json.dumps({"page": 1, "extra": json.loads("[" * (depth - 1) + "]" * (depth - 1))}).encode()

    just_over = nested(limit + 1)
    for route in JSON_ROUTES:
        for payload in (deep, just_over, b"[" * 100_000):
            r = client.post(route, content=payload, headers={**auth, "Content-Type": "application/json"})
            assert r.status_code == 400, (route, r.text)
            assert r.json()["limit"] == f"{limit} levels of nesting" and f"limit of {limit} levels" in r.json()["error"]
    r = client.post("/api/v3/predictions", content=nested(limit), headers=auth)
    assert r.status_code == 200, r.text
    for bad in (b'{"page": NaN}', b'{"page": Infinity}', b'{"page": 1e999}'):
        r = client.post("/api/v3/predictions", content=bad, headers=auth)
        assert r.status_code == 400 and "not valid JSON" in r.json()["message"], bad
    assert "unhandled error" not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"page": 2**62}, "page", "integer 1-1000000"),
        ({"page": 2**63 + 5}, "page", "integer 1-1000000"),
        ({"page": 0}, "page", "integer 1-1000000"),
        ({"page": -1}, "page", "integer 1-1000000"),
        ({"page": True}, "page", "integer 1-1000000"),
        ({"page": 1.5}, "page", "integer 1-1000000"),
        ({"page": "9" * 5000}, "page", "integer 1-1000000"),
        ({"page": [1]}, "page", "integer 1-1000000"),
        ({"page_size": 101}, "page_size", "integer 1-100"),
        ({"page_size": {"a": 1}}, "page_size", "integer 1-100"),
        ({"status": ["completed"]}, "status", "one of created, processing, completed, failed, cancelled"),
        ({"status": {"$ne": 1}}, "status", "one of created, processing, completed, failed, cancelled"),
        ({"status": "done"}, "status", "one of created, processing, completed, failed, cancelled"),
        ({"model": ["a", "b"]}, "model", "a model id (a string of at most 200 characters)"),
        ({"model": {"a": 1}}, "model", "a model id (a string of at most 200 characters)"),
        ({"model": 7}, "model", "a model id (a string of at most 200 characters)"),
        ({"created_after": [1]}, "created_after", "ISO-8601 time or unix seconds 0-253402300799"),
        ({"created_before": 1e300}, "created_before", "ISO-8601 time or unix seconds 0-253402300799"),
        (
            {"created_after": "0001-01-01T00:00:00+01:00"},
            "created_after",
            "ISO-8601 time or unix seconds 0-253402300799",
        ),
        ({"created_after": True}, "created_after", "ISO-8601 time or unix seconds 0-253402300799"),
    ],
)
def test_history_parameters_are_checked(client, auth, params, field, rule):
    """W2: a page of 2^62 overflowed the SQL offset, and a list as status/model reached the query: 500s."""
    r = client.post("/api/v3/predictions", json=params, headers=auth)
    assert r.status_code == 400, r.text
    assert (r.json()["field"], r.json()["limit"]) == (field, rule) and r.json()["data"] is None


def test_history_lenient_forms_still_work(client, auth):
    for params in ({"page": "2", "page_size": "5"}, {"page": 2.0}, {"page": None, "status": None, "model": ""}):
        r = client.post("/api/v3/predictions", json=params, headers=auth)
        assert r.status_code == 200, (params, r.text)
    assert client.post("/api/v3/predictions", json={"page": 1_000_000}, headers=auth).json()["data"]["items"] == []


def test_price_checks_max_images_and_model_types(client, auth):
    for bad in ({"model": "bytedance/seedream-v4/edit-sequential", "max_images": 1e300}, {"max_images": [1]}):
        r = client.post(
            "/api/v3/model/price", json={"model": "bytedance/seedream-v4/edit-sequential", **bad}, headers=auth
        )
        assert r.status_code == 400 and r.json()["field"] == "max_images", r.text
    r = client.post("/api/v3/model/price", json={"model": ["x" * 10_000]}, headers=auth)
    assert r.status_code == 404 and len(r.text) < 1000
