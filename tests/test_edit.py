"""``edit``: the one run loop. ``seqedit edit`` and the job runner both get their panels from
``render``, which enforces the engine contract the same way for both."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import fixtures.engines  # noqa: F401  (registers the test engines)
from seqedit.edit import prepare, render
from seqedit.engines import EngineError, NullProgress, create
from seqedit.request import EditRequest

REF = Image.new("RGB", (64, 48), (120, 60, 30))


def run(engine_name: str, n: int = 3, fmt: str = "png") -> list:
    engine = create(engine_name)
    request = EditRequest.create(
        prompt="a series", images=["ref"], max_images=n, size="64*64", seed=5, output_format=fmt
    )
    return list(render(prepare(request, [REF], engine), engine, NullProgress()))


def test_panels_come_encoded_in_order_at_the_size():
    outputs = run("test-fast", n=3, fmt="png")
    assert [o.index for o in outputs] == [1, 2, 3]
    for o in outputs:
        im = Image.open(io.BytesIO(o.data))
        assert im.size == (64, 64) and im.format == "PNG" and 0 <= o.inference <= o.seconds


@pytest.mark.parametrize(
    ("engine", "words"),
    [
        ("test-wrong-size", "returned panel 2 at 32x64, expected 64x64"),
        ("test-wrong-mode", "returned panel 1 in mode CMYK"),
        ("test-too-few", "produced 2 of 3 panels"),
        ("test-too-many", "produced more than 3 panels"),
    ],
)
def test_a_broken_contract_fails_naming_the_panel(engine, words):
    with pytest.raises(EngineError) as info:
        run(engine)
    assert words in info.value.message and info.value.code == 5000
