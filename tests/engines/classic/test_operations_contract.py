"""The contract between the classic router and its renderers: every form the router can emit renders.

For every operation the router can route to and every parameter form it can emit for it (read from the
router's own tables, so the list cannot drift from what it emits), one small panel is rendered through
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
from seqedit.engines.classic.router import vocabulary as router
from seqedit.engines.classic.colors import FINISH_WORDS, PROMPT_COLOR_NAMES
from seqedit.engines.classic.engine import ClassicEngine
from seqedit.engines.classic.spec import ORDER, OpSpec
from seqedit.plan import make_plan
from seqedit.request import EditRequest

SIDE = 96
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _kinds(table: list[tuple[str, str]]) -> list[str]:
    return [value for value, _ in table]


def forms() -> list[tuple[str, dict[str, Any]]]:
    """(operation, params) for every renderable form the router emits (``router.vocabulary._params``)."""
    colors = list(PROMPT_COLOR_NAMES)
    out: list[tuple[str, dict[str, Any]]] = []
    out += [("recolor", {"colors": {"primary": c}}) for c in colors]
    for target in (None, "hair", "clothes"):
        for finish in (None, *sorted(set(FINISH_WORDS.values()))):
            params: dict[str, Any] = {"colors": {"primary": "pastel pink", "accent": "gold", "sole": "gum"}}
            params |= {"finish": finish} if finish else {}
            params |= {"target": target} if target else {}
            out.append(("recolor", params))
    for kind in _kinds(router._BACKGROUND):
        out += [("background", {"kind": kind, "ref": r}) for r in (0, 1)] if kind == "reference" else [
            ("background", {"kind": kind})]
    out += [("background", {"kind": "color", "color": c}) for c in colors]
    out += [("style", {"style": s}) for s in _kinds(router._STYLE)]
    out += [("look", {"look": k}) for k in _kinds(router._LOOK)]
    out += [("time_of_day", {"time": t}) for t in _kinds(router._TIME)]
    out += [("lighting", {"kind": k, **({"side": s} if s else {})})
            for k in _kinds(router._LIGHTING) for s in (None, *_kinds(router._SIDE))]
    for kind in _kinds(router._FRAMING):
        aspects = ["1:1", "16:9", "9:16", "4:5", "3:2", "21:9"] if kind == "aspect" else [None]
        out += [("framing", {"kind": kind, **({"aspect": a} if a else {})}) for a in aspects]
    for kind in _kinds(router._FRAME):
        out += [("frame", {"kind": kind, **({"color": c} if c else {})}) for c in (None, "navy blue", "platinum")]
    out += [("caption", {"text": "Hello there", **({"position": p} if p else {})}) for p in (None, "top", "bottom")]
    out += [("cover", {}), ("cover", {"title": "SEQEDIT"}), ("cover", {"variant": 3})]
    out += [("layout", {"kind": k}) for k in _kinds(router._LAYOUT)]
    out += [("remove", {"what": w}) for w in (*_kinds(router._REMOVE), "object")]
    return out


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
    plan = make_plan(EditRequest.create(prompt="contract", images=["a.png", "b.png"], max_images=2,
                                        size=f"{SIDE}*{SIDE}"))
    photo = Image.open(EXAMPLES / "astronaut.jpg").convert("RGB").resize((SIDE, SIDE), Image.LANCZOS)
    refs = engine._prepare_refs(plan, [_photo(0), photo])  # panel 1: synthetic, panel 2: a real face
    return engine, plan, refs


def test_the_forms_cover_every_renderable_operation() -> None:
    assert {name for name, _ in forms()} == set(ORDER)


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
