"""One real ``seqedit serve --engine classic`` on loopback for the SDK tests, and small real photos."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import pytest
from PIL import Image

from fixtures.server import Server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def small_photo(name: str, folder: Path, long_side: int = 256) -> Path:
    """``examples/<name>`` shrunk to ``long_side`` pixels, saved as JPEG in ``folder``."""
    im = Image.open(EXAMPLES / name).convert("RGB")
    im.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    path = folder / (Path(name).stem + ".jpg")
    im.save(path, "JPEG", quality=90)
    return path


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("sdk-serve"), engine="classic", workers=1).start(timeout=120)
    assert s.key and s.key.startswith("sk_")
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="package")
def idle_server(tmp_path_factory):
    """A server with no job consumers (``--workers 0``): every task stays queued until cancelled, so
    cancel and wait-timeout tests do not race a fast engine."""
    s = Server(tmp_path_factory.mktemp("sdk-idle"), workers=0).start(timeout=120)
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="package")
def photos(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("photos")
    return [small_photo("astronaut.jpg", d), small_photo("coffee.jpg", d)]


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im
