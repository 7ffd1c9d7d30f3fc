"""The diffusion engine's ``rerender`` (the guard's port method) on a tiny random-weight FLUX.2 [klein]."""

from __future__ import annotations

import io
import os

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from seqedit.engines import NullProgress, create  # noqa: E402
from seqedit.engines.diffusion.tiny import build_flux2_klein, references, save_all  # noqa: E402
from seqedit.plan import make_plan  # noqa: E402
from seqedit.request import EditRequest  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytestmark = pytest.mark.diffusion


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    return save_all(tmp_path_factory.mktemp("tiny"), {"flux2_klein": build_flux2_klein})["flux2_klein"]


def engine(model, strategy):
    return create("diffusion", model=str(model), strategy=strategy, steps=2, min_pixels=64 * 64)


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def plan(n=3):
    request = EditRequest.create(
        prompt="the mug on a desk, in a kitchen, outdoors", images=["r"], size="64*64", max_images=n, seed=7
    )
    return make_plan(request)


def test_rerender_is_panel_k_from_the_references_alone_with_the_seed_given(model, monkeypatch):
    independent, anchored = engine(model, "independent"), engine(model, "anchor")
    refs = references(2)
    panels = list(independent.generate(plan(), refs, NullProgress()))
    again = independent.rerender(plan(), refs, 3, 7 + 2, NullProgress())
    assert again.size == (64, 64) and again.mode == "RGB"
    assert png(again) == png(panels[2])  # the same call as the independent strategy's panel 3
    other = independent.rerender(plan(), refs, 3, 7 + 1000 + 2, NullProgress())
    assert png(other) != png(again)  # a new seed, a new panel
    # under anchor, the re-render is re-anchored on the references (panel 1 is not passed again)
    calls = []
    pipe = anchored.load().pipe
    real = type(pipe).__call__

    def spy(pipe_self, *args, **kwargs):
        calls.append(kwargs)
        return real(pipe_self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", spy)
    list(anchored.generate(plan(), refs, NullProgress()))
    anchored.rerender(plan(), refs, 3, 1009, NullProgress())
    assert [len(c["image"]) for c in calls] == [2, 3, 3, 2]
