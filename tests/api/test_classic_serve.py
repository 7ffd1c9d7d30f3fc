"""``seqedit serve --engine classic``: the default CPU engine behind the real service, via the SDK."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fixtures.images import png
from fixtures.server import Server
from seqedit.engines import names


@pytest.mark.slow
def test_classic_engine_through_serve(tmp_path):
    if "classic" not in names():
        pytest.skip("the classic engine is not available")
    from wavespeed import Client

    server = Server(tmp_path, engine="classic").start()
    try:
        client = Client(api_key=server.key, base_url=server.url)
        ref = tmp_path / "ref.png"
        ref.write_bytes(png(320, 240, (180, 120, 60)))
        url = client.upload(str(ref))
        result = client.run(
            "bytedance/seedream-v4/edit-sequential",
            {
                "prompt": "a series of 2 images: in black and white, and in warm sunset light",
                "images": [url],
                "size": "320*256",
                "max_images": 2,
            },
            poll_interval=0.2,
            timeout=240,
        )
        assert len(result["outputs"]) == 2
        for out in result["outputs"]:
            assert Image.open(io.BytesIO(httpx.get(out).content)).size == (320, 256)
    finally:
        server.kill(signal.SIGTERM)


@pytest.mark.slow
def test_render_time_warnings_reach_the_prediction(tmp_path):
    """A warning the engine only finds while rendering (a repeated panel varied by framing) is in
    the prediction's ``warnings``, as in the CLI's set.json."""
    if "classic" not in names():
        pytest.skip("the classic engine is not available")
    import base64

    server = Server(tmp_path, engine="classic").start()
    try:
        # a real photo: reframing a flat colour changes nothing, and a set of identical panels is refused
        photo = Image.open(Path(__file__).resolve().parents[2] / "examples" / "coffee.jpg").convert("RGB")
        photo.thumbnail((320, 240))
        buf = io.BytesIO()
        photo.save(buf, "PNG")
        ref = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        r = httpx.post(
            f"{server.url}/api/v3/bytedance/seedream-v4/edit-sequential",
            headers=server.headers,
            json={
                "prompt": "make it black and white",
                "images": [ref],
                "size": "320*256",
                "max_images": 2,
                "enable_sync_mode": True,
            },
            timeout=120,
        )
        data = r.json()["data"]
        assert data["status"] == "completed", data
        assert len(data["outputs"]) == 2
        assert any(
            w.startswith("panel 2: approximate framing: same picture as an earlier panel") for w in data["warnings"]
        ), data["warnings"]
    finally:
        server.kill(signal.SIGTERM)
