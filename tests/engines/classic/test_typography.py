"""Typography of the classic engine: fonts, fitted text, captions, frames, magazine covers."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from matplotlib import cbook
from PIL import Image

from seqedit.engines.classic import fonts, typography
from seqedit.engines.classic.typography import (
    caption,
    caption_layout,
    cover_layout,
    fit_text,
    frame,
    image_accent,
    magazine_cover,
    parse_color,
)

# Astronaut (512²): a face box (x, y, w, h) and a hand-made person mask (head + torso ellipses).
ASTRO_FACE = (185, 70, 115, 140)


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a[..., :3], dtype=np.float32) / np.float32(255.0)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return _f32(skimage.data.astronaut())


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return _f32(skimage.data.coffee())


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return _f32(skimage.data.chelsea())


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return _f32(np.asarray(Image.open(path).convert("RGB")))


@pytest.fixture(scope="module")
def astro_mask() -> np.ndarray:
    m = np.zeros((512, 512), np.float32)
    cv2.ellipse(m, (242, 140), (72, 100), 0, 0, 360, 1.0, -1)
    cv2.ellipse(m, (250, 430), (210, 190), 0, 0, 360, 1.0, -1)
    return m


@pytest.fixture
def no_matplotlib_fonts(monkeypatch: pytest.MonkeyPatch):
    fonts.clear_cache()
    monkeypatch.setattr(fonts, "matplotlib_font_dir", lambda: Path("/nonexistent/mpl-data/fonts/ttf"))
    yield
    fonts.clear_cache()


# ----------------------------------------------------------------------------- fonts


def test_roles_resolve_to_matplotlib_dejavu_and_are_cached() -> None:
    fonts.clear_cache()
    for role in fonts.ROLES:
        src = Path(fonts.font_source(role))
        assert src.is_file() and src.name.startswith("DejaVu") and "mpl-data" in src.parts
        assert (src.parent / "LICENSE_DEJAVU").is_file()  # the licence ships beside the fonts
        assert fonts.get_font(role, 31) is fonts.get_font(role, 31)
    assert fonts.font_source("masthead") != fonts.font_source("body")
    with pytest.raises(ValueError):
        fonts.font_source("wingdings")  # type: ignore[arg-type]


def test_fonts_fall_back_to_pillow_when_matplotlib_fonts_are_missing(
    no_matplotlib_fonts, coffee, astronaut, astro_mask
) -> None:
    assert all(fonts.font_source(r) == fonts.PILLOW_DEFAULT for r in fonts.ROLES)
    assert fonts.get_font("headline", 24) is not None
    out = caption(coffee, "Espresso, no sugar, and a long caption that must wrap onto lines")
    y0, y1 = caption_layout(*coffee.shape[:2], "Espresso, no sugar, and a long caption that must wrap onto lines").bar
    assert np.abs(out[y0:y1] - coffee[y0:y1]).mean() > 0.05
    cover = magazine_cover(astronaut, astro_mask, ASTRO_FACE, "Éclat", ["Fallback fonts", "still render"], 0)
    assert cover.dtype == np.float32 and np.isfinite(cover).all()


def test_fonts_fall_back_when_matplotlib_is_not_importable(monkeypatch: pytest.MonkeyPatch, coffee) -> None:
    fonts.clear_cache()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    try:
        assert fonts.matplotlib_font_dir() is None
        assert fonts.font_source("lettering") == fonts.PILLOW_DEFAULT
        assert caption(coffee, "still works").shape == coffee.shape
    finally:
        monkeypatch.undo()
        fonts.clear_cache()


# ----------------------------------------------------------------------------- fitted text


@pytest.mark.parametrize("box", [(400, 120), (120, 400), (60, 30), (20, 12), (7, 5), (1, 1)])
def test_fit_text_never_exceeds_its_box(box: tuple[int, int]) -> None:
    text = (
        "Supercalifragilisticexpialidocious words and a sentence long enough to need several lines "
        "of wrapping in every box"
    )
    w, h = box
    for role in fonts.ROLES:
        block = fit_text(text, role, w, h, 64, 6)
        assert block.width <= w and block.height <= h
        fill, _ = typography.text_masks(block) if block.lines else (np.zeros((0, 0)), None)
        assert fill.shape[0] <= max(1, h) and fill.shape[1] <= max(1, w)


def test_fit_text_wraps_before_shrinking_and_prefers_whole_words() -> None:
    block = fit_text("one two three four five six seven eight", "body", 200, 300, 40, 10)
    assert len(block.lines) > 1 and block.complete and block.size > 10
    assert " ".join(block.lines) == "one two three four five six seven eight"
    assert fit_text("headline", "headline", 500, 100, 30).lines == ("HEADLINE",)  # the role sets capitals


# ----------------------------------------------------------------------------- caption

LONG = (
    "A perfect cup of coffee, served on a red saucer with a silver spoon, early in the morning "
    "before the city wakes up and the street outside fills with people"
)


@pytest.mark.parametrize("position", ["bottom", "top"])
def test_caption_bar_changes_only_the_bar(coffee, position) -> None:
    h, w = coffee.shape[:2]
    out = caption(coffee, LONG, position=position)
    lay = caption_layout(h, w, LONG, position)
    y0, y1 = lay.bar
    assert out.shape == coffee.shape and out.dtype == np.float32
    assert (y0 == 0) == (position == "top") and (y1 == h) == (position == "bottom")
    outside = np.ones(h, bool)
    outside[y0:y1] = False
    assert np.array_equal(out[outside], coffee[outside])
    assert np.abs(out[y0:y1] - coffee[y0:y1]).mean() > 0.1
    assert len(lay.block.lines) > 1 and lay.block.complete  # wrapped, whole text shown
    assert " ".join(lay.block.lines) == LONG


def _ink_bbox(out: np.ndarray, background: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(np.abs(out - background).max(axis=2) > 1e-4)
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("size", [(512, 384), (60, 80), (33, 40), (20, 24), (12, 16)])
@pytest.mark.parametrize("style", ["bar", "solid", "gradient"])
def test_caption_text_stays_inside_its_box_at_any_size(size, style) -> None:
    h, w = size
    flat = np.full((h, w, 3), 0.5, np.float32)
    out = caption(flat, LONG, style=style)
    lay = caption_layout(h, w, LONG)
    # The same bar with no ink: render the caption with a block stripped of its lines.
    bar_only = flat.copy()
    y0, y1 = lay.bar
    if style == "bar":
        typography.fill_box(bar_only, (0, y0, w, y1), (0.04, 0.04, 0.05), 0.72)
    elif style == "solid":
        typography.fill_box(bar_only, (0, y0, w, y1), (0.97, 0.96, 0.93))
    if style != "gradient":
        box = _ink_bbox(out, bar_only)
        assert box is not None, "no text drawn"
        bx0, by0, bx1, by1 = lay.box
        assert bx0 <= box[0] and by0 <= box[1] and box[2] <= bx1 and box[3] <= by1
    assert lay.block.width <= lay.box[2] - lay.box[0] and lay.block.height <= lay.box[3] - lay.box[1]
    assert 0 <= y0 < y1 <= h


def test_caption_rejects_empty_text_and_unknown_style(coffee) -> None:
    with pytest.raises(ValueError):
        caption(coffee, "   ")
    with pytest.raises(ValueError):
        caption(coffee, "x", style="neon")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- frames


@pytest.mark.parametrize("kind", ["border", "polaroid", "film", "rounded"])
def test_frames_keep_size_and_frame_the_photo(chelsea, kind) -> None:
    out = frame(chelsea, kind)
    assert out.shape == chelsea.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, chelsea)
    h, w = out.shape[:2]
    centre = out[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3]
    assert centre.std() > 0.05  # the photo is still there


def test_border_and_rounded_use_the_requested_colour(chelsea) -> None:
    navy = parse_color("navy", (0, 0, 0))
    out = frame(chelsea, "border", "navy")
    assert np.allclose(out[0, :], navy) and np.allclose(out[:, -1], navy)
    out = frame(chelsea, "rounded", "#ff0000")
    assert np.allclose(out[0, 0], (1.0, 0.0, 0.0), atol=1e-6)  # a corner shows the backdrop


def test_polaroid_has_the_wide_bottom_margin(chelsea) -> None:
    out = frame(chelsea, "polaroid")
    h = out.shape[0]
    card = np.asarray((0.97, 0.96, 0.93), np.float32)
    bottom = out[int(h * 0.85) :, :]
    assert np.allclose(bottom, card, atol=1e-6)
    assert np.allclose(out[:3, :], card, atol=1e-6)


def test_film_has_sprocket_holes_above_and_below(chelsea) -> None:
    out = frame(chelsea, "film")
    h = out.shape[0]
    strip = round(0.11 * h)
    for band in (out[:strip], out[h - strip :]):
        light = (band.mean(axis=2) > 0.6).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(light)
        holes = [s for s in stats[1:] if s[cv2.CC_STAT_AREA] > 10]
        assert len(holes) >= 8
        assert len({s[cv2.CC_STAT_TOP] for s in holes}) == 1  # one row of holes


# ----------------------------------------------------------------------------- magazine cover


def _cover_base(img: np.ndarray, lay) -> np.ndarray:
    x0, y0, x1, y1 = lay.crop
    return img[y0:y1, x0:x1]


def test_masthead_sits_behind_the_head(astronaut, astro_mask) -> None:
    h, w = astronaut.shape[:2]
    probe = cover_layout(h, w, ASTRO_FACE, 0, person_mask=astro_mask)
    width = probe.crop[2] - probe.crop[0]  # render at the crop's own size: no resampling
    lay = cover_layout(h, w, ASTRO_FACE, 0, person_mask=astro_mask, out_width=width)
    assert lay.size == (width, probe.crop[3] - probe.crop[1])
    out = magazine_cover(astronaut, astro_mask, ASTRO_FACE, "Éclat", ["The space issue"], 0, width=width)
    base = _cover_base(astronaut, lay)
    mask = _cover_base(astro_mask[..., None], lay)[..., 0]
    mx0, my0, mx1, my1 = lay.masthead
    region = np.zeros(mask.shape, bool)
    region[my0:my1, mx0:mx1] = True
    head = region & (mask >= 1.0)
    beside = region & (mask <= 0.0)
    assert head.sum() > 2000, "the head must overlap the masthead band in this test"
    assert np.array_equal(out[head], base[head])  # the head is untouched: the title is behind it
    changed = np.abs(out - base).max(axis=2) > 0.05
    assert (changed & beside).sum() > 0.1 * beside.sum()  # the title is drawn beside the head
    head_cols = np.nonzero(head.any(axis=0))[0]
    assert (changed & beside)[:, : head_cols.min()].any() and (changed & beside)[:, head_cols.max() + 1 :].any()
    # Without a person mask the same head pixels are painted over: the mask is what occludes.
    flat = magazine_cover(astronaut, None, ASTRO_FACE, "Éclat", ["The space issue"], 0, width=width)
    assert (np.abs(flat[head] - base[head]).max(axis=1) > 0.05).sum() > 0.1 * head.sum()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cover_lines_avoid_the_face(astronaut, astro_mask, seed) -> None:
    h, w = astronaut.shape[:2]
    width = cover_layout(h, w, ASTRO_FACE, seed).crop[2] - cover_layout(h, w, ASTRO_FACE, seed).crop[0]
    lay = cover_layout(h, w, ASTRO_FACE, seed, person_mask=astro_mask, out_width=width)
    lines = [
        "The space issue",
        "Eileen Collins on flying the shuttle",
        "Ten rules for zero gravity",
        "Plus: what to pack for a week in orbit",
    ]
    out = magazine_cover(astronaut, astro_mask, ASTRO_FACE, "Éclat", lines, seed, "No. 42 · March", width=width)
    base = _cover_base(astronaut, lay)
    changed = np.abs(out - base).max(axis=2) > 1e-4
    changed[: lay.masthead[3]] = False  # the masthead band is tested above
    fx0, fy0, fx1, fy1 = lay.face
    assert not changed[fy0:fy1, fx0:fx1].any()
    cx0, cy0, cx1, cy1 = lay.column
    assert changed[cy0:cy1, cx0:cx1].sum() > 500  # the lines are there, in their column
    bx0, by0, bx1, by1 = lay.barcode
    assert np.allclose(out[by0 + 1, bx0 + 1], 1.0)  # white barcode box
    outside = changed.copy()
    outside[cy0:cy1, cx0:cx1] = False
    outside[by0:by1, bx0:bx1] = False
    assert not outside.any()  # nothing drawn anywhere else


def test_cover_is_deterministic_and_4_by_5(astronaut, astro_mask, grace) -> None:
    args = (astronaut, astro_mask, ASTRO_FACE, "Éclat", ["One", "Two"], 7)
    a, b = magazine_cover(*args), magazine_cover(*args)
    assert a.dtype == np.float32 and a.tobytes() == b.tobytes()
    assert abs(a.shape[1] / a.shape[0] - 0.8) < 0.01 and a.shape[1] >= 800
    assert magazine_cover(*args[:-1], 8).tobytes() != a.tobytes()  # the seed draws the barcode
    g = magazine_cover(grace, None, None, "Computing Today", ["Grace Hopper"], 0, width=640)
    assert g.shape == (800, 640, 3)


def test_cover_sets_share_layout_and_take_accent_from_the_image(astronaut, grace) -> None:
    la = cover_layout(*astronaut.shape[:2], (150, 80, 120, 140), 0, out_width=800)
    lg = cover_layout(*grace.shape[:2], (200, 100, 150, 180), 0, out_width=800)
    assert la.masthead == lg.masthead and la.size == lg.size and la.barcode[1:] == lg.barcode[1:]
    red, blue = np.zeros((64, 64, 3), np.float32), np.zeros((64, 64, 3), np.float32)
    red[..., 0], blue[..., 2] = 0.8, 0.8
    red[..., 1:] = blue[..., :2] = 0.15
    ar, ab = image_accent(red), image_accent(blue)
    assert ar[0] > 0.8 and ar[2] < 0.3 and ab[2] > 0.8 and ab[0] < 0.3
    assert image_accent(np.full((32, 32, 3), 0.5, np.float32)) == typography.DEFAULT_ACCENT
    hue = cv2.cvtColor(np.asarray([[image_accent(astronaut)]], np.float32), cv2.COLOR_RGB2HSV)[0, 0, 0]
    assert hue < 45 or hue > 330  # the orange suit and the red flag


def test_cover_takes_a_face_object_or_guesses_the_head_from_the_mask(astronaut, astro_mask) -> None:
    from dataclasses import dataclass

    @dataclass
    class Face:  # the shape of masks.FaceBox
        x: float
        y: float
        w: float
        h: float
        score: float

    h, w = astronaut.shape[:2]
    assert cover_layout(h, w, Face(*ASTRO_FACE, 0.9), 0) == cover_layout(h, w, ASTRO_FACE + (0.9,), 0)
    guessed = cover_layout(h, w, None, 0, person_mask=astro_mask, out_width=410)
    fx0, fy0, fx1, fy1 = guessed.face
    assert fx0 < 242 - guessed.crop[0] < fx1 and fy0 < 60  # around the head ellipse, at its top
    with pytest.raises(ValueError):
        cover_layout(h, w, (1, 2), 0)


def test_cover_accepts_an_explicit_accent_and_no_title(astronaut, astro_mask) -> None:
    a = magazine_cover(astronaut, astro_mask, ASTRO_FACE, "", ["Only lines"], 0, accent="#00ff00", width=410)
    assert a.shape[1] == 410 and np.isfinite(a).all()
    with pytest.raises(ValueError):
        magazine_cover(astronaut, astro_mask[:100], ASTRO_FACE, "X", [], 0)


def test_a_frame_caption_is_written_not_dropped(chelsea) -> None:
    from seqedit.engines.classic.ops.frame import parse

    params, verdict, _ = parse("a white border and the caption 'Summer 2026'", "")
    assert params["caption"] == "Summer 2026" and verdict is None
    assert "caption" not in parse("a thin black border", "")[0]
    h = chelsea.shape[0]
    plain, captioned = frame(chelsea, "polaroid"), frame(chelsea, "polaroid", caption_text="Summer 2026")
    margin = slice(int(h * 0.85), h)
    assert float(np.abs(captioned[margin] - plain[margin]).max()) > 0.5  # ink in the bottom margin
    assert np.array_equal(captioned[: int(h * 0.7)], plain[: int(h * 0.7)])  # the photo is untouched
    barred = frame(chelsea, "border", caption_text="Summer 2026")
    assert float(np.abs(barred - frame(chelsea, "border")).mean()) > 0.005  # a caption bar inside the frame
