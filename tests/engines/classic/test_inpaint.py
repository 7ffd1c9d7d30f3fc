"""inpaint: thin defects are found and removed; anything with area is refused, not smeared."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from seqedit.engines.classic.inpaint import REFUSAL, defect_mask, find_scratches, inpaint, removal_verdict, text_boxes
from tests.support import photos

CLEAN = {
    "astronaut": lambda: photos.as_f32(data.astronaut()),
    "coffee": lambda: photos.as_f32(data.coffee()),
    "chelsea": lambda: photos.as_f32(data.chelsea()),
    "grace": photos.grace_hopper,
}


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def draw_text(clean: np.ndarray, opacity: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A light headline and a dark footer drawn on ``clean``; returns (image, the text's pixel mask)."""
    h, w = clean.shape[:2]
    base = Image.fromarray(_u8(clean)).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    truth = Image.new("L", base.size, 0)
    alpha = round(255 * opacity)
    for xy, text, size, colour in (
        ((24, 24), "© SAMPLE 2026", 32, (255, 255, 255)),
        ((30, h - 60), "watermark text", 26, (15, 15, 15)),
    ):
        font = ImageFont.load_default(size=size)
        ImageDraw.Draw(layer).text(xy, text, font=font, fill=colour + (alpha,))
        ImageDraw.Draw(truth).text(xy, text, font=font, fill=255)
    out = Image.alpha_composite(base, layer).convert("RGB")
    return photos.as_f32(np.asarray(out)), np.asarray(truth) > 64


def draw_scratches(clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two long thin non-crossing scratches (one light, one dark); returns (image, their mask)."""
    h, w = clean.shape[:2]
    out, truth = _u8(clean).copy(), np.zeros((h, w), np.uint8)
    lines = (
        ((10, int(0.15 * h)), (int(0.55 * w), int(0.9 * h)), (240, 240, 240)),
        ((int(0.8 * w), 0), (int(0.7 * w), h - 1), (12, 12, 12)),
    )
    for p0, p1, colour in lines:
        cv2.line(out, p0, p1, colour, 2, cv2.LINE_AA)
        cv2.line(truth, p0, p1, 1, 2)
    return photos.as_f32(out), truth > 0


def error_in(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    return float(np.abs(a - b).max(axis=2)[region].mean())


# ----------------------------------------------------------------------------- detection + removal


def visible(dirty: np.ndarray, clean: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The drawn pixels that actually stand out (dark text on a dark table is not a defect to find)."""
    return truth & (np.abs(dirty - clean).max(axis=2) > 0.25)


def outside(mask: np.ndarray, margin: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) == 0


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_text_is_found_and_removed(name: str) -> None:
    clean = CLEAN[name]()
    dirty, truth = draw_text(clean)
    mask = defect_mask(dirty, "text")
    assert mask.shape == truth.shape and mask.dtype == np.float32
    found = mask > 0.5
    assert found[visible(dirty, clean, truth)].mean() > 0.85  # nearly every visible text pixel
    near = ~outside(truth, 4)
    assert (found & ~near).mean() < 0.006  # and little else
    out, warnings = inpaint(dirty, mask)
    assert warnings == [] and out.shape == dirty.shape and out.dtype == np.float32
    assert error_in(out, clean, near) < 0.35 * error_in(dirty, clean, near)
    untouched = outside(found, 6)  # pixels away from the mask are kept
    assert np.array_equal(out[untouched], dirty[untouched])


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_semi_transparent_watermark_is_removed(name: str) -> None:
    clean = CLEAN[name]()
    dirty, truth = draw_text(clean, opacity=0.6)
    mask = defect_mask(dirty, "watermark")
    assert (mask > 0.5)[visible(dirty, clean, truth)].mean() > 0.75
    out, warnings = inpaint(dirty, mask)
    near = ~outside(truth, 4)
    assert warnings == [] and error_in(out, clean, near) < 0.6 * error_in(dirty, clean, near)


def test_long_straight_lines_are_kept_as_structure_and_reported() -> None:
    """Full-frame straight lines look exactly like a mast, a cable or a rail: they are left alone and
    the report says so (the old detector removed exactly these, and the rocket's lightning masts)."""
    clean = CLEAN["chelsea"]()
    dirty, truth = draw_scratches(clean)
    report = find_scratches(dirty)
    assert float((report.mask > 0.5)[truth].mean()) < 0.1
    assert any("scene structure" in note for note in report.notes)


def test_dust_specks_on_smooth_areas_are_removed() -> None:
    clean = CLEAN["astronaut"]()
    h, w = clean.shape[:2]
    dirty, truth = _u8(clean).copy(), np.zeros((h, w), np.uint8)
    rng = np.random.default_rng(0)
    mean = cv2.blur(clean.mean(axis=2), (15, 15))
    sd = np.sqrt(np.maximum(cv2.blur(clean.mean(axis=2) ** 2, (15, 15)) - mean**2, 0))
    ys, xs = np.nonzero(sd[10:-10, 10:-10] < 0.02)  # the smooth wall and backdrop
    for i in rng.choice(len(xs), 30, replace=False):
        centre = (int(xs[i]) + 10, int(ys[i]) + 10)
        dark = mean[centre[1], centre[0]] > 0.5
        cv2.circle(dirty, centre, 2, (20, 20, 20) if dark else (235, 235, 235), -1)
        cv2.circle(truth, centre, 2, 1, -1)
    dirty_f, truth_b = photos.as_f32(dirty), truth > 0
    mask = defect_mask(dirty_f, "dust")
    assert (mask > 0.5)[truth_b].mean() > 0.8
    out, warnings = inpaint(dirty_f, mask)
    spots = cv2.dilate(truth, np.ones((3, 3), np.uint8)) > 0
    assert warnings == [] and error_in(out, clean, spots) < 0.3 * error_in(dirty_f, clean, spots)


@pytest.mark.parametrize("name", list(CLEAN))
def test_clean_photos_have_few_false_defects(name: str) -> None:
    clean = CLEAN[name]()
    assert float(defect_mask(clean, "text").mean()) < 0.005  # a row of medal ribbons can pass as print
    assert float(defect_mask(clean, "dust").mean()) < 0.005
    assert float(defect_mask(clean, "scratches").mean()) < 0.02  # rims and cables can look like scratches


def test_text_boxes_find_printed_text_and_nothing_on_plain_photos() -> None:
    page = photos.as_f32(data.page())
    assert len(text_boxes(page)) >= 4
    for name in ("astronaut", "chelsea"):
        assert text_boxes(CLEAN[name]()) == []
    dirty, truth = draw_text(CLEAN["chelsea"]())
    boxes = text_boxes(dirty)
    ys, xs = np.nonzero(truth)
    covered = np.zeros_like(truth)
    for x, y, bw, bh in boxes:
        covered[int(y) : int(np.ceil(y + bh)), int(x) : int(np.ceil(x + bw))] = True
    assert covered[ys, xs].mean() > 0.97


# ----------------------------------------------------------------------------- refusal


def test_big_blob_is_refused_not_smeared() -> None:
    clean = CLEAN["astronaut"]()
    blob = np.zeros(clean.shape[:2], np.float32)
    cv2.circle(blob, (300, 300), 40, 1.0, -1)  # an object, ~2 % of the area
    reason = removal_verdict(blob)
    assert reason is not None and REFUSAL in reason and "thick" in reason
    out, warnings = inpaint(clean, blob)
    assert warnings == [reason] and np.array_equal(out, clean)


def test_large_area_is_refused_even_when_thin() -> None:
    clean = CLEAN["chelsea"]()
    stripes = np.zeros(clean.shape[:2], np.float32)
    stripes[:, ::8] = 1.0  # 12.5 % of the image in 1 px lines
    reason = removal_verdict(stripes)
    assert reason is not None and "covers" in reason
    out, warnings = inpaint(clean, stripes)
    assert warnings == [reason] and np.array_equal(out, clean)


def test_a_page_of_text_is_too_much_to_inpaint() -> None:
    page = photos.as_f32(data.page())
    assert removal_verdict(defect_mask(page, "text")) is not None


def test_empty_mask_and_unknown_defect() -> None:
    clean = CLEAN["chelsea"]()
    out, warnings = inpaint(clean, np.zeros(clean.shape[:2], np.float32))
    assert np.array_equal(out, clean) and "nothing" in warnings[0]
    with pytest.raises(ValueError):
        defect_mask(clean, "object")


def test_inpainting_is_deterministic() -> None:
    dirty, _ = draw_text(CLEAN["coffee"]())
    mask = defect_mask(dirty, "text")
    assert inpaint(dirty, mask)[0].tobytes() == inpaint(dirty, mask)[0].tobytes()
