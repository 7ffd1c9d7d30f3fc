"""Images for the consistency tests: the two bundled portraits (different people), the sneaker, variants."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageOps

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> Image.Image:
    return Image.open(EXAMPLES / name).convert("RGB")


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return load("astronaut.jpg")


@pytest.fixture(scope="session")
def hopper() -> Image.Image:
    return load("grace_hopper.jpg")


@pytest.fixture(scope="session")
def sneaker() -> Image.Image:
    return load("sneaker.png")


def variants(image: Image.Image) -> dict[str, Image.Image]:
    """The same picture, changed the ways a consistent set changes it."""
    w, h = image.size
    return {
        "crop": image.crop((w // 10, 0, w - w // 10, h - h // 5)).resize(image.size),
        "grade": ImageEnhance.Color(image).enhance(1.8),
        "darker": ImageEnhance.Brightness(image).enhance(0.6),
        "grey": ImageOps.grayscale(image).convert("RGB"),
        "mirrored": ImageOps.mirror(image),
        "larger": image.resize((w * 2, h * 2)),
    }
