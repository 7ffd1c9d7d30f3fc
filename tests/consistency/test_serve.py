"""A real ``seqedit serve`` with the drift-once fixture engine (a plugin): the prediction's ``consistency``
field shows the re-render of panel 3 and the figures; the plan says what will be checked."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fixtures.server import Server
from seqedit.consistency import faces

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
ROOT = Path(__file__).resolve().parents[2]
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"
pytestmark = pytest.mark.skipif(faces.missing() is not None, reason="the consistency extra is not installed")


def _body() -> dict:
    ref = "data:image/jpeg;base64," + base64.b64encode(ASTRONAUT.read_bytes()).decode()
    return {
        "prompt": "a series of 4 portraits of this person",
        "images": [ref],
        "size": "256*256",
        "max_images": 4,
        "seed": 11,
        "enable_sync_mode": True,
    }


def test_the_prediction_carries_the_figures_and_the_guards_retry(tmp_path):
    server = Server(tmp_path, engine="test-drift-once", SEQEDIT_PLUGINS="fixtures.engines.drifting").start(timeout=120)
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=180) as c:
            plan = c.post(MODEL + "/plan", json=_body()).json()["data"]
            checks = {check["name"]: check for check in plan["consistency"]["checks"]}
            assert plan["consistency"]["guard"] is True and plan["consistency"]["max_retries"] == 2
            assert checks["identity"]["panels"] == [1, 2, 3, 4] and checks["identity"]["guarded"] is True
            assert checks["product"]["panels"] == [] and checks["product"]["reason"].startswith("the instruction")

            data = c.post(MODEL, json=_body()).json()["data"]
            assert data["status"] == "completed", data
            report = data["consistency"]
            assert [(r["panel"], r["attempt"]) for r in report["retries"]] == [(3, 1)]
            assert "identity" in report["retries"][0]["reason"]
            assert [p["figures"]["identity"]["passed"] for p in report["panels"]] == [True] * 4
            assert report["warnings"] == [] and len(data["outputs"]) == 4
            # a poll answers the same, and the Python SDK reads it
            polled = c.get(f"/api/v3/predictions/{data['id']}/result").json()["data"]
            assert polled["consistency"] == report
            from seqedit.sdk import Client

            with Client(server.url, api_key=server.key) as sdk:
                assert sdk.result(data["id"]).consistency == report
                assert sdk.plan(_body()).consistency["checks"][0]["name"] == "identity"
            # and `seqedit edit --server` prints the table and writes the figures to set.json
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
            args = [str(ASTRONAUT), "-p", "a series of 4 portraits of this person", "-n", "4", "--size", "256*256"]
            args += ["--seed", "11", "-o", str(tmp_path / "out"), "--server", server.url, "--api-key", server.key]
            done = subprocess.run(
                [sys.executable, "-m", "seqedit", "edit", *args],
                capture_output=True,
                text=True,
                env={**env, "COLUMNS": "160"},
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            assert "consistency" in done.stdout and "identity" in done.stdout, done.stdout
            record = json.loads((tmp_path / "out" / "set.json").read_text())
            assert [r["panel"] for r in record["consistency"]["retries"]] == [3]
    finally:
        server.kill(signal.SIGTERM)
