"""The contract between the classic router and its renderers: every form the router can emit renders.

For every operation that renders and every parameter form it can emit (``Operation.forms``, defined next
to its parser in ``ops/<name>.py``, so the list cannot drift from what it emits), one small panel is rendered through
the engine's panel path, on a synthetic scene and on a bundled photo with a face. Nothing but
``Unsupported`` (an honest refusal naming what is missing) may escape: a ``ValueError`` or ``TypeError``
from a renderer is a bug the user would see as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from seqedit.engines.base import NullProgress, Unsupported
from seqedit.engines.classic.engine import ClassicEngine
from seqedit.engines.classic.ops import OpSpec, rendered
from seqedit.plan import make_plan
from seqedit.request import EditRequest

SIDE = 96
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def forms() -> list[tuple[str, dict[str, Any]]]:
    """(operation, params) for every renderable form the router emits (each ``Operation.forms``)."""
    return [(op.name, dict(params)) for op in rendered() for params in op.forms()]


def _photo(seed: int) -> Image.Image:
    """A small synthetic portrait-like scene: a sky gradient, a head and shoulders, a little text."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    img = np.stack([0.45 + 0.3 * y, 0.6 + 0.2 * y, 0.9 - 0.1 * y], axis=-1)
    head = ((x - 0.5) / 0.16) ** 2 + ((y - 0.38) / 0.2) ** 2 < 1
    body = ((x - 0.5) / 0.38) ** 2 + ((y - 1.05) / 0.45) ** 2 < 1
    img[head] = (0.86, 0.66, 0.55)
    img[body] = (0.2, 0.25, 0.55)
    img += rng.normal(0, 0.02, img.shape)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def setup() -> tuple[ClassicEngine, Any, list[Any]]:
    engine = ClassicEngine()
    plan = make_plan(
        EditRequest.create(prompt="contract", images=["a.png", "b.png"], max_images=2, size=f"{SIDE}*{SIDE}")
    )
    photo = Image.open(EXAMPLES / "astronaut.jpg").convert("RGB").resize((SIDE, SIDE), Image.LANCZOS)
    refs = engine._prepare_refs(plan, [_photo(0), photo])  # panel 1: synthetic, panel 2: a real face
    return engine, plan, refs


def test_the_forms_cover_every_renderable_operation() -> None:
    assert {name for name, _ in forms()} == {op.name for op in rendered()}


@pytest.mark.parametrize("k", [1, 2])
def test_every_form_renders_or_refuses(setup: tuple[ClassicEngine, Any, list[Any]], k: int) -> None:
    engine, plan, refs = setup
    crashes = []
    for name, params in forms():
        op = OpSpec(name, params, f"(contract {name})")
        try:
            panel = engine._render(k, plan, [op], refs, NullProgress())
            assert np.isfinite(panel.img).all() and panel.img.ndim == 3, (name, params)
            out = engine._finish(k, panel, plan)
            assert out.size == (SIDE, SIDE), (name, params)
        except Unsupported:
            continue
        except Exception as exc:  # noqa: BLE001 - the contract: nothing else may escape
            crashes.append(f"{name} {params}: {type(exc).__name__}: {exc}")
    assert not crashes, "\n".join(crashes)
