"""The engine's last step: an unchanged panel is refused, but a cut-out whose only change is its
transparency is a change (its RGB may equal the source)."""

from __future__ import annotations

import numpy as np
import pytest

from seqedit.engines.base import Unsupported
from seqedit.engines.classic.engine import ClassicEngine
from seqedit.engines.classic.masks import MaskSet
from seqedit.engines.classic.panel import Panel, Ref
from seqedit.plan import make_plan
from seqedit.request import EditRequest


def _panel(alpha: np.ndarray | None) -> tuple[Panel, object]:
    rng = np.random.default_rng(0)
    img = rng.random((64, 96, 3), dtype=np.float32)
    ref = Ref(img, MaskSet(img))
    plan = make_plan(EditRequest.create(prompt="remove the background", images=["r.png"], size="96*64"))
    return Panel(img.copy(), ref, alpha=alpha), plan


def test_an_unchanged_panel_is_refused() -> None:
    panel, plan = _panel(None)
    with pytest.raises(Unsupported, match="unchanged"):
        ClassicEngine()._finish(1, panel, plan)


def test_a_cut_out_with_unchanged_rgb_is_a_change() -> None:
    alpha = np.ones((64, 96), np.float32)
    alpha[:, :30] = 0.0
    panel, plan = _panel(alpha)
    im = ClassicEngine()._finish(1, panel, plan)
    assert im.mode == "RGBA" and im.size == (96, 64)
    assert np.asarray(im)[:, :20, 3].max() == 0
