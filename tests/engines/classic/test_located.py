"""Located masks on real photos: the object inside a <bbox> or under a <point>, judged before use.

What is asserted is what the masks are, looked at by eye (PNGs under /tmp while this was written):
the crema of the coffee photo by box, the cat's nose and eye by point, are good and lie where the
tag says. Refused with the reason: a point on part of something (the pale crema, half the saucer);
the saucer box (it also holds the cup, the spoon and the crema); the cup box (its red body is the
saucer's colour); the astronaut's helmet and mission patch (strong edges and print inside); a
whole-image box, a tiny box and a box of plain table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from seqedit.engines.classic.arrays import to_float
from seqedit.engines.classic.located import located_mask
from seqedit.engines.classic.masks import MaskSet

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def coffee() -> np.ndarray:
    return to_float(Image.open(EXAMPLES / "coffee.jpg").convert("RGB"))


def inside(mask: np.ndarray, where: tuple[float, ...]) -> float:
    """Share of the mask inside the 0-1000 box."""
    h, w = mask.shape
    x1, y1, x2, y2 = (int(v * (w if i % 2 == 0 else h) / 1000) for i, v in enumerate(where))
    m = mask > 0.5
    return float(m[y1:y2, x1:x2].sum()) / max(1.0, float(m.sum()))


CREMA = (342.0, 238.0, 617.0, 488.0)


def test_the_crema_by_box_is_good_and_stays_in_the_box() -> None:
    img = coffee()
    r = located_mask(img, ("bbox", CREMA), seed=1)
    assert r.quality == "good", r.note
    assert inside(r.mask, CREMA) > 0.99
    h, w = r.mask.shape
    assert r.mask[int(0.36 * h), int(0.48 * w)] > 0.9  # the middle of the crema
    assert r.mask[int(0.26 * h), int(0.36 * w)] < 0.1  # the cup's white rim at the box's corner
    assert 0.03 < r.area < 0.08


def test_a_point_on_part_of_something_is_refused() -> None:
    # the point's region is the pale crema only; a box around it finds the whole coffee (and the saucer's
    # left half, cut off by a highlight, grows into the rest): a part, not an object
    for at in ((480.0, 370.0), (237.0, 591.0)):
        r = located_mask(coffee(), ("point", at), seed=1)
        assert r.quality == "degenerate" and "part of something larger" in r.note, r.note


def test_a_point_on_the_cats_eye_finds_the_eye() -> None:
    img = to_float(Image.fromarray(skimage.data.chelsea()))
    r = located_mask(img, ("point", (360.0, 330.0)), seed=1)
    assert r.quality == "good", r.note
    assert inside(r.mask, (280.0, 250.0, 480.0, 500.0)) > 0.95  # the left eye, not the face
    assert 0.01 < r.area < 0.05


def test_a_point_on_the_cat_finds_its_nose_only() -> None:
    img = to_float(Image.fromarray(skimage.data.chelsea()))
    r = located_mask(img, ("point", (576.0, 816.0)), seed=1)
    assert r.quality == "good", r.note
    assert 0.003 < r.area < 0.03  # the nose, not the face
    assert inside(r.mask, (500.0, 720.0, 660.0, 900.0)) > 0.95


@pytest.mark.parametrize(
    ("where", "why"),
    [
        (("bbox", (125.0, 175.0, 800.0, 975.0)), "several things"),  # the saucer box holds the cup too
        (("bbox", (283.0, 38.0, 683.0, 775.0)), "disagree"),  # the cup's red body is the saucer's red
        (("bbox", (0.0, 0.0, 1000.0, 1000.0)), "whole image"),
        (("bbox", (10.0, 10.0, 20.0, 20.0)), "too small"),
        (("bbox", (850.0, 0.0, 1000.0, 300.0)), "edges"),  # plain table: nothing there
        (("point", (200.0, 700.0)), "runs past"),  # the saucer and the cup are one red region
    ],
)
def test_what_cannot_be_told_apart_is_refused_with_the_reason(where, why: str) -> None:
    r = located_mask(coffee(), where, seed=1)
    assert r.quality == "degenerate" and why in r.note, r.note


@pytest.mark.parametrize(
    "box",
    [(543.0, 670.0, 1000.0, 1000.0), (260.0, 678.0, 410.0, 826.0)],  # the helmet, the mission patch
)
def test_astronaut_helmet_and_patch_are_refused_not_guessed(box) -> None:
    r = located_mask(to_float(Image.fromarray(skimage.data.astronaut())), ("bbox", box), seed=1)
    assert r.quality == "degenerate" and r.note


def test_same_seed_same_mask_and_cached_per_reference() -> None:
    img = coffee()
    a = located_mask(img, ("bbox", CREMA), seed=3)
    b = located_mask(img, ("bbox", CREMA), seed=3)
    assert np.array_equal(a.mask, b.mask)
    ms = MaskSet(img, seed=3)
    calls = []
    first = ms.cached("located:x", lambda: calls.append(1) or a)
    again = ms.cached("located:x", lambda: calls.append(1) or b)
    assert first is again and calls == [1]
