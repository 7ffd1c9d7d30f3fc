"""Fair scheduling between keys, against a real ``seqedit serve``: one key's burst cannot hold
another key's job for longer than the job running when it arrived (W7)."""

from __future__ import annotations

import signal
import time

import httpx
from typer.testing import CliRunner

from fixtures.images import data_uri, png
from fixtures.server import Server
from seqedit.client.cli import app

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
PANEL = 0.3  # seconds per job (one panel each)


def test_a_second_keys_job_overtakes_a_burst(tmp_path):
    server = Server(tmp_path, engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS=str(PANEL)).start()
    try:
        made = CliRunner().invoke(app, ["keys", "create", "--name", "b", "--data-dir", str(tmp_path)])
        key_b = made.stdout.strip().splitlines()[-1]
        body = {"prompt": "p", "images": [data_uri(png())], "size": "64*64", "max_images": 1}
        with (
            httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as a,
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key_b}"}, timeout=30) as b,
        ):
            burst = [a.post(MODEL, json=body).json()["data"]["id"] for _ in range(100)]
            t0 = time.monotonic()
            pid = b.post(MODEL, json=body).json()["data"]["id"]
            while b.get(f"/api/v3/predictions/{pid}/result").json()["data"]["status"] != "completed":
                assert time.monotonic() - t0 < 20, "B's job is still waiting behind A's burst"
                time.sleep(0.05)
            waited = time.monotonic() - t0
            done_a = sum(
                a.get(f"/api/v3/predictions/{i}/result").json()["data"]["status"] == "completed" for i in burst
            )
        # the job running when B arrived, then B's own: about two jobs, with slack for a loaded machine
        assert waited < 6 * PANEL + 1.0, waited
        assert done_a < 20, done_a  # B did not wait for the burst
    finally:
        server.kill(signal.SIGTERM)
