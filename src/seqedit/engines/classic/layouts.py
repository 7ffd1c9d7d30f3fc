"""Page composition for the classic engine: storyboard cards and strips, comic pages, contact
sheets and side-by-side references.

Inputs are float32 H×W×3 RGB arrays in [0, 1]; every function returns one such array at a page
size derived from the inputs (the engine resamples to the requested size at the end). Given the
requested aspect ratio (``aspect`` / ``page_aspect`` / ``height``), a page is composed for it: the
cells, cards and panels stretch to fill it, so the engine never has to add bars around a page. Text goes
through ``typography.fit_text`` with the shared font roles, so it never overflows its box.
``focus`` arguments are (x, y) fractions of a source image to keep centred when cropping
(e.g. the face centre); default ``DEFAULT_FOCUS``, a little above the centre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from seqedit.engines.classic import arrays
from seqedit.engines.classic.typography import (
    INK,
    WHITE,
    Box,
    draw_text,
    fill_box,
    fit_contain,
    fit_cover,
    fit_text,
    outline_box,
    paint,
)

Focus = tuple[float, float]
Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # top-left, top-right, bottom-right, bottom-left

PAPER = (0.965, 0.955, 0.93)
DEFAULT_FOCUS: Focus = (0.5, 0.4)  # a little above centre: where heads usually are
CAPTION_BOX = (1.0, 0.93, 0.55)


def _check_images(images: Sequence[np.ndarray]) -> None:
    if not images:
        raise ValueError("a layout needs at least one image")
    for i, im in enumerate(images):
        if im.ndim != 3 or im.shape[2] != 3:
            raise ValueError(f"image {i} must be H×W×3, got shape {im.shape}")


def _clamp(v: float, lo: float, hi: float) -> int:
    return int(round(min(max(v, lo), hi)))


def _get(seq: Sequence[str | None] | None, i: int) -> str:
    if seq is None or i >= len(seq):
        return ""
    return (seq[i] or "").strip()


def _focus(focus: Sequence[Focus | None] | None, i: int) -> Focus:
    if focus is None or i >= len(focus) or focus[i] is None:
        return DEFAULT_FOCUS
    return focus[i]  # type: ignore[return-value]


# ----------------------------------------------------------------------------- storyboard


def storyboard_frame(
    img: np.ndarray,
    index: int,
    total: int,
    caption: str | None = None,
    *,
    card_width: int | None = None,
    aspect: float | None = 16 / 9,
    focus: Focus = DEFAULT_FOCUS,
    page_aspect: float | None = None,
) -> np.ndarray:
    """One storyboard card: bordered panel cropped to ``aspect`` (None: the source's), a shot tag
    "k/N" (``index`` is 0-based, shown as ``index + 1``), and a caption strip below when given.
    ``page_aspect`` (width / height of the whole card) overrides ``aspect``: the panel takes the
    height the card has left after its margins and caption strip."""
    if not 0 <= index < total:
        raise ValueError(f"shot index {index} outside 0..{total - 1}")
    h, w = img.shape[:2]
    W = int(card_width) if card_width else _clamp(w, 640, 1600)
    margin = max(4, round(0.03 * W))
    pw = W - 2 * margin
    ph = max(1, round(pw / (aspect or (w / h))))
    border = max(2, round(0.004 * W))
    text = (caption or "").strip()
    pad = max(2, round(0.015 * W))
    strip = 0
    block = None
    if text:
        max_size = max(8, round(0.03 * W))
        block = fit_text(text, "body", pw - 2 * pad, 3 * round(max_size * 1.25), max_size, max(8, round(0.018 * W)))
        strip = max(block.height, max_size) + 2 * pad
    if page_aspect:
        H = max(1, round(W / page_aspect))
        ph = max(round(0.3 * H), H - 2 * margin - strip)
    H = margin + ph + strip + margin
    out = np.empty((H, W, 3), np.float32)
    out[...] = PAPER
    out[margin : margin + ph, margin : margin + pw] = fit_cover(img, pw, ph, focus)
    outline_box(out, (margin - border, margin - border, margin + pw + border, margin + ph + border), INK, border)
    tag = fit_text(f"{index + 1}/{total}", "headline", round(0.16 * pw), round(0.06 * W), max(8, round(0.032 * W)), 6)
    tpad = max(2, round(0.01 * W))
    tag_box = (margin, margin, margin + tag.width + 2 * tpad, margin + tag.height + 2 * tpad)
    fill_box(out, tag_box, INK, 0.88)
    draw_text(out, tag, tag_box, WHITE)
    if block is not None:
        y0 = margin + ph
        draw_text(
            out,
            block,
            (margin + pad, y0 + pad, margin + pw - pad, y0 + strip - pad),
            INK,
            align="left",
            valign="center",
        )
    return out


def storyboard_strip(
    images: Sequence[np.ndarray],
    captions: Sequence[str | None] | None = None,
    *,
    cols: int | None = None,
    focus: Sequence[Focus | None] | None = None,
) -> np.ndarray:
    """Storyboard cards of one width on a sheet, in reading order (``cols`` default: up to 4)."""
    _check_images(images)
    n = len(images)
    cols = max(1, min(n, cols or 4))
    rows = math.ceil(n / cols)
    card_w = _clamp(min(im.shape[1] for im in images), 480, 960)
    cards = [
        storyboard_frame(im, i, n, _get(captions, i), card_width=card_w, focus=_focus(focus, i))
        for i, im in enumerate(images)
    ]
    card_h = max(c.shape[0] for c in cards)
    gap = max(4, round(0.02 * card_w))
    out = np.empty((rows * card_h + (rows + 1) * gap, cols * card_w + (cols + 1) * gap, 3), np.float32)
    out[...] = (0.83, 0.82, 0.8)
    for i, card in enumerate(cards):
        r, c = divmod(i, cols)
        x, y = gap + c * (card_w + gap), gap + r * (card_h + gap)
        out[y : y + card_h, x : x + card_w] = PAPER
        out[y : y + card.shape[0], x : x + card_w] = card
    return out


# ----------------------------------------------------------------------------- comic page

# Panels per row, by panel count; the seed picks a variant.
_COMIC_ROWS: dict[int, list[tuple[int, ...]]] = {
    1: [(1,)],
    2: [(1, 1)],
    3: [(1, 2), (2, 1), (1, 1, 1)],
    4: [(2, 2), (1, 2, 1), (1, 3), (3, 1)],
    5: [(2, 1, 2), (1, 2, 2), (2, 3), (3, 2)],
    6: [(2, 2, 2), (1, 2, 3), (3, 3), (2, 1, 3)],
    7: [(2, 3, 2), (3, 1, 3), (1, 3, 3)],
    8: [(3, 2, 3), (2, 3, 3), (2, 2, 2, 2)],
    9: [(3, 3, 3), (2, 3, 2, 2)],
}


def _rows_for(n: int, rng: np.random.Generator) -> tuple[int, ...]:
    variants = _COMIC_ROWS.get(n)
    if variants:
        return variants[int(rng.integers(len(variants)))]
    rows = math.ceil(n / 3)
    base, extra = divmod(n, rows)
    return tuple(base + (1 if r < extra else 0) for r in range(rows))


@dataclass(frozen=True)
class ComicLayout:
    """A comic page's geometry: page size, gutter and border widths, one quad per panel."""

    size: tuple[int, int]  # width, height
    gutter: int
    border: int
    panels: tuple[Quad, ...]


def comic_layout(n: int, seed: int, width: int, height: int) -> ComicLayout:
    """Panel quads for ``n`` panels on a ``width``×``height`` page: rows of varied heights, panels of
    varied widths, some gutters slanted; all chosen by ``seed``."""
    if n < 1:
        raise ValueError("a comic page needs at least one panel")
    rng = np.random.default_rng([seed, n])
    rows = _rows_for(n, rng)
    margin = round(0.035 * width)
    gutter = max(4, round(0.02 * width))
    border = max(2, round(0.005 * width))
    x_l, x_r, y_t, y_b = margin, width - margin, margin, height - margin
    weights = np.array([rng.uniform(0.8, 1.25) * (1.12 if k == 1 else 1.0) for k in rows])
    ys = y_t + np.concatenate([[0.0], np.cumsum(weights / weights.sum())]) * (y_b - y_t)
    # Slant of each horizontal boundary: dy between the right and left ends (page edges straight).
    slants = [0.0] + [float(rng.choice([0.0, rng.uniform(-1, 1)])) * 0.025 * height for _ in rows[1:]] + [0.0]
    half = gutter / 2

    def boundary_y(r: int, x: float) -> float:
        return float(ys[r]) + slants[r] * ((x - x_l) / (x_r - x_l) - 0.5)

    panels: list[Quad] = []
    for r, count in enumerate(rows):
        cw = np.array([rng.uniform(0.7, 1.4) for _ in range(count)])
        xs = x_l + np.concatenate([[0.0], np.cumsum(cw / cw.sum())]) * (x_r - x_l)
        # Slant of each vertical divider: dx between its bottom and top ends.
        tilt = (
            [0.0]
            + [float(rng.choice([0.0, rng.uniform(-1, 1)])) * 0.04 * (x_r - x_l) for _ in range(count - 1)]
            + [0.0]
        )
        for c in range(count):
            left_top, left_bot = xs[c] - tilt[c] / 2, xs[c] + tilt[c] / 2
            right_top, right_bot = xs[c + 1] - tilt[c + 1] / 2, xs[c + 1] + tilt[c + 1] / 2
            lt = 0.0 if c == 0 else half
            rt = 0.0 if c == count - 1 else half
            tp = 0.0 if r == 0 else half
            bt = 0.0 if r == len(rows) - 1 else half
            tl = (left_top + lt, boundary_y(r, left_top) + tp)
            tr = (right_top - rt, boundary_y(r, right_top) + tp)
            br = (right_bot - rt, boundary_y(r + 1, right_bot) - bt)
            bl = (left_bot + lt, boundary_y(r + 1, left_bot) - bt)
            panels.append((tl, tr, br, bl))
    return ComicLayout((width, height), gutter, border, tuple(panels))


def quad_bounds(quad: Quad) -> Box:
    """Integer bounding box of a quad."""
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return (math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys)))


def quad_interior(quad: Quad) -> Box:
    """An axis-aligned box inside a (near-rectangular, convex) quad."""
    tl, tr, br, bl = quad
    return (
        math.ceil(max(tl[0], bl[0])),
        math.ceil(max(tl[1], tr[1])),
        math.floor(min(tr[0], br[0])),
        math.floor(min(bl[1], br[1])),
    )


def _quad_mask(quad: Quad, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.array([[(px - x0) * 16, (py - y0) * 16] for px, py in quad], np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / np.float32(255.0)


def _quad_outline(quad: Quad, box: Box, thickness: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    pad = thickness + 2
    mask = np.zeros((y1 - y0 + 2 * pad, x1 - x0 + 2 * pad), np.uint8)
    pts = np.array([[(px - x0 + pad) * 16, (py - y0 + pad) * 16] for px, py in quad], np.int32)
    cv2.polylines(mask, [pts], True, 255, thickness, lineType=cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / np.float32(255.0)


def comic_page_size(images: Sequence[np.ndarray]) -> tuple[int, int]:
    """Default comic page size (width, height): about 1200×1700, scaled to the inputs."""
    w = _clamp(1.6 * max(im.shape[1] for im in images), 800, 1600)
    return w, round(w * 17 / 12)


def comic_page(
    images: Sequence[np.ndarray],
    captions: Sequence[str | None] | None,
    seed: int,
    *,
    width: int | None = None,
    focus: Sequence[Focus | None] | None = None,
    aspect: float | None = None,
) -> np.ndarray:
    """A comic page: one panel per image (varied sizes, some slanted gutters, black borders) with
    caption boxes in comic lettering at each panel's top left. ``width`` overrides the page width,
    ``aspect`` (width / height) the page shape (default 12:17)."""
    _check_images(images)
    W, H = (int(width), round(int(width) * 17 / 12)) if width else comic_page_size(images)
    if aspect:
        H = max(1, round(W / aspect))
    lay = comic_layout(len(images), seed, W, H)
    page = np.empty((H, W, 3), np.float32)
    page[...] = WHITE
    letter_size = max(8, round(0.021 * W))
    for i, (im, quad) in enumerate(zip(images, lay.panels, strict=True)):
        box = quad_bounds(quad)
        x0, y0, x1, y1 = box
        tile = fit_cover(im, x1 - x0, y1 - y0, _focus(focus, i))
        cov = _quad_mask(quad, box)[..., None]
        region = page[y0:y1, x0:x1]
        region[...] = region * (1.0 - cov) + tile * cov
        pad = lay.border + 2
        paint(page, _quad_outline(quad, box, lay.border), INK, 1.0, (x0 - pad, y0 - pad))
        text = _get(captions, i)
        if not text:
            continue
        ix0, iy0, ix1, iy1 = quad_interior(quad)
        inset = lay.border + max(2, round(0.008 * W))
        tpad = max(2, round(0.3 * letter_size))
        max_w = round(0.62 * (ix1 - ix0)) - 2 * tpad
        max_h = round(0.32 * (iy1 - iy0)) - 2 * tpad
        block = fit_text(text, "lettering", max_w, max_h, letter_size, max(6, round(0.6 * letter_size)))
        if not block.lines:
            continue
        cb = (ix0 + inset, iy0 + inset, ix0 + inset + block.width + 2 * tpad, iy0 + inset + block.height + 2 * tpad)
        fill_box(page, cb, CAPTION_BOX)
        outline_box(page, cb, INK, max(1, lay.border // 2))
        draw_text(page, block, (cb[0] + tpad, cb[1] + tpad, cb[2] - tpad, cb[3] - tpad), INK, align="left")
    return page


# ----------------------------------------------------------------------------- contact sheet, side by side


def _grid_cols(n: int, cell_aspect: float, aspect: float) -> int:
    """Columns whose sheet shape (cells of ``cell_aspect``) is closest to ``aspect``."""
    return min(range(1, n + 1), key=lambda c: abs(math.log((c * cell_aspect) / math.ceil(n / c) / aspect)))


def _place(im: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """A tile filling width×height: cropped (around the centre) when its shape is within
    1 + ``FILL_TOLERANCE`` times the cell's, else shown whole on a dark backing."""
    if abs(math.log((im.shape[1] / im.shape[0]) / (width / height))) <= math.log(1 + FILL_TOLERANCE):
        return fit_cover(im, width, height), 0, 0
    return fit_contain(im, width, height)


FILL_TOLERANCE = 1.0  # a tile up to 2× off its cell's shape fills the cell (a crop); else it is shown whole


def grid(
    images: Sequence[np.ndarray],
    cols: int | None = None,
    labels: Sequence[str | None] | None = None,
    *,
    cell_width: int | None = None,
    aspect: float | None = None,
) -> np.ndarray:
    """A contact sheet: equal cells in reading order, every image in its own cell, optional labels below.

    Without ``aspect`` each image is fitted whole in cells of the images' median shape. With
    ``aspect`` (sheet width / height) the columns are chosen to match it and the cells stretch so the
    sheet has exactly that shape; each image fills its cell (``_place``)."""
    _check_images(images)
    n = len(images)
    cell_aspect = float(np.median([im.shape[1] / im.shape[0] for im in images]))
    if cols is None:
        cols = _grid_cols(n, cell_aspect, aspect) if aspect else math.ceil(math.sqrt(n))
    cols = max(1, min(n, cols))
    rows = math.ceil(n / cols)
    cw = int(cell_width) if cell_width else _clamp(float(np.median([im.shape[1] for im in images])), 160, 640)
    ch = max(1, round(cw / cell_aspect))
    gap = max(4, round(0.03 * cw))
    label_h = max(14, round(0.11 * cw)) if labels else 0
    H = rows * (ch + label_h) + (rows + 1) * gap
    W = cols * cw + (cols + 1) * gap
    if aspect:
        H = max(rows * (label_h + 1) + (rows + 1) * gap, round(W / aspect))
        ch = max(1, (H - (rows + 1) * gap) // rows - label_h)
        W = max(cols * 2 + (cols + 1) * gap, round(H * aspect))
        cw = max(1, (W - (cols + 1) * gap) // cols)
    out = np.empty((H, W, 3), np.float32)
    out[...] = PAPER
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        short = cols - min(cols, n - r * cols)  # an incomplete last row is centred
        x, y = gap + c * (cw + gap) + short * (cw + gap) // 2, gap + r * (ch + label_h + gap)
        if aspect:
            tile, ox, oy = _place(im, cw, ch)
        else:
            tile, ox, oy = fit_contain(im, cw, ch)
        if tile.shape[:2] != (ch, cw):
            fill_box(out, (x, y, x + cw, y + ch), (0.12, 0.12, 0.13))
        out[y + oy : y + oy + tile.shape[0], x + ox : x + ox + tile.shape[1]] = tile
        text = _get(labels, i)
        if text:
            lpad = max(1, round(0.12 * label_h))
            block = fit_text(text, "headline", cw - 2 * lpad, label_h - 2 * lpad, round(0.6 * label_h), 6)
            draw_text(out, block, (x + lpad, y + ch + lpad, x + cw - lpad, y + ch + label_h - lpad), INK)
    return out


def side_by_side(
    images: Sequence[np.ndarray],
    labels: Sequence[str | None] | None = None,
    *,
    height: int | None = None,
    aspect: float | None = None,
) -> np.ndarray:
    """References next to each other at one height (default: the smallest, clamped to 256–1024),
    aspect ratios kept, optional labels below. With ``aspect`` (page width / height) the page has
    that shape: equal columns, each image filling its column (``_place``); when columns of that shape
    would crop the images by more than ``FILL_TOLERANCE``, the images go on a ``grid`` instead."""
    _check_images(images)
    th = int(height) if height else _clamp(min(im.shape[0] for im in images), 256, 1024)
    tiles = [arrays.resize(im, max(1, round(im.shape[1] * th / im.shape[0])), th) for im in images]
    gap = max(6, round(0.025 * th))
    label_h = max(14, round(0.08 * th)) if labels else 0
    W = sum(t.shape[1] for t in tiles) + gap * (len(tiles) + 1)
    H = th + 2 * gap + label_h
    if aspect:
        n = len(images)
        H = max(2 * gap + label_h + 2, round(W / aspect))
        th = H - 2 * gap - label_h
        col = max(1, (W - gap * (n + 1)) // n)
        natural = float(np.median([im.shape[1] / im.shape[0] for im in images]))
        if abs(math.log(natural / (col / th))) > math.log(1 + FILL_TOLERANCE):
            return grid(images, labels=labels, aspect=aspect)  # columns this shape would crop too much
        placed = [_place(im, col, th) for im in images]
        tiles = []
        for tile, ox, oy in placed:
            cell = np.empty((th, col, 3), np.float32)
            cell[...] = WHITE
            cell[oy : oy + tile.shape[0], ox : ox + tile.shape[1]] = tile
            tiles.append(cell)
    out = np.empty((H, W, 3), np.float32)
    out[...] = WHITE
    x = gap
    for i, t in enumerate(tiles):
        out[gap : gap + th, x : x + t.shape[1]] = t
        text = _get(labels, i)
        if text:
            lpad = max(1, round(0.1 * label_h))
            block = fit_text(text, "headline", t.shape[1] - 2 * lpad, label_h - lpad, round(0.55 * label_h), 6)
            draw_text(out, block, (x + lpad, gap + th + lpad, x + t.shape[1] - lpad, H - gap // 2), INK)
        x += t.shape[1] + gap
    return out
