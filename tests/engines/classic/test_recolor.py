"""Recolour lands on the target, keeps structure, leaves the outside alone; colorways find their parts."""

from __future__ import annotations

import numpy as np
import pytest
from mask_color_images import astronaut, delta_e, edge_agreement, erode, mean_lab, present_rgba, shoe

from seqedit.engines.classic.colors import parse_color, parse_colorway
from seqedit.engines.classic.masks import DegenerateMask, MaskSet
from seqedit.engines.classic.recolor import apply_colorway, colorway, colorway_parts, mean_change, recolor


@pytest.fixture(scope="module")
def suit() -> tuple[np.ndarray, np.ndarray]:
    img = astronaut()
    return img, MaskSet(img).clothes().mask


@pytest.fixture(scope="module")
def shoe_parts():
    img, truth = shoe()
    subject = MaskSet(img).subject().mask
    return img, truth, subject, colorway_parts(img, subject, seed=0)


@pytest.mark.parametrize("phrase", ["navy", "forest green", "white", "matte red", "black", "pastel pink"])
def test_suit_lands_on_target_and_keeps_structure(suit, phrase: str) -> None:
    img, mask = suit
    color = parse_color(phrase)
    out = recolor(img, mask, color)
    assert out.dtype == np.float32 and out.shape == img.shape
    inside = mask > 0.5
    assert delta_e(mean_lab(out, inside), color.lab) < 12.0
    assert edge_agreement(img, out, erode(inside, 2)) >= 0.6
    outside = mask == 0
    assert np.array_equal(out[outside], img[outside])  # bit-for-bit


def test_target_may_be_a_phrase_or_rgb_and_finish_matters(suit) -> None:
    img, mask = suit
    inside = mask > 0.5
    by_name = recolor(img, mask, "teal")
    by_rgb = recolor(img, mask, parse_color("teal").rgb)
    assert np.allclose(by_name, by_rgb)
    L = lambda x: np.percentile(mean_lab_pixels(x, inside), 99)  # noqa: E731
    matte = recolor(img, mask, "red", finish="matte")
    glossy = recolor(img, mask, "red", finish="glossy")
    assert L(glossy) > L(matte) + 5  # glossy keeps speculars, matte flattens them


def mean_lab_pixels(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(img, cv2.COLOR_RGB2Lab)[..., 0][mask]


def test_empty_mask_is_refused_not_ignored(suit) -> None:
    img, _ = suit
    with pytest.raises(DegenerateMask):
        recolor(img, np.zeros(img.shape[:2], np.float32), "navy")


def test_parts_of_a_drawn_shoe(shoe_parts) -> None:
    img, truth, subject, parts = shoe_parts
    assert parts.found == {"primary": True, "accent": True, "sole": True}
    for part, key in (("primary", "upper"), ("accent", "logo"), ("sole", "sole")):
        m = parts.mask(part) > 0.5
        t = erode(truth[key], 2)
        assert (m & t).sum() / t.sum() > 0.85, part  # covers its part
    assert ((parts.accent > 0.5) & erode(truth["upper"], 3)).sum() < 0.02 * truth["upper"].sum()
    total = parts.primary + parts.accent + parts.sole
    assert np.all(total <= subject + 1e-4)  # a partition of the subject, no spill


@pytest.mark.parametrize(
    "phrase",
    ["classic white + black swoosh", "navy + gold accents", "matte red + white outsole", "forest green + gum sole"],
)
def test_colorways_on_precomputed_parts(shoe_parts, phrase: str) -> None:
    img, truth, subject, parts = shoe_parts
    colors = parse_colorway(phrase)
    out, warnings = apply_colorway(img, parts, colors)
    assert warnings == []
    region = {"primary": "upper", "accent": "logo", "sole": "sole"}
    for part, color in colors.items():
        inside = erode(truth[region[part]], 2)
        assert delta_e(mean_lab(out, inside), color.lab) < 12.0, part
    for part in {"primary", "accent", "sole"} - set(colors):  # unnamed parts keep their colour
        inside = erode(truth[region[part]], 2)
        assert delta_e(mean_lab(out, inside), mean_lab(img, inside)) < 3.0, part
    outside = subject == 0
    assert np.array_equal(out[outside], img[outside])
    for key in ("upper", "logo", "sole"):  # structure (stitching, texture, outlines) kept inside each part
        assert edge_agreement(img, out, erode(truth[key], 1)) >= 0.6, key


def test_missing_part_is_a_warning() -> None:
    box = MaskSet.from_image(present_rgba())
    img = box.img
    out, warnings = colorway(img, box.subject().mask, parse_colorway("matte red + white outsole"), seed=0)
    assert any("sole" in w for w in warnings)  # a gift box has no sole: say so
    body = box.subject().mask > 0.5
    assert not np.allclose(out[body], img[body])  # but the primary colour was applied


def test_plain_product_reports_missing_sole_and_accent() -> None:
    img, truth = shoe(upper=(60, 90, 170), sole=(60, 90, 170), logo=(60, 90, 170))  # one material
    parts = colorway_parts(img, MaskSet(img).subject().mask, seed=0)
    assert parts.found == {"primary": True, "accent": False, "sole": False}
    out, warnings = apply_colorway(img, parts, parse_colorway("forest green + gum sole + gold swoosh"))
    assert len(warnings) == 2 and any("sole" in w for w in warnings) and any("accent" in w for w in warnings)
    body = erode(truth["subject"], 2)
    assert delta_e(mean_lab(out, body), parse_color("forest green").lab) < 12.0


def test_person_cut_off_at_the_bottom_has_no_sole(suit) -> None:
    img, mask = suit
    parts = colorway_parts(img, mask, seed=0)
    assert not parts.found["sole"] and "cut off" in parts.notes["sole"]


def test_same_seed_same_parts_and_pixels() -> None:
    img, _ = shoe(seed=3)
    subject = MaskSet(img).subject().mask
    a = colorway_parts(img, subject, seed=5)
    b = colorway_parts(img, subject, seed=5)
    for part in ("primary", "accent", "sole"):
        assert np.array_equal(a.mask(part), b.mask(part))
    colors = {"primary": "navy", "accent": "gold", "sole": "gum"}
    assert np.array_equal(apply_colorway(img, a, colors)[0], apply_colorway(img, b, colors)[0])


def test_unknown_part_name_is_an_error(shoe_parts) -> None:
    img, _, _, parts = shoe_parts
    out, _ = apply_colorway(img, parts, {"trim": "gold"})  # alias of accent
    with pytest.raises(ValueError):
        apply_colorway(img, parts, {"hood": "gold"})


def test_parts_cached_on_the_mask_set_and_change_measured() -> None:
    img, _ = shoe()
    ms = MaskSet(img)
    calls = []

    def make():
        calls.append(1)
        return colorway_parts(ms.img, ms.subject().mask, seed=ms.seed)

    parts = ms.cached("colorway_parts", make)
    assert ms.cached("colorway_parts", make) is parts and len(calls) == 1
    out, _ = apply_colorway(img, parts, {"primary": "navy"})
    assert mean_change(img, out, parts.primary) > 20.0
    same, _ = apply_colorway(img, parts, {"primary": "red"})
    assert mean_change(img, same, parts.primary) < mean_change(img, out, parts.primary)
    assert mean_change(img, img) == 0.0
