"""Scratch repair on real photos (issue 10, item 6): curved 1-3 px scratches, lighter and darker
than the picture, are found and repaired (ΔE to the clean photo small); real thin structures that
continue the scene (the rocket's lightning masts and towers, outlines, straight rails) are kept; a
scratch it cannot tell from the picture (a dark scratch over a dark sky) is reported, and a request
that finds nothing is refused with that report, never a silent no-op under "supported"."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.color import deltaE_cie76, rgb2lab

from seqedit.engines.base import Unsupported
from seqedit.engines.classic.inpaint import find_scratches, inpaint, removal_verdict
from seqedit.engines.classic.masks import MaskSet
from seqedit.engines.classic.ops import OPERATIONS
from seqedit.engines.classic.panel import Panel, Ref
from seqedit.plan import make_plan
from seqedit.request import EditRequest
from tests.support import photos

PHOTOS = {
    "astronaut": photos.astronaut,
    "chelsea": lambda: photos.as_f32(data.chelsea()),
    "coffee": lambda: photos.as_f32(data.coffee()),
    "grace": photos.grace_hopper,
    "rocket": lambda: photos.as_f32(data.rocket()),
}
# the rocket's two lightning masts above the small towers (x range, y range) in the 512 × 342 photo
MASTS = ((slice(100, 152), slice(154, 163)), (slice(100, 152), slice(352, 362)))


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def curved_scratches(clean: np.ndarray, seed: int, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``n`` smooth curved scratches 1, 2 and 3 px wide, alternately near-white and near-black,
    anti-aliased; returns (scratched photo, the scratch pixels)."""
    h, w = clean.shape[:2]
    rng = np.random.default_rng(seed)
    out = _u8(clean).astype(np.float32)
    truth = np.zeros((h, w), bool)
    for i in range(n):
        x0, y0 = rng.uniform(0.1, 0.9) * w, rng.uniform(0.05, 0.4) * h
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.35, 0.6) * min(h, w)
        t = np.linspace(0, 1, 200)
        bend = rng.uniform(0.08, 0.2) * length * np.sin(np.pi * t * rng.uniform(1.0, 2.0) + rng.uniform(0, 3))
        xs = x0 + np.cos(angle) * length * t - np.sin(angle) * bend
        ys = y0 + np.sin(angle) * length * t + np.cos(angle) * bend
        layer = np.zeros((h, w), np.uint8)
        cv2.polylines(layer, [np.stack([xs, ys], 1).round().astype(np.int32)], False, 255, 1 + i % 3, cv2.LINE_AA)
        a = layer.astype(np.float32)[..., None] / 255
        colour = np.array([235, 232, 225] if i % 2 == 0 else [18, 16, 14], np.float32)
        out = out * (1 - a) + colour * a
        truth |= layer > 64
    return photos.as_f32(np.clip(out + 0.5, 0, 255).astype(np.uint8)), truth


def delta_e(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    return float(deltaE_cie76(rgb2lab(a), rgb2lab(b))[where].mean())


CASES = [("astronaut", 2), ("chelsea", 1), ("chelsea", 2), ("coffee", 1), ("coffee", 2), ("grace", 2), ("rocket", 2)]


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_curved_scratches_are_found_and_repaired(name: str, seed: int) -> None:
    clean = PHOTOS[name]()
    dirty, truth = curved_scratches(clean, seed)
    report = find_scratches(dirty)
    found = report.mask > 0.5
    visible = truth & (np.abs(dirty - clean).max(axis=2) > 0.15)
    assert float(found[visible].mean()) > 0.6  # measured 0.69-1.00
    far = cv2.dilate(truth.astype(np.uint8), np.ones((7, 7), np.uint8)) == 0
    assert float((found & far).mean()) < 0.008  # little else is touched
    assert removal_verdict(report.mask) is None  # 1-3 px scratches, crossing or not, are not refused
    out, warnings = inpaint(dirty, report.mask)
    assert not any("generative" in w_ for w_ in warnings)
    band = cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    before, after = delta_e(dirty, clean, band), delta_e(out, clean, band)
    assert after < 0.5 * before  # measured: ΔE 21-38 → 4-14 on the scratch band
    assert after < 16.0


def test_the_rocket_keeps_its_masts_and_towers() -> None:
    rocket = PHOTOS["rocket"]()
    assert find_scratches(rocket).found == 0  # the old detector erased tower edges as "scratches"
    dirty, truth = curved_scratches(rocket, 2)
    out, _ = inpaint(dirty, find_scratches(dirty).mask)
    for rows, cols in MASTS:
        untouched = ~truth[rows, cols]
        assert np.array_equal(out[rows, cols][untouched], dirty[rows, cols][untouched])


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "grace", "rocket"])
def test_clean_photos_have_almost_no_scratches(name: str) -> None:
    report = find_scratches(PHOTOS[name]())
    assert float(report.mask.mean()) < 0.003  # astronaut and camera: outlines occasionally pass


def test_a_dark_scratch_over_a_dark_sky_is_reported_not_silently_missed() -> None:
    rocket = PHOTOS["rocket"]()
    h, w = rocket.shape[:2]
    dirty = _u8(rocket)
    t = np.linspace(0, 1, 200)
    pts = np.stack([60 + 300 * t, 40 + 50 * np.sin(np.pi * t)], 1).round().astype(np.int32)
    cv2.polylines(dirty, [pts], False, (18, 16, 14), 1, cv2.LINE_AA)  # 1 px, barely darker than the sky
    report = find_scratches(photos.as_f32(dirty))
    assert report.found == 0
    assert any("faint" in note and "dark scratch" in note for note in report.notes)


def _panel(img: np.ndarray) -> tuple[Panel, object]:
    plan = make_plan(EditRequest.create(prompt="remove the scratches", images=["a.png"], max_images=1))
    return Panel(img.copy(), Ref(img, MaskSet(img))), plan


def test_the_remove_op_repairs_and_warns_about_what_it_kept() -> None:
    clean = PHOTOS["coffee"]()
    dirty, truth = curved_scratches(clean, 2)
    panel, plan = _panel(dirty)
    OPERATIONS["remove"].render(panel, {"what": "scratches"}, plan, 0, [panel.ref])
    band = cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert delta_e(panel.img, clean, band) < 0.5 * delta_e(dirty, clean, band)


def test_the_remove_op_refuses_when_it_finds_no_scratch_and_says_what_it_saw() -> None:
    panel, plan = _panel(PHOTOS["rocket"]())
    with pytest.raises(Unsupported, match="found no scratches") as err:
        OPERATIONS["remove"].render(panel, {"what": "scratches"}, plan, 0, [panel.ref])
    assert "scene structure" in str(err.value) and "\n" not in str(err.value)
