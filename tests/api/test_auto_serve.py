"""``seqedit serve --engine auto``: a real server routes each request, and says so in the prediction.

The fallback is ``test-painter`` (tests/fixtures/engines/painter.py, a test engine that paints visibly
different panels), loaded as a plugin; the classic engine is the real one. Its own option
``painter_bands`` goes through ``--opt`` to show that auto passes a fallback's options on."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from fixtures.images import sneaker_uri
from fixtures.server import Server

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
COLOURWAY = "this sneaker in 3 colourways: red, navy, white"
AGES = "this woman at ages 25, 45 and 65"


def _ref() -> str:
    return sneaker_uri()


def _body(prompt: str) -> dict:
    return {"prompt": prompt, "images": [_ref()], "size": "256*192", "max_images": 3, "enable_sync_mode": True}


def _serve(tmp_path: Path, *opts: str) -> Server:
    args = tuple(a for o in opts for a in ("--opt", o))
    return Server(tmp_path, engine="auto", args=args, SEQEDIT_PLUGINS="fixtures.engines.painter").start(timeout=120)


def _pixels(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(httpx.get(url, timeout=30).content)).convert("RGB"), dtype=float)


@pytest.mark.slow
def test_serve_auto_routes_each_request_and_records_why(tmp_path):
    server = _serve(tmp_path, "fallback=test-painter", "painter_bands=2")
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=180) as c:
            # the plan endpoint shows the route before anything runs
            plan = c.post(MODEL + "/plan", json=_body(COLOURWAY)).json()["data"]
            assert plan["engine"] == "auto" and plan["supported"], plan
            assert plan["route"] == {
                "engine": "classic",
                "reason": "every clause is supported or approximate by the classic engine",
            }
            assert {v["engine"] for v in plan["verdicts"]} == {"classic"}
            plan = c.post(MODEL + "/plan", json=_body(AGES)).json()["data"]
            assert plan["route"]["engine"] == "test-painter" and plan["supported"], plan
            assert "cannot do 'age 25'" in plan["route"]["reason"]
            assert [v["note"] for v in plan["verdicts"]] == ["test engine: paints 2 band(s) per panel"] * 3

            # and the prediction records which engine ran and why
            colourway = c.post(MODEL, json=_body(COLOURWAY)).json()["data"]
            assert colourway["status"] == "completed", colourway
            assert colourway["route"]["engine"] == "classic"
            assert {v["engine"] for v in colourway["plan"]["verdicts"]} == {"classic"}
            ages = c.post(MODEL, json=_body(AGES)).json()["data"]
            assert ages["status"] == "completed", ages
            assert ages["route"]["engine"] == "test-painter" and "sent to the fallback" in ages["route"]["reason"]
            assert "test-painter paints colour bands (a test engine, no real edit)" in ages["warnings"]
            # the poll answers the same record, and the Python SDK reads it
            polled = c.get(f"/api/v3/predictions/{ages['id']}/result").json()["data"]
            assert polled["route"] == ages["route"]
            from seqedit.sdk import Client

            with Client(server.url, api_key=server.key) as sdk:
                assert sdk.result(ages["id"]).route == ages["route"]
                preview = sdk.plan(_body(COLOURWAY))
                assert preview.route is not None and preview.route["engine"] == "classic"
            for data in (colourway, ages):
                panels = [_pixels(u) for u in data["outputs"]]
                assert len(panels) == 3 and all(p.shape == (192, 256, 3) for p in panels)
                assert all(np.abs(a - b).mean() > 1 for i, a in enumerate(panels) for b in panels[i + 1 :])
    finally:
        server.kill(signal.SIGTERM)


@pytest.mark.slow
def test_serve_auto_without_a_fallback_refuses_what_classic_cannot_do_naming_the_option(tmp_path):
    server = _serve(tmp_path)
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=180) as c:
            plan = c.post(MODEL + "/plan", json=_body(AGES)).json()["data"]
            assert not plan["supported"] and "--opt fallback=ENGINE" in plan["refusal"], plan
            assert "no fallback is configured" in plan["route"]["reason"]
            failed = c.post(MODEL, json=_body(AGES)).json()["data"]
            assert failed["status"] == "failed" and failed["code"] == 1403, failed
            assert "--opt fallback=ENGINE" in failed["error"] and "$SEQEDIT_FALLBACK" in failed["error"]
            assert failed["outputs"] == []
            done = c.post(MODEL, json=_body(COLOURWAY)).json()["data"]
            assert done["status"] == "completed" and done["route"]["engine"] == "classic"
    finally:
        server.kill(signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (("fallback=nope",), "unknown fallback 'nope'"),
        (("fallback=test-painter", "painter_bands=99"), "painter_bands must be"),
        (("fallback=diffusion",), "fallback diffusion: the diffusion engine needs a model"),
    ],
)
def test_serve_auto_with_a_bad_fallback_exits_2_naming_it(tmp_path, opts, message):
    server = Server(
        tmp_path,
        engine="auto",
        args=tuple(a for o in opts for a in ("--opt", o)),
        SEQEDIT_PLUGINS="fixtures.engines.painter",
    )
    with pytest.raises(RuntimeError, match="seqedit serve exited 2") as caught:
        server.start(timeout=120)
    server.kill()
    assert message in str(caught.value) and "Traceback" not in str(caught.value)
