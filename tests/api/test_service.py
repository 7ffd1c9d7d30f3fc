"""``api.service``: the retention sweep and start-up recovery."""

from __future__ import annotations

import time

from fixtures.images import data_uri, png
from seqedit.api.app import make_service
from seqedit.service import API_ONLY

from .conftest import make_settings, wait_status

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"


def test_retention_sweep_deletes_objects_then_rows(client, auth, service):
    up = client.post("/api/v3/media/upload/binary", files={"file": ("a.png", png())}, headers=auth).json()["data"]
    d = client.post(
        MODEL,
        json={
            "prompt": "p",
            "images": [up["download_url"]],
            "size": "64*64",
            "max_images": 2,
            "enable_sync_mode": True,
        },
        headers=auth,
    ).json()["data"]
    assert d["status"] == "completed"
    assert service.sweep() == (0, 0)  # nothing has expired yet
    preds, uploads = service.sweep(now=time.time() + service.settings.retention + 1)
    assert preds == 1 and uploads == 1
    assert client.get(f"/api/v3/predictions/{d['id']}/result", headers=auth).status_code == 404
    assert client.get(d["outputs"][0]).status_code == 404
    assert client.get(up["download_url"]).status_code == 404
    assert not list((service.settings.data_dir / "objects").rglob("*.jpg"))


def test_startup_recovers_jobs_left_processing(tmp_path):
    first = make_service(make_settings(tmp_path), roles=API_ONLY)
    token, key = first.store.create_key("k")
    row, _ = first.store.create(
        key_id=key["id"],
        model="m",
        input={},
        total=1,
        output_format="jpeg",
        cost="0",
        retention=60,
        request={"prompt": "p", "images": [data_uri(png())], "max_images": 1, "size": "64*64"},
    )
    assert first.store.claim(row["id"], lease=3600, max_attempts=3).attempt == 1  # then the process died
    second = make_service(make_settings(tmp_path))
    second.start()
    try:
        deadline = time.monotonic() + 20
        while second.store.get(row["id"])["status"] != "completed" and time.monotonic() < deadline:
            time.sleep(0.02)
        got = second.store.get(row["id"])
        assert got["status"] == "completed" and got["attempt"] == 2
    finally:
        second.stop()


def test_webhook_rows_survive_for_delivery(client, auth, service):
    d = client.post(
        MODEL,
        json={"prompt": "p", "images": [data_uri(png())], "size": "64*64", "webhook_url": "http://127.0.0.1:9/h"},
        headers=auth,
    ).json()["data"]
    wait_status(client, d["id"], auth)
    [row] = service.store.webhooks(d["id"])
    assert row["message_id"] == f"{d['id']}-completed"
