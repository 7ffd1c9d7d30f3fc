"""Masks from a Seedream location tag: the object inside a ``<bbox>`` or under a ``<point>``.

``located_mask(img, where, seed)`` returns a ``MaskResult`` (``masks.py``) for ``where`` =
``('bbox', (x1, y1, x2, y2))`` or ``('point', (x, y))`` on the 0–1000 scale of ``img``.

* **bbox** — GrabCut initialised with the rectangle, at ≤ ``WORK_SIDE`` px, then upsampled and refined
  against the full image (guided filter) and kept inside the box.
* **point** — GrabCut inside a window around the point, seeded with a definite-foreground disk at the
  point and a probable-foreground disk around it, refined the same way.

Honesty: every mask is judged, and only a ``good`` one is used (``regions.py`` refuses the rest):

1. a second, independent estimate must agree (IoU ≥ ``MIN_AGREEMENT``): for a box, a Lab colour model
   (the box's colours against the ring of colours around it); for a point, a second GrabCut grown from
   a flood fill in smoothed Lab that stops at strong edges (the two share only the definite core);
2. the mask fills a sane fraction of its box (``BOX_FILL``) or, for a point, of the image
   (``POINT_AREA``), and covers the point itself;
3. it is mostly one piece (the largest component holds ≥ ``ONE_PIECE`` of it);
4. for a box, it is one thing: the strong edges inside it leave one part of ≥ ``ONE_THING`` of it (a box
   around a saucer also holds the cup, the spoon and the coffee: refused, a point on one of them is not);
5. its boundary sits on image edges: the mean gradient along the boundary is ≥ ``EDGE_CONTRAST`` × the
   median gradient of the box.

Anything else is ``degenerate`` with a note that says which test failed. OpenCV's RNG is seeded
before each GrabCut, so the same seed gives the same mask.
"""

from __future__ import annotations

import cv2
import numpy as np

from seqedit.engines.classic.masks import MaskResult, fill_holes, fit_long, keep_components, refine, upsample
from seqedit.locations import Location

WORK_SIDE = 512  # long side of the segmentation work image
GRABCUT_ITERS = 5
MIN_AGREEMENT = 0.8  # IoU of the two estimates
BOX_FILL = (0.15, 0.97)  # fraction of the box the mask may fill
POINT_AREA = (0.002, 0.6)  # fraction of the image a point's mask may cover
POINT_GROW = 0.25  # a point's region is checked by GrabCut on its own box grown by this much each way
POINT_WINDOW = 0.35  # a point's GrabCut window: this fraction of the long side, each way
ONE_PIECE = 0.85
ONE_THING = 0.7  # the largest part the mask's own strong edges leave must hold this share of it
EDGE_CONTRAST = 1.5
MIN_BOX_PIXELS = 12  # a box narrower than this at work size cannot be segmented
FLOOD_TOLERANCE = (34, 14, 14)  # Lab (8-bit) distance from the point's colour a flood may reach

Where = tuple[str, tuple[float, ...]]


def located_mask(img: np.ndarray, where: Where, seed: int = 0) -> MaskResult:
    """The mask of the object inside ``where``'s box or under its point, judged (module docstring)."""
    kind, coords = where
    h, w = img.shape[:2]
    small = fit_long(img, WORK_SIDE)
    sh, sw = small.shape[:2]
    if kind == "bbox":
        x1, y1, x2, y2 = Location("bbox", tuple(coords)).pixels(sw, sh)
        box = (int(np.floor(x1)), int(np.floor(y1)), int(np.ceil(x2)), int(np.ceil(y2)))
        fg, note = _bbox(small, box, seed)
    elif kind == "point":
        px, py = Location("point", tuple(coords)).pixels(sw, sh)
        fg, box, note = _point(small, (min(sw - 1, int(px)), min(sh - 1, int(py))), seed)
    else:
        return MaskResult(np.zeros((h, w), np.float32), "located", "degenerate", f"unknown location kind {kind!r}")
    if fg is None:
        return MaskResult(np.zeros((h, w), np.float32), "located", "degenerate", note)
    soft = refine(img, upsample(fg.astype(np.float32), w, h))
    bx1, by1, bx2, by2 = (
        round(box[0] * w / sw),
        round(box[1] * h / sh),
        round(box[2] * w / sw),
        round(box[3] * h / sh),
    )
    inside = np.zeros((h, w), np.float32)
    pad = max(1, round(2 * w / sw))  # the refined edge may sit a work pixel outside the box
    inside[max(0, by1 - pad) : by2 + pad, max(0, bx1 - pad) : bx2 + pad] = 1.0
    return MaskResult(soft * inside, "located", "good" if not note else "degenerate", note or "located by the tag")


# ----------------------------------------------------------------------------- a box


def _bbox(small: np.ndarray, box: tuple[int, int, int, int], seed: int) -> tuple[np.ndarray | None, str]:
    sh, sw = small.shape[:2]
    x1, y1, x2, y2 = max(0, box[0]), max(0, box[1]), min(sw, box[2]), min(sh, box[3])
    if x2 - x1 < MIN_BOX_PIXELS or y2 - y1 < MIN_BOX_PIXELS:
        return None, f"the box is too small to find anything in ({x2 - x1}×{y2 - y1} px at {WORK_SIDE} px)"
    if (x2 - x1) * (y2 - y1) > 0.97 * sw * sh:
        return None, "the box is the whole image: nothing outside it says what is not the object"
    bgr = cv2.cvtColor(_u8(small), cv2.COLOR_RGB2BGR)
    gc = np.zeros((sh, sw), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    try:
        cv2.grabCut(bgr, gc, (x1, y1, x2 - x1, y2 - y1), bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_RECT)
    except cv2.error as exc:  # e.g. no background pixels left to model
        return None, f"GrabCut failed on the box ({exc.err})"
    a = _clean((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD))
    b = _colour_model(small, (x1, y1, x2, y2), a)
    return a, _judge(small, a, b, (x1, y1, x2, y2), None)


def _colour_model(small: np.ndarray, box: tuple[int, int, int, int], near: np.ndarray) -> np.ndarray:
    """Box pixels whose Lab colour is likelier inside the box than in the ring around it (a second estimate)."""
    sh, sw = small.shape[:2]
    x1, y1, x2, y2 = box
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    q = np.stack(
        [
            np.clip(lab[..., 0] / 100.0 * 8, 0, 7),
            np.clip((lab[..., 1] + 128) / 256.0 * 16, 0, 15),
            np.clip((lab[..., 2] + 128) / 256.0 * 16, 0, 15),
        ],
        -1,
    ).astype(np.int32)
    idx = (q[..., 0] * 16 + q[..., 1]) * 16 + q[..., 2]
    inbox = np.zeros((sh, sw), bool)
    inbox[y1:y2, x1:x2] = True
    r = max(4, int(0.15 * max(x2 - x1, y2 - y1)))
    ring = np.zeros((sh, sw), bool)
    ring[max(0, y1 - r) : min(sh, y2 + r), max(0, x1 - r) : min(sw, x2 + r)] = True
    ring &= ~inbox
    if ring.sum() < 50:  # a box at the image edge on all sides: its own border strip stands in
        b = max(2, int(0.05 * min(x2 - x1, y2 - y1)))
        ring = inbox.copy()
        ring[y1 + b : y2 - b, x1 + b : x2 - b] = False
    bins = 8 * 16 * 16
    h_in = np.bincount(idx[inbox], minlength=bins).astype(np.float32)
    h_out = np.bincount(idx[ring], minlength=bins).astype(np.float32)
    h_in = cv2.GaussianBlur(h_in.reshape(8, 256), (0, 0), 0.8).ravel() / max(1.0, float(inbox.sum()))
    h_out = cv2.GaussianBlur(h_out.reshape(8, 256), (0, 0), 0.8).ravel() / max(1.0, float(ring.sum()))
    # P(object | colour) with the box's own background share taken out: inside = object + background
    bg_share = min(0.9, float(((~near) & inbox).sum()) / max(1.0, float(inbox.sum())))
    obj = np.clip(h_in - bg_share * h_out, 0.0, None)
    p = obj[idx] / (obj[idx] + bg_share * h_out[idx] + 1e-9)
    p = cv2.GaussianBlur(p.astype(np.float32), (0, 0), 1.5)
    fg = (p > 0.5) & inbox
    return _clean(fg)


# ----------------------------------------------------------------------------- a point


def _point(
    small: np.ndarray, at: tuple[int, int], seed: int
) -> tuple[np.ndarray | None, tuple[int, int, int, int], str]:
    sh, sw = small.shape[:2]
    px, py = at
    r = int(POINT_WINDOW * max(sh, sw))
    window = (max(0, px - r), max(0, py - r), min(sw, px + r), min(sh, py + r))
    disk = np.zeros((sh, sw), np.uint8)
    cv2.circle(disk, (px, py), max(4, int(0.06 * max(sh, sw))), 1, -1)
    try:
        # two GrabCuts that share only the definite core: one grown from a disk, one from a Lab flood
        a = _clean(_grabcut_from(small, disk, window, at, seed), at)
        b = _clean(_grabcut_from(small, _flood(small, at), window, at, seed), at)
    except cv2.error as exc:
        return None, window, f"GrabCut failed around the point ({exc.err})"
    if _runs_past(a, window):
        return a, (0, 0, sw, sh), "the region under the point runs past the area searched around it"
    note = _judge(small, a, b, (0, 0, sw, sh), at)
    if not note:
        note = _complete(small, a, seed)
    return a, (0, 0, sw, sh), note


def _complete(small: np.ndarray, a: np.ndarray, seed: int) -> str:
    """'' when the region is a whole object: GrabCut on its own box, grown by ``POINT_GROW``, finds it
    again. A part of an object (half a saucer cut off by a highlight) grows into the rest and fails."""
    sh, sw = small.shape[:2]
    ys, xs = np.nonzero(a)
    if xs.size == 0:
        return "nothing was found under the point"
    gx, gy = int(POINT_GROW * (xs.max() - xs.min() + 1)) + 2, int(POINT_GROW * (ys.max() - ys.min() + 1)) + 2
    box = (max(0, xs.min() - gx), max(0, ys.min() - gy), min(sw, xs.max() + 1 + gx), min(sh, ys.max() + 1 + gy))
    if (box[2] - box[0]) * (box[3] - box[1]) > 0.97 * sw * sh:
        return ""  # the region's box is the image: nothing outside it to compare (the area test bounds it)
    bgr = cv2.cvtColor(_u8(small), cv2.COLOR_RGB2BGR)
    gc = np.zeros((sh, sw), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    cv2.grabCut(
        bgr, gc, (box[0], box[1], box[2] - box[0], box[3] - box[1]), bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_RECT
    )
    again = _clean((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD))
    agree = _iou(a, again)
    if agree < MIN_AGREEMENT:
        return (
            f"the region under the point may be part of something larger (a box around it finds a different "
            f"region, IoU {agree:.2f} < {MIN_AGREEMENT}); put a <bbox> around the whole object"
        )
    return ""


def _runs_past(mask: np.ndarray, window: tuple[int, int, int, int]) -> bool:
    """True when the mask is cut by a side of ``window`` that is not the image's own edge."""
    sh, sw = mask.shape
    x1, y1, x2, y2 = window
    sides = []
    if x1 > 0:
        sides.append(mask[y1:y2, x1])
    if x2 < sw:
        sides.append(mask[y1:y2, x2 - 1])
    if y1 > 0:
        sides.append(mask[y1, x1:x2])
    if y2 < sh:
        sides.append(mask[y2 - 1, x1:x2])
    return any(int(side.sum()) > 2 for side in sides)


def _grabcut_from(
    small: np.ndarray, probable: np.ndarray, window: tuple[int, int, int, int], at: tuple[int, int], seed: int
) -> np.ndarray:
    """GrabCut inside ``window``: ``probable`` is probable foreground, a small disk at ``at`` definite."""
    sh, sw = small.shape[:2]
    wx1, wy1, wx2, wy2 = window
    gc = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    gc[wy1:wy2, wx1:wx2] = cv2.GC_PR_BGD
    gc[(probable > 0) & (gc == cv2.GC_PR_BGD)] = cv2.GC_PR_FGD
    cv2.circle(gc, at, max(2, int(0.015 * max(sh, sw))), int(cv2.GC_FGD), -1)
    bgr = cv2.cvtColor(_u8(small), cv2.COLOR_RGB2BGR)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    cv2.grabCut(bgr, gc, None, bgd, fgd, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK)
    return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)


def _flood(small: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """Flood fill from ``at`` in edge-preserving smoothed Lab, walled by strong edges (uint8 0/1)."""
    sh, sw = small.shape[:2]
    smooth = cv2.bilateralFilter(_u8(small), 7, 40, 7)
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2Lab)
    grey = cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 60, 140)
    wall = np.zeros((sh + 2, sw + 2), np.uint8)
    wall[1:-1, 1:-1] = (cv2.dilate(edges, np.ones((2, 2), np.uint8)) > 0).astype(np.uint8)
    wall[1 + at[1], 1 + at[0]] = 0
    # fixed range: every pixel is compared with the seed's colour, so a slow gradient cannot leak
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (2 << 8)
    seed_lab = cv2.blur(lab, (5, 5))[at[1], at[0]]
    lab[at[1], at[0]] = seed_lab
    cv2.floodFill(lab, wall, at, (0, 0, 0), FLOOD_TOLERANCE, FLOOD_TOLERANCE, flags)
    filled = wall[1:-1, 1:-1] == 2
    out = cv2.morphologyEx(filled.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return fill_holes(out)


# ----------------------------------------------------------------------------- judging


def _clean(fg: np.ndarray, at: tuple[int, int] | None = None) -> np.ndarray:
    """Open, keep the main pieces (the one under ``at`` for a point), fill holes (uint8 0/1)."""
    out = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if at is not None:
        n, lab = cv2.connectedComponents(out, connectivity=8)
        here = lab[at[1], at[0]]
        out = (lab == here).astype(np.uint8) if here > 0 else np.zeros_like(out)
    else:
        out = keep_components(out, min_frac=0.1, max_keep=3)
    return fill_holes(out)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = float(np.logical_and(a > 0, b > 0).sum())
    union = float(np.logical_or(a > 0, b > 0).sum())
    return inter / union if union else 0.0


def _judge(
    small: np.ndarray, a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int], at: tuple[int, int] | None
) -> str:
    """'' when the mask is good, else the reason it is not (module docstring)."""
    x1, y1, x2, y2 = box
    area = float(a[y1:y2, x1:x2].sum())
    frac = area / max(1.0, float((x2 - x1) * (y2 - y1)))
    lo, hi = POINT_AREA if at is not None else BOX_FILL
    if at is not None and not a[at[1], at[0]]:
        return "nothing was found under the point"
    if not lo <= frac <= hi:
        where = "the image" if at is not None else "the box"
        return f"the object found fills {frac:.0%} of {where} (expected {lo:.0%}-{hi:.0%})"
    n, _, st, _ = cv2.connectedComponentsWithStats(a.astype(np.uint8), connectivity=8)
    largest = float(st[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0.0
    if largest < ONE_PIECE * area:
        return f"the object found is in {n - 1} pieces"
    agree = _iou(a, b)
    if agree < MIN_AGREEMENT:
        return f"two independent estimates of it disagree (IoU {agree:.2f} < {MIN_AGREEMENT})"
    whole = _one_thing(small, a) if at is None else 1.0  # a point picks one region by construction
    if whole < ONE_THING:
        return (
            f"the box holds several things: strong edges cut what was found into parts (the largest is {whole:.0%}); "
            f"a box around one object, or a point on it, picks it out"
        )
    contrast = _edge_contrast(small, a, box)
    if contrast < EDGE_CONTRAST:
        return f"its outline does not follow edges in the image (contrast {contrast:.2f} < {EDGE_CONTRAST})"
    return ""


def _one_thing(small: np.ndarray, a: np.ndarray) -> float:
    """The share of the mask in its largest piece once strong edges inside it are cut (1.0: one thing)."""
    grey = cv2.cvtColor(_u8(small), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.5), 50, 120) > 0
    inner = cv2.erode(a.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    cut = (inner & ~cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)).astype(np.uint8)
    n, _, st, _ = cv2.connectedComponentsWithStats(cut, connectivity=4)
    total = float(a.sum())
    return float(st[1:, cv2.CC_STAT_AREA].max()) / total if n > 1 and total else 0.0


def _edge_contrast(small: np.ndarray, a: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Mean gradient on the mask's boundary (inside the box) over the box's median gradient."""
    x1, y1, x2, y2 = box
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    g = np.zeros(small.shape[:2], np.float32)
    for c in range(3):
        ch = cv2.GaussianBlur(lab[..., c], (0, 0), 1.0)
        g += cv2.Sobel(ch, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(ch, cv2.CV_32F, 0, 1) ** 2
    g = np.sqrt(g)
    edge = cv2.morphologyEx(a.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    inner = np.zeros_like(edge)
    b = 2
    inner[y1 + b : y2 - b, x1 + b : x2 - b] = True  # the box's own sides are not the object's outline
    edge &= inner
    if edge.sum() < 10:
        return 0.0
    g_box = g[y1:y2, x1:x2]
    return float(g[edge].mean()) / (float(np.median(g_box)) + 1e-3)


def _u8(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
