"""Background replace / remove: the backdrop really changes, the subject stays, edges are harmonised."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from mask_color_images import astronaut, coffee, delta_e, erode, mean_lab, shoe

from seqedit.engines.classic.background import (
    backdrop,
    city,
    composite,
    cover_fit,
    remove_background,
    replace_background,
    rgba_image,
)
from seqedit.engines.classic.colors import parse_color
from seqedit.engines.classic.masks import DegenerateMask, MaskSet


@pytest.fixture(scope="module")
def person() -> tuple[np.ndarray, np.ndarray]:
    img = astronaut()
    return img, MaskSet(img).subject().mask


@pytest.fixture(scope="module")
def product() -> tuple[np.ndarray, np.ndarray]:
    img, _ = shoe()
    return img, MaskSet(img).subject().mask


def _far_background(mask: np.ndarray) -> np.ndarray:
    return cv2.dilate((mask > 0.02).astype(np.uint8), np.ones((41, 41), np.uint8)) == 0


@pytest.mark.parametrize(
    "kind, kw",
    [
        ("studio", {}),
        ("gradient", {"color": "teal"}),
        ("city", {"seed": 1}),
        ("color", {"color": "navy"}),
        ("reference", {}),
        ("blur", {}),
    ],
)
def test_every_kind_changes_the_backdrop_and_keeps_the_subject(person, kind: str, kw: dict) -> None:
    img, mask = person
    if kind == "reference":
        kw = {"reference": coffee()}
    out = replace_background(img, mask, kind, **kw)
    assert out.dtype == np.float32 and out.shape == img.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    far = _far_background(mask)
    assert far.sum() > 1000
    assert float(np.abs(out[far] - img[far]).mean()) > 0.03  # the backdrop really changed
    core = erode(mask > 0.5, 12)
    assert delta_e(mean_lab(out, core), mean_lab(img, core)) < 10.0  # the subject did not
    if kind != "blur":
        expected = backdrop(kind, *img.shape[:2], source=img, mask=mask, **kw)
        if kind == "studio":
            return  # the floor shadow is added on top
        assert np.allclose(out[far], expected[far], atol=1e-5)  # far from the subject: the backdrop itself


def test_plain_colour_backdrop_is_that_colour(product) -> None:
    img, mask = product
    out = replace_background(img, mask, "color", color="forest green")
    far = _far_background(mask)
    assert delta_e(mean_lab(out, far), parse_color("forest green").lab) < 1.0


def test_studio_has_a_floor_shadow_under_the_product(product) -> None:
    img, mask = product
    out = replace_background(img, mask, "studio")
    plain = backdrop("studio", *img.shape[:2])
    rows = np.flatnonzero((mask > 0.5).any(axis=1))
    y = min(img.shape[0] - 1, rows[-1] + 4)
    cols = np.flatnonzero(mask[rows[-1]] > 0.5)
    x = int(cols.mean())
    assert out[y, x].mean() < plain[y, x].mean() - 0.03  # darker just below the subject
    assert np.allclose(out[5, 5], plain[5, 5], atol=1e-3)  # not in the far corner


def test_city_is_seeded() -> None:
    a, b, c = city(200, 300, seed=4), city(200, 300, seed=4), city(200, 300, seed=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == (200, 300, 3)


def test_whole_pipeline_is_deterministic(person) -> None:
    img, mask = person
    assert np.array_equal(replace_background(img, mask, "city", seed=2), replace_background(img, mask, "city", seed=2))


def test_edge_is_harmonised_not_pasted(person) -> None:
    img, mask = person
    hard = composite(img, mask, backdrop("city", *img.shape[:2], seed=1), harmonize=0.0, wrap=0.0)
    soft = replace_background(img, mask, "city", seed=1)
    rim = (mask > 0.5) & ~erode(mask > 0.5, 6)
    assert float(np.abs(soft[rim] - hard[rim]).mean()) > 0.01  # light wrap touches the rim
    core = erode(mask > 0.5, 30)
    assert float(np.abs(soft[core] - hard[core]).mean()) < float(np.abs(soft[rim] - hard[rim]).mean())


def test_remove_returns_alpha_and_clean_rgb(product) -> None:
    img, mask = product
    rgb, alpha = remove_background(img, mask)
    assert np.all(alpha <= np.clip(mask, 0, 1)) and np.all(alpha[mask >= 1.0] == 1.0)
    assert np.all(alpha[mask < 0.08] == 0.0)  # a slightly choked matte: no fringe of the old backdrop
    solid = mask > 0.95
    core = erode(solid, 4)
    assert np.allclose(rgb[core], img[core])  # only the rim is re-coloured
    im = rgba_image(rgb, alpha)
    assert im.mode == "RGBA" and im.size == (img.shape[1], img.shape[0])
    a = np.asarray(im)[..., 3]
    assert a[0, 0] == 0 and a[core].min() == 255


def test_edge_colours_are_decontaminated(product) -> None:
    img, mask = product  # red upper on off-white: edge pixels are a pink mix
    rgb, alpha = remove_background(img, mask)
    edge = (alpha > 0.15) & (alpha < 0.85)
    assert edge.sum() > 20
    assert rgb[edge].mean() < img[edge].mean()  # the white backdrop was taken out of the mix


def test_degenerate_masks_are_refused(person) -> None:
    img, _ = person
    for m in (np.zeros(img.shape[:2], np.float32), np.ones(img.shape[:2], np.float32)):
        with pytest.raises(DegenerateMask):
            replace_background(img, m, "studio")
        with pytest.raises(DegenerateMask):
            remove_background(img, m)


def test_cover_fit_and_bad_kinds() -> None:
    ref = coffee()  # 400×600
    out = cover_fit(ref, 200, 300)
    assert out.shape == (300, 200, 3)
    with pytest.raises(ValueError):
        backdrop("reference", 10, 10)
    with pytest.raises(ValueError):
        backdrop("beach", 10, 10)  # type: ignore[arg-type]
