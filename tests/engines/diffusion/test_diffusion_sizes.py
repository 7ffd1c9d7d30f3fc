"""Pure pieces of the engine: native-size fitting, reference packing and stitching (no pipeline)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from seqedit.engines.diffusion.adapter import Native, fit_canvas, stitch  # noqa: E402
from seqedit.sizes import Size  # noqa: E402

FAMILY_RANGES = [
    Native(256 * 256, 2048 * 2048, 16),
    Native(512 * 512, 1328 * 1328, 16),
    Native(512 * 512, 1024 * 1024, 16),
    Native(256 * 256, 768 * 768, 64),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FAMILY_RANGES), st.integers(64, 8192), st.integers(64, 8192))
def test_fit_keeps_aspect_stays_in_range_and_rounds(native, w, h):
    width, height = native.fit(Size(w, h))
    m = native.multiple
    assert width % m == 0 and height % m == 0
    # within one rounding step of the clamped pixel range
    assert width * height <= (native.max_pixels**0.5 + m) ** 2 * max(w / h, h / w)
    assert (width + m) * (height + m) >= native.min_pixels
    if min(width, height) > 4 * m:  # the aspect ratio survives rounding
        assert abs(width / height - w / h) / (w / h) < 0.2


def test_fit_is_exact_inside_the_range():
    assert Native(256 * 256, 2048 * 2048, 16).fit(Size(1024, 768)) == (1024, 768)


def test_stitch_puts_references_side_by_side_at_a_common_height():
    canvas = stitch([Image.new("RGB", (100, 50), "red"), Image.new("RGB", (40, 80), "blue")])
    assert canvas.size == (100 + 25, 50)  # 40×80 scaled to height 50 is 25 wide
    assert canvas.getpixel((10, 10)) == (255, 0, 0) and canvas.getpixel((110, 10)) == (0, 0, 255)
    small = stitch([Image.new("RGB", (1000, 1000))] * 3, max_pixels=300 * 100)
    assert small.width * small.height <= 300 * 100


def test_fit_canvas_matches_the_output_area():
    im = fit_canvas(Image.new("RGB", (300, 100)), 128 * 128, 16)
    assert im.width % 16 == 0 and im.height % 16 == 0 and abs(im.width * im.height - 128 * 128) < 0.25 * 128 * 128
