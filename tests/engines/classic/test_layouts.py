"""Page layouts of the classic engine: storyboard, comic page, contact sheet, side by side."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from matplotlib import cbook
from PIL import Image

from seqedit.engines.classic import arrays, layouts
from seqedit.engines.classic.layouts import (
    comic_layout,
    comic_page,
    comic_page_size,
    grid,
    quad_bounds,
    quad_interior,
    side_by_side,
    storyboard_frame,
    storyboard_strip,
)


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a[..., :3], dtype=np.float32) / np.float32(255.0)


def _small(a: np.ndarray, long_side: int = 320) -> np.ndarray:
    h, w = a.shape[:2]
    s = long_side / max(h, w)
    return arrays.resize(a, round(w * s), round(h * s))


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    grace = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    return [_small(_f32(a)) for a in (skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), grace)]


def _best_match(haystack: np.ndarray, needle: np.ndarray) -> tuple[float, tuple[int, int]]:
    res = cv2.matchTemplate(haystack, needle, cv2.TM_CCOEFF_NORMED)
    _, score, _, loc = cv2.minMaxLoc(res)
    return float(score), loc


# ----------------------------------------------------------------------------- comic page

CAPTIONS = ["Meanwhile, in orbit…", "Coffee time", "The cat knows", "Grace has an idea"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_comic_page_shows_every_input_in_its_panel(images, seed) -> None:
    page = comic_page(images, CAPTIONS, seed)
    W, H = comic_page_size(images)
    assert page.shape == (H, W, 3) and page.dtype == np.float32
    lay = comic_layout(len(images), seed, W, H)
    for i, quad in enumerate(lay.panels):
        bx0, by0, bx1, by1 = quad_bounds(quad)
        ix0, iy0, ix1, iy1 = quad_interior(quad)
        # A patch from the lower middle of the panel, clear of the caption box and the border.
        pw, ph = ix1 - ix0, iy1 - iy0
        patch = page[iy0 + ph // 2 : iy0 + ph // 2 + ph // 3, ix0 + pw // 3 : ix0 + 2 * pw // 3]
        scores = []
        for src in images:  # each source at the scale the panel's cover crop uses
            h, w = src.shape[:2]
            s = max((bx1 - bx0) / w, (by1 - by0) / h)
            scaled = arrays.resize(src, max(1, round(w * s)), max(1, round(h * s)))
            if scaled.shape[0] < patch.shape[0] or scaled.shape[1] < patch.shape[1]:
                scores.append(-1.0)
                continue
            scores.append(_best_match(scaled, patch)[0])
        assert scores[i] > 0.9, (i, scores)
        assert int(np.argmax(scores)) == i


@pytest.mark.parametrize("seed", [0, 3])
def test_comic_page_has_white_gutters_between_separate_panels(images, seed) -> None:
    page = comic_page(images, CAPTIONS, seed)
    H, W = page.shape[:2]
    lay = comic_layout(len(images), seed, W, H)
    union = np.zeros((H, W), np.uint8)
    for quad in lay.panels:
        cv2.fillPoly(union, [np.round(np.array(quad)).astype(np.int32)], 1)
    grown = cv2.dilate(union, np.ones((2 * lay.border + 5,) * 2, np.uint8))
    assert np.all(page[grown == 0] == 1.0)  # gutters and margins are plain paper
    assert (grown == 0).mean() > 0.05
    ink = (np.abs(page - 1.0).max(axis=2) > 1e-6).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    big = [s for s in stats[1:] if s[cv2.CC_STAT_AREA] > 0.01 * H * W]
    assert len(big) == len(images)  # each panel is its own island: gutters separate them


def test_comic_layouts_cover_every_count_and_vary_with_the_seed() -> None:
    for n in range(1, 16):
        for seed in (0, 1):
            lay = comic_layout(n, seed, 900, 1275)
            assert len(lay.panels) == n
            for quad in lay.panels:
                x0, y0, x1, y1 = quad_bounds(quad)
                assert 0 <= x0 < x1 <= 900 and 0 <= y0 < y1 <= 1275
                ix0, iy0, ix1, iy1 = quad_interior(quad)
                assert ix1 - ix0 > 60 and iy1 - iy0 > 60
    shapes = {tuple(quad_bounds(q) for q in comic_layout(4, s, 900, 1275).panels) for s in range(6)}
    assert len(shapes) >= 3


def test_comic_captions_are_boxed_inside_their_panels(images) -> None:
    with_text = comic_page(images, CAPTIONS, 1)
    without = comic_page(images, None, 1)
    H, W = with_text.shape[:2]
    lay = comic_layout(len(images), 1, W, H)
    diff = np.abs(with_text - without).max(axis=2) > 1e-6
    covered = np.zeros_like(diff)
    for quad in lay.panels:
        ix0, iy0, ix1, iy1 = quad_interior(quad)
        inside = diff[iy0:iy1, ix0:ix1]
        ys, xs = np.nonzero(inside)
        assert ys.size > 0
        assert xs.max() < 0.7 * (ix1 - ix0) and ys.max() < 0.4 * (iy1 - iy0)  # top-left box
        covered[iy0:iy1, ix0:ix1] = True
        yellow = np.all(np.abs(with_text[iy0:iy1, ix0:ix1] - (1.0, 0.93, 0.55)) < 1e-3, axis=2)
        assert yellow.sum() > 100
    assert not (diff & ~covered).any()


def test_comic_page_is_deterministic(images) -> None:
    a = comic_page(images, CAPTIONS, 5)
    b = comic_page(images, CAPTIONS, 5)
    assert a.tobytes() == b.tobytes()
    assert comic_page(images, CAPTIONS, 6, width=600).shape == (850, 600, 3)


# ----------------------------------------------------------------------------- storyboard


def test_storyboard_frame_has_panel_tag_and_caption(images) -> None:
    astro = images[0]
    plain = storyboard_frame(astro, 0, 4)
    captioned = storyboard_frame(astro, 0, 4, "Wide shot: the astronaut turns to the camera and smiles.")
    other = storyboard_frame(astro, 1, 4)
    assert plain.dtype == np.float32 and plain.shape[1] == 640
    assert captioned.shape[0] > plain.shape[0] and captioned.shape[1] == plain.shape[1]
    assert np.array_equal(captioned[: plain.shape[0] - 30], plain[: plain.shape[0] - 30])
    strip = captioned[plain.shape[0] - 20 :]
    assert (strip.mean(axis=2) < 0.3).sum() > 200  # dark caption text on paper
    diff = np.abs(plain - other).max(axis=2) > 1e-6  # only the "k/N" tag differs between shots
    ys, xs = np.nonzero(diff)
    assert ys.size > 0 and ys.max() < 0.15 * plain.shape[0] and xs.max() < 0.2 * plain.shape[1]
    with pytest.raises(ValueError):
        storyboard_frame(astro, 4, 4)


def test_storyboard_frame_crops_to_16_by_9_and_contains_the_image(images) -> None:
    cat = images[2]
    card = storyboard_frame(cat, 2, 3, card_width=640, focus=(0.5, 0.5))
    margin = round(0.03 * 640)
    pw = 640 - 2 * margin
    ph = round(pw * 9 / 16)
    panel = card[margin : margin + ph, margin : margin + pw]
    expected_scale = pw / cat.shape[1]
    scaled = arrays.resize(cat, pw, round(cat.shape[0] * expected_scale))
    patch = panel[ph // 3 : 2 * ph // 3, pw // 3 : 2 * pw // 3]
    score, _ = _best_match(scaled, patch)
    assert score > 0.95


def test_storyboard_strip_lays_cards_in_reading_order(images) -> None:
    sheet = storyboard_strip(images, ["One", None, "Three"], cols=2)
    again = storyboard_strip(images, ["One", None, "Three"], cols=2)
    assert sheet.tobytes() == again.tobytes()
    assert sheet.shape[0] > 0.6 * sheet.shape[1]  # two rows of two
    wide = storyboard_strip(images[:3], None)
    assert wide.shape[1] > 2.5 * wide.shape[0]  # one row of three


# ----------------------------------------------------------------------------- grid, side by side


def _locate(sheet: np.ndarray, img: np.ndarray, size: tuple[int, int]) -> tuple[float, tuple[int, int]]:
    tile = arrays.resize(img, *size)
    h, w = tile.shape[:2]
    return _best_match(sheet, tile[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4])


def test_grid_places_images_in_reading_order_with_labels(images) -> None:
    imgs = images + [images[1]]
    sheet = grid(imgs, cols=3, cell_width=200)
    labelled = grid(imgs, cols=3, labels=["astronaut", "coffee", "cat", "grace", "coffee again"], cell_width=200)
    assert sheet.shape[1] == labelled.shape[1] and labelled.shape[0] > sheet.shape[0]
    assert sheet.shape[1] > sheet.shape[0]  # 3 columns, 2 rows
    aspect = float(np.median([im.shape[1] / im.shape[0] for im in imgs]))  # cells share one shape
    cell_h = round(200 / aspect)
    positions = []
    for im in images:
        h, w = im.shape[:2]
        s = min(200 / w, cell_h / h)  # each image fitted whole into its cell
        score, loc = _locate(sheet, im, (round(w * s), round(h * s)))
        assert score > 0.95
        positions.append(loc)
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = positions
    assert abs(y0 - y1) < 60 and abs(y1 - y2) < 60 and x0 < x1 < x2  # first row, left to right
    assert y3 > y0 + 100 and x3 < x1  # second row starts at the left

    def text_rows(page: np.ndarray) -> int:  # rows that are mostly paper yet carry dark ink
        paper = np.all(np.abs(page - (0.965, 0.955, 0.93)) < 1e-3, axis=2).mean(axis=1)
        ink = (page.mean(axis=2) < 0.3).sum(axis=1)
        return int(((paper > 0.7) & (ink > 0)).sum())

    assert text_rows(sheet) == 0 and text_rows(labelled) >= 10


def test_grid_defaults_to_a_square_ish_sheet(images) -> None:
    sheet = grid(images * 2)  # 8 images → 3 columns, 3 rows
    again = grid(images * 2)
    assert sheet.tobytes() == again.tobytes() and sheet.dtype == np.float32
    assert 0.6 < sheet.shape[1] / sheet.shape[0] < 2.0
    with pytest.raises(ValueError):
        grid([])


def test_side_by_side_matches_heights_and_keeps_aspect(images) -> None:
    imgs = [images[0], images[1], images[3]]
    out = side_by_side(imgs, labels=["astronaut", "coffee", "Grace Hopper"])
    th = min(256 if i.shape[0] < 256 else i.shape[0] for i in imgs)
    assert out.dtype == np.float32 and out.shape[0] > th
    xs = []
    for im in imgs:
        tile = arrays.resize(im, round(im.shape[1] * th / im.shape[0]), th)
        res = cv2.matchTemplate(out, tile, cv2.TM_SQDIFF)
        err, _, loc, _ = cv2.minMaxLoc(res)
        assert err / tile.size < 1e-6  # the whole tile, pixel for pixel
        xs.append(loc)
    assert len({y for _, y in xs}) == 1 and xs[0][0] < xs[1][0] < xs[2][0]
    below = out[xs[0][1] + th :]
    assert (below.mean(axis=2) < 0.3).sum() > 50  # labels under the tiles


@pytest.mark.parametrize("aspect", [1.0, 16 / 9, 9 / 16])
def test_pages_are_composed_for_the_requested_aspect(images, aspect: float) -> None:
    sheets = [
        layouts.grid(images[:3], aspect=aspect),
        layouts.side_by_side(images[:2], aspect=aspect),
        layouts.storyboard_frame(images[0], 0, 2, "a caption", page_aspect=aspect),
        layouts.comic_page(images[:3], None, 1, aspect=aspect),
    ]
    for sheet in sheets:
        h, w = sheet.shape[:2]
        assert abs((w / h) / aspect - 1) < 0.03, (w, h)
