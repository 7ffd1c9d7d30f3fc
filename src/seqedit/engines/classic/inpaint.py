"""Finding and removing thin defects: text, watermarks, scratches and dust.

``defect_mask(img, what)`` finds the defect pixels (float32 H×W, 1 = remove);
``inpaint(img, mask)`` fills them with OpenCV's Telea method (at ≤ 2 MP, upsampled and blended only
inside the mask). Classical inpainting continues the surroundings smoothly: that works for thin
strokes and fails on anything with area, where it leaves a smear. So ``removal_verdict(mask)``
refuses masks covering more than ``MAX_AREA`` of the image or with a blob thicker than
``MAX_THICKNESS`` of the short side (at least ``MIN_THICKNESS_PX``; where thin lines cross, the
crossing is not a blob), and ``inpaint`` returns the image untouched with the refusal as its warning
("object removal needs a generative engine"). The caller must treat a refusal as "unsupported",
not as a result.

``find_scratches(img)`` repairs only thin, achromatic, high-contrast curves that do not belong to
the scene, and reports the lines it kept: long straight ones (masts, cables, rails), lattices,
outlines between two regions, and faint ones (a dark scratch over a dark area, which cannot be told
from the picture's own lines). See its docstring for the rules.

``text_boxes(img)`` is the cheap text detector also used by mirroring: MSER components filtered by
size, fill and stroke-width uniformity, then grouped into lines of three or more similar-height,
aligned components. It finds printed text and signage; it misses handwriting and very small or
very low-contrast text, and may flag regular rows of small shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .looks import F32

DEFECTS = ("text", "watermark", "scratches", "dust")
MAX_AREA = 0.08  # fraction of the image
MAX_THICKNESS = 0.02  # fraction of the short side …
MIN_THICKNESS_PX = 12.0  # … but never below 12 px (crossings of two thin lines on small images)
WORK_PIXELS = 2_000_000  # inpainting runs at ≤ 2 MP
REFUSAL = "object removal needs a generative engine"

Box = tuple[float, float, float, float]  # x, y, width, height in pixels

_DETECT_SIDE = 1024  # detectors run with the long side ≤ this


def _grey_u8(img: np.ndarray) -> np.ndarray:
    u8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY)


def _detect_scale(img: np.ndarray) -> float:
    return min(1.0, _DETECT_SIDE / max(img.shape[:2]))


def _resize_grey(grey: np.ndarray, k: float) -> np.ndarray:
    if k >= 1.0:
        return grey
    h, w = grey.shape
    return cv2.resize(grey, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)


# ----------------------------------------------------------------------------- text detection


@dataclass(frozen=True)
class _Glyph:
    x: int
    y: int
    w: int
    h: int
    dark: bool  # darker than its surroundings
    ink: float  # mean grey level of the glyph
    stroke: float  # stroke width in pixels
    points: np.ndarray  # N×2 (x, y) pixel coordinates


def _stroke_width(points: np.ndarray, x: int, y: int, w: int, h: int) -> float | None:
    """Stroke width when the strokes are thin and fairly uniform, else None (ridge of the distance
    transform)."""
    m = np.zeros((h + 2, w + 2), np.uint8)
    m[points[:, 1] - y + 1, points[:, 0] - x + 1] = 1
    dt = cv2.distanceTransform(m, cv2.DIST_L2, 3)
    ridge = (dt > 0) & (dt >= cv2.dilate(dt, np.ones((3, 3), np.uint8)))
    vals = dt[ridge]
    if vals.size == 0:
        return None
    width = 2.0 * float(vals.mean())
    thin = width <= 0.3 * max(h, w) + 1.0 and width <= 0.55 * min(h, w) + 1.0  # solid blobs are not glyphs
    if thin and float(vals.std()) <= 0.5 * float(vals.mean()) + 0.35:
        return width
    return None


def _glyphs(grey: np.ndarray) -> list[_Glyph]:
    h, w = grey.shape
    mser = cv2.MSER_create(5, 12, max(60, int(0.02 * h * w)))
    regions, boxes = mser.detectRegions(grey)
    blurred = cv2.blur(grey, (3, 3)).astype(np.float32)
    found: list[_Glyph] = []
    seen: set[tuple[int, int, int, int]] = set()
    for pts, (x, y, bw, bh) in zip(regions, boxes, strict=True):
        if bh < 6 or bh > 0.25 * h or bw > 0.25 * w:
            continue
        aspect = bw / bh
        fill = len(pts) / float(bw * bh)
        if not (0.08 <= aspect <= 2.2 and 0.12 <= fill <= 0.92):
            continue
        key = (x // 2, y // 2, bw // 2, bh // 2)  # MSER repeats near-identical regions
        if key in seen:
            continue
        seen.add(key)
        stroke = _stroke_width(pts, x, y, bw, bh)
        if stroke is None:
            continue
        values = grey[pts[:, 1], pts[:, 0]].astype(np.float32)
        inside = float(values.mean())
        x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(w, x + bw + 2), min(h, y + bh + 2)
        ring = blurred[y0:y1, x0:x1]
        around = (float(ring.sum()) - inside * len(pts)) / max(1, ring.size - len(pts))
        if abs(inside - around) < 40:  # too faint to be print
            continue
        if float(values.std()) > 0.3 * abs(inside - around):  # print has one ink; leaky regions don't
            continue
        found.append(_Glyph(x, y, bw, bh, inside < around, inside, stroke, pts))
    return found


def _lines(glyphs: list[_Glyph]) -> list[list[_Glyph]]:
    """Group glyphs into text lines: similar height, same polarity, aligned, closely spaced."""
    n = len(glyphs)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(n), key=lambda i: glyphs[i].x)
    for a_pos, a in enumerate(order):
        ga = glyphs[a]
        for b in order[a_pos + 1 :]:
            gb = glyphs[b]
            hmax = max(ga.h, gb.h)
            if gb.x > ga.x + ga.w + 1.5 * hmax:
                break
            if gb.x > ga.x + ga.w + 1.0 * hmax:  # too far apart
                continue
            if ga.dark != gb.dark or hmax > 1.5 * min(ga.h, gb.h) or abs(ga.ink - gb.ink) > 30:
                continue
            if max(ga.stroke, gb.stroke) > 1.7 * min(ga.stroke, gb.stroke) + 0.5:
                continue
            if abs((ga.y + ga.h / 2) - (gb.y + gb.h / 2)) > 0.3 * hmax:
                continue
            if gb.x < ga.x + ga.w * 0.7 and abs(gb.w - ga.w) < 3:  # a nested copy, not a neighbour
                continue
            parent[find(a)] = find(b)
    groups: dict[int, list[_Glyph]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(glyphs[i])
    lines = []
    for members in groups.values():
        x0, x1 = min(g.x for g in members), max(g.x + g.w for g in members)
        height = float(np.median([g.h for g in members]))
        y0, y1 = min(g.y for g in members), max(g.y + g.h for g in members)
        one_line = x1 - x0 >= 2.5 * height and y1 - y0 <= 2.2 * height
        if _distinct_columns(members) >= 3 and one_line:  # ≥ 3 glyphs side by side
            lines.append(members)
    return lines


def _distinct_columns(members: list[_Glyph]) -> int:
    """Number of glyphs side by side (nested MSER copies of one glyph count once)."""
    count, right = 0, -1.0
    for g in sorted(members, key=lambda g: g.x):
        if g.x >= right - 0.3 * g.w:
            count += 1
            right = g.x + g.w
        else:
            right = max(right, g.x + g.w)
    return count


def _line_box(members: list[_Glyph], pad: float) -> tuple[int, int, int, int]:
    x0 = min(g.x for g in members)
    y0 = min(g.y for g in members)
    x1 = max(g.x + g.w for g in members)
    y1 = max(g.y + g.h for g in members)
    p = pad * float(np.median([g.h for g in members]))
    return round(x0 - p), round(y0 - p), round(x1 + p), round(y1 + p)


def _plain_backing(grey: np.ndarray, members: list[_Glyph]) -> bool:
    """Print sits on a backing that varies little compared with the ink contrast (rejects rows of
    textured shapes: coins, suit folds, ribbons)."""
    x0, y0, x1, y1 = _line_box(members, 0.25)
    x0, y0 = max(0, x0), max(0, y0)
    roi = grey[y0:y1, x0:x1].astype(np.float32)
    ink = np.zeros(roi.shape, np.uint8)
    for g in members:
        ink[g.points[:, 1] - y0, g.points[:, 0] - x0] = 1
    backing = roi[cv2.dilate(ink, np.ones((3, 3), np.uint8)) == 0]
    if backing.size < 10:
        return False
    level = float(np.mean([g.ink for g in members]))
    return float(backing.std()) <= 0.55 * abs(level - float(backing.mean()))


def _detect_lines(img: np.ndarray) -> tuple[float, list[list[_Glyph]]]:
    k = _detect_scale(img)
    grey = _resize_grey(_grey_u8(img), k)
    return k, [members for members in _lines(_glyphs(grey)) if _plain_backing(grey, members)]


def text_boxes(img: np.ndarray, pad: float = 0.25) -> list[Box]:
    """Boxes ``(x, y, w, h)`` in pixels of detected text lines, padded by ``pad`` × glyph height."""
    h, w = img.shape[:2]
    k, lines = _detect_lines(img)
    boxes: list[Box] = []
    for members in lines:
        x0, y0, x1, y1 = _line_box(members, pad)
        x0, y0 = max(0.0, x0 / k), max(0.0, y0 / k)
        x1, y1 = min(float(w), x1 / k), min(float(h), y1 / k)
        boxes.append((x0, y0, x1 - x0, y1 - y0))
    return boxes


def _complete_line(grey: np.ndarray, members: list[_Glyph]) -> np.ndarray:
    """Stroke pixels of one text line: the glyphs MSER found plus same-polarity strokes (top-/black-hat)
    chained to them along the line, which recovers letters MSER missed. Returns a mask of ``grey``."""
    gh, gw = grey.shape
    height = float(np.median([g.h for g in members]))
    x0, y0, x1, y1 = _line_box(members, 0.3)
    reach = 3.0 * height
    rx0, rx1 = max(0, int(x0 - reach)), min(gw, int(x1 + reach))
    ry0, ry1 = max(0, y0), min(gh, y1)
    glyphs = np.zeros((ry1 - ry0, rx1 - rx0), np.uint8)
    for g in members:
        px, py = g.points[:, 0], g.points[:, 1]
        inside = (py >= ry0) & (py < ry1) & (px >= rx0) & (px < rx1)
        glyphs[py[inside] - ry0, px[inside] - rx0] = 1
    dark = sum(g.dark for g in members) * 2 >= len(members)
    ksz = max(3, round(0.6 * height)) | 1
    hat = cv2.morphologyEx(
        grey[ry0:ry1, rx0:rx1],
        cv2.MORPH_BLACKHAT if dark else cv2.MORPH_TOPHAT,
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ksz, ksz)),
    )
    strength = float(np.median(hat[glyphs > 0])) if glyphs.any() else 0.0
    strokes = ((hat >= max(15.0, 0.35 * strength)) | (glyphs > 0)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    dt = cv2.distanceTransform(strokes, cv2.DIST_L2, 3)
    widest = np.zeros(n, np.float32)
    np.maximum.at(widest, labels.ravel(), dt.ravel())
    seeded = np.zeros(n, bool)
    seeded[np.unique(labels[glyphs > 0])] = True
    left, right = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_LEFT] + stats[:, cv2.CC_STAT_WIDTH]
    mid_y = stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] / 2
    band = (y0 - ry0 + 0.15 * height, y1 - ry0 - 0.15 * height)
    letter_like = (
        (stats[:, cv2.CC_STAT_HEIGHT] <= 1.8 * height)
        & (2 * widest <= 0.45 * height + 1)
        & (mid_y >= band[0])
        & (mid_y <= band[1])
    )
    accepted = seeded.copy()
    accepted[0] = False
    gap = 1.2 * height
    changed = True
    while changed and accepted.any():
        lo, hi = left[accepted].min() - gap, right[accepted].max() + gap
        grow = letter_like & ~accepted & (right >= lo) & (left <= hi)
        grow[0] = False
        changed = bool(grow.any())
        accepted |= grow
    out = np.zeros((gh, gw), np.uint8)
    out[ry0:ry1, rx0:rx1] = accepted.astype(np.uint8)[labels]
    return out


def text_mask(img: np.ndarray) -> np.ndarray:
    """Stroke pixels of detected text lines (see ``_complete_line``), as a float32 H×W mask."""
    h, w = img.shape[:2]
    k, lines = _detect_lines(img)
    grey = _resize_grey(_grey_u8(img), k)
    small = np.zeros(grey.shape, np.uint8)
    for members in lines:
        small |= _complete_line(grey, members)
    return _to_full(small, h, w)


def _to_full(small: np.ndarray, h: int, w: int) -> np.ndarray:
    m = small.astype(F32)
    if m.shape != (h, w):
        m = (cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) > 0.25).astype(F32)
    return m


# ----------------------------------------------------------------------------- scratches and dust


def _thin_only(mask: np.ndarray, max_width: int) -> np.ndarray:
    """``mask`` minus its parts wider than ``max_width`` px (blobs are not thin defects)."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max_width + 1, max_width + 1))
    thick = cv2.dilate(cv2.morphologyEx(mask, cv2.MORPH_OPEN, disc), np.ones((3, 3), np.uint8))
    return mask & (1 - thick)


SCRATCH_MAX_WIDTH = 4  # px at detection scale: wider ridges are scene detail, not scratches
SCRATCH_MIN_LENGTH = 0.06  # of the short side (at least 20 px)
STRUCTURE_LENGTH = 0.15  # a straight line this long (of the short side) may be a mast, cable or rail
STRAIGHT_RMS = 0.012  # … straight: rms distance from its fitted line ≤ this × its length (≥ 1 px)
SCRATCH_MAX_CHROMA = 14  # scratches are achromatic: paper or emulsion white, dirt black (0-255 scale)
SCRATCH_LIGHT = 170  # a light scratch is near white (median grey ≥ this) …
SCRATCH_DARK = 55  # … a dark one near black (≤ this)
SCRATCH_CONTRAST = 40  # median top-/black-hat a line needs to be repaired; fainter ones are reported
OUTLINE = 0.35  # a line with different picture either side for this much of its length is an outline
_SCRATCH_SIDE = 1024


def _sides_differ(grey: np.ndarray, hat: np.ndarray, op: int) -> np.ndarray:
    """Bool H×W: where the picture differs on the two sides of a thin line: an outline or a seam
    between two regions, not a scratch laid over one. The picture beneath is ``grey`` with thin
    features removed (opening or closing), sampled ``SCRATCH_MAX_WIDTH + 2`` px either side along
    the line's normal (from the structure tensor of its hat response). A scratch crosses region
    boundaries only at points; an outline runs along one."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * SCRATCH_MAX_WIDTH + 3,) * 2)
    beneath = cv2.morphologyEx(grey, cv2.MORPH_OPEN if op == cv2.MORPH_TOPHAT else cv2.MORPH_CLOSE, disc)
    b = cv2.GaussianBlur(beneath.astype(np.float32), (0, 0), 1.0)
    hb = cv2.GaussianBlur(hat, (0, 0), 1.0)
    hx, hy = cv2.Sobel(hb, cv2.CV_32F, 1, 0), cv2.Sobel(hb, cv2.CV_32F, 0, 1)
    jxx, jxy, jyy = (cv2.GaussianBlur(a, (0, 0), 2.0) for a in (hx * hx, hx * hy, hy * hy))
    theta = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # the line's normal
    d = float(SCRATCH_MAX_WIDTH + 2)
    nx, ny = (np.cos(theta) * d).astype(np.float32), (np.sin(theta) * d).astype(np.float32)
    gy, gx = np.mgrid[0 : grey.shape[0], 0 : grey.shape[1]].astype(np.float32)
    one = cv2.remap(b, gx + nx, gy + ny, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    other = cv2.remap(b, gx - nx, gy - ny, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.abs(one - other) > np.maximum(12.0, 0.35 * hat)


@dataclass(frozen=True)
class ScratchReport:
    """What ``find_scratches`` saw: the mask to repair and one note per kind of line it left alone."""

    mask: np.ndarray  # float32 H×W, 1 = scratch to inpaint
    found: int  # scratches in ``mask``
    notes: tuple[str, ...]  # lines kept, and why (straight structure, branching, too faint)


def _skeleton(component: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    return skeletonize(component > 0)


def _holes(component: np.ndarray) -> int:
    """Enclosed holes of at least 6 px: a lattice (tower, fence, rigging) has them, a scratch does not."""
    contours, hierarchy = cv2.findContours(component.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return 0
    return sum(1 for c, hr in zip(contours, hierarchy[0], strict=True) if hr[3] >= 0 and cv2.contourArea(c) >= 6)


def _straightness(ys: np.ndarray, xs: np.ndarray) -> tuple[float, float]:
    """(length along the main axis, rms distance from the fitted line) of skeleton points."""
    pts = np.stack([xs, ys], 1).astype(np.float64)
    if len(pts) < 3:
        return float(len(pts)), 0.0
    pts -= pts.mean(0)
    _, sv, vt = np.linalg.svd(pts, full_matrices=False)
    along = pts @ vt[0]
    across = pts @ vt[1]
    return float(along.max() - along.min() + 1), float(np.sqrt((across**2).mean()))


def _runs_off_outline(comp: np.ndarray, outline: np.ndarray, hat: np.ndarray, min_len: float) -> np.ndarray:
    """The parts of a thin line away from where it runs along an outline (``outline`` dilated by the
    line's width) that are each at least ``min_len`` long, clear (median hat ≥ ``SCRATCH_CONTRAST``)
    and mostly off outlines themselves; uint8 mask of ``comp``'s shape."""
    near = cv2.dilate((outline & (comp > 0)).astype(np.uint8), np.ones((2 * SCRATCH_MAX_WIDTH + 1,) * 2, np.uint8))
    rest = (comp > 0) & (near == 0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(rest.astype(np.uint8), connectivity=8)
    out = np.zeros(comp.shape, np.uint8)
    for j in range(1, n):
        if max(stats[j, cv2.CC_STAT_WIDTH], stats[j, cv2.CC_STAT_HEIGHT]) < 0.7 * min_len:
            continue
        piece = labels == j
        skel = _skeleton(piece.astype(np.uint8))
        if (
            skel.sum() >= min_len
            and float(np.median(hat[skel])) >= SCRATCH_CONTRAST
            and outline[skel].mean() <= OUTLINE
        ):
            out |= piece.astype(np.uint8)
    return out


def find_scratches(img: np.ndarray) -> ScratchReport:
    """Thin (1-4 px at ≤ 1024 px), high-contrast lines of either polarity that are scratches, not scene.

    Candidates are white top-hat / black-hat ridges narrower than ``2 × SCRATCH_MAX_WIDTH``, which
    must stand out against the local texture level (a line on fur or foliage must stand out further
    than one on sky). Each connected line is then judged:

    * only achromatic lines toward white (median grey ≥ ``SCRATCH_LIGHT``) or black (≤
      ``SCRATCH_DARK``) are candidates: scratches show paper or emulsion white, or dirt black;
      coloured and mid-grey thin lines are the picture's own (seams, rims, hair, flag poles);
    * a scratch: such a curve at least ``SCRATCH_MIN_LENGTH`` of the short side long, with a median
      hat contrast of at least ``SCRATCH_CONTRAST``, that is none of the following;
    * kept, as scene structure: a long straight line (masts, poles, cables, rails, frames), a
      lattice (a line with holes: towers, fences, rigging), or an outline (the picture differs on
      its two sides for more than ``OUTLINE`` of its length);
    * kept, as too faint: a candidate below ``SCRATCH_CONTRAST`` (a dark scratch across a dark
      area cannot be told from a seam).

    Kept lines are reported in ``notes`` so the caller can say what it did not remove.
    """
    h, w = img.shape[:2]
    k = min(1.0, _SCRATCH_SIDE / max(h, w))
    grey = _resize_grey(_grey_u8(img), k)
    gh, gw = grey.shape
    short = min(gh, gw)
    min_len = max(20.0, SCRATCH_MIN_LENGTH * short)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * SCRATCH_MAX_WIDTH + 3,) * 2)
    small = np.zeros((gh, gw), np.uint8)
    found, structure, faint = 0, 0, 0
    u8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    if k < 1.0:
        u8 = cv2.resize(u8, (gw, gh), interpolation=cv2.INTER_AREA)
    chroma = u8.max(axis=2).astype(np.int16) - u8.min(axis=2)
    for op in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
        light = op == cv2.MORPH_TOPHAT
        hat = cv2.morphologyEx(grey, op, disc).astype(np.float32)
        # how much thin detail is around anyway: a local median ignores the line itself
        texture = cv2.medianBlur(np.clip(hat, 0, 255).astype(np.uint8), 21).astype(np.float32)
        # scratch pixels are achromatic and toward white or black: coloured and mid-grey thin lines are
        # the picture's own, and leaving them out keeps a scratch from merging with the lines it crosses
        tone = (grey >= SCRATCH_LIGHT - 40) if light else (grey <= SCRATCH_DARK + 30)
        tone = cv2.dilate((tone & (chroma <= 2 * SCRATCH_MAX_CHROMA)).astype(np.uint8), np.ones((3, 3), np.uint8))
        weak = ((hat >= 25) & (hat >= 2.0 * texture + 12) & (tone > 0)).astype(np.uint8)
        weak = _thin_only(weak, 2 * SCRATCH_MAX_WIDTH)
        follows = _sides_differ(grey, hat, op)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
        big = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= 0.7 * min_len
        big[0] = False
        for i in np.nonzero(big)[0]:
            x, y = stats[i, cv2.CC_STAT_LEFT], stats[i, cv2.CC_STAT_TOP]
            cw, ch = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
            comp = (labels[y : y + ch, x : x + cw] == i).astype(np.uint8)
            skel = _skeleton(comp)
            length = float(skel.sum())
            if length < min_len or stats[i, cv2.CC_STAT_AREA] > 2 * SCRATCH_MAX_WIDTH * length:
                continue
            level = float(np.median(grey[y : y + ch, x : x + cw][skel]))
            tint = float(np.median(chroma[y : y + ch, x : x + cw][skel]))
            if tint > SCRATCH_MAX_CHROMA or not (level >= SCRATCH_LIGHT if light else level <= SCRATCH_DARK):
                continue  # coloured or mid-grey thin lines are the picture's own (seams, rims, hair)
            ys, xs = np.nonzero(skel)
            span, rms = _straightness(ys, xs)
            along_edges = float(follows[y : y + ch, x : x + cw][skel].mean())
            contrast = float(np.median(hat[y : y + ch, x : x + cw][skel]))
            if span >= STRUCTURE_LENGTH * short and rms <= max(1.0, STRAIGHT_RMS * span):
                structure += 1
            elif _holes(comp) >= 2:
                structure += 1  # a lattice, or a line joined to other structure
            elif along_edges > OUTLINE:
                # an outline, or a scratch that runs along one for a while: keep the outline, and
                # repair the runs away from it that are long and clear enough to be a scratch alone
                runs = _runs_off_outline(comp, follows[y : y + ch, x : x + cw], hat[y : y + ch, x : x + cw], min_len)
                if runs.any():
                    found += 1
                    small[y : y + ch, x : x + cw] |= runs
                structure += 1
            elif contrast < SCRATCH_CONTRAST:
                faint += 1
            else:
                found += 1
                small[y : y + ch, x : x + cw] |= comp
    small = cv2.dilate(small, np.ones((3, 3), np.uint8))
    notes = []
    if structure:
        notes.append(
            f"kept {structure} thin {'line' if structure == 1 else 'lines'} that read as scene structure "
            "(a long straight mast, cable or rail, a lattice, or an outline between two regions), not scratches"
        )
    if faint:
        notes.append(
            f"kept {faint} faint thin {'line' if faint == 1 else 'lines'} that may be scratches: too little "
            "contrast (a dark scratch over a dark area) to tell from the picture's own lines"
        )
    return ScratchReport(_to_full(small, h, w), found, tuple(notes))


def scratch_mask(img: np.ndarray) -> np.ndarray:
    """The scratches ``find_scratches`` would repair, as a float32 H×W mask."""
    return find_scratches(img).mask


def dust_mask(img: np.ndarray) -> np.ndarray:
    """Small, isolated, high-contrast specks on smooth surroundings, as a float32 H×W mask.

    Specks on busy texture (fur, wood grain, foliage) are left alone: there they cannot be told
    from detail.
    """
    h, w = img.shape[:2]
    k = _detect_scale(img)
    grey = _resize_grey(_grey_u8(img), k)
    gh, gw = grey.shape
    base = cv2.medianBlur(grey, 7).astype(np.float32)
    speck = np.abs(grey.astype(np.float32) - base)
    mean = cv2.blur(base, (9, 9))
    local_sd = np.sqrt(np.maximum(cv2.blur(base * base, (9, 9)) - mean * mean, 0.0))
    cand = ((speck >= 50) & (local_sd <= 8)).astype(np.uint8)
    weak = (speck >= 20).astype(np.float32)  # any detail nearby
    crowd = cv2.boxFilter(weak, -1, (21, 21), normalize=False)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
    max_side = max(3, round(0.012 * min(gh, gw)))
    sw, sh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    ok = (sw <= max_side) & (sh <= max_side) & (np.maximum(sw, sh) <= 2.5 * np.minimum(sw, sh))
    ok[0] = False
    for i in np.nonzero(ok)[0]:  # isolated: nothing else near
        x, y = stats[i, cv2.CC_STAT_LEFT], stats[i, cv2.CC_STAT_TOP]
        if crowd[y : y + sh[i], x : x + sw[i]].max() > 2.5 * (sw[i] + 2) * (sh[i] + 2):
            ok[i] = False
    small = cv2.dilate(ok.astype(np.uint8)[labels], np.ones((5, 5), np.uint8))
    return _to_full(small, h, w)


def defect_mask(img: np.ndarray, what: str) -> np.ndarray:
    """Mask (float32 H×W, 1 = defect) of thin defects: one of ``DEFECTS``.

    ``object`` has no detector (it needs a caller-provided mask and usually a generative engine):
    it raises ``ValueError`` like any unknown kind.
    """
    kind = what.lower()
    if kind in ("text", "watermark"):
        return text_mask(img)
    if kind in ("scratches", "scratch"):
        return scratch_mask(img)
    if kind == "dust":
        return dust_mask(img)
    raise ValueError(f"no detector for {what!r}; expected one of {', '.join(DEFECTS)}")


# ----------------------------------------------------------------------------- inpainting


def removal_verdict(mask: np.ndarray) -> str | None:
    """None when ``mask`` is thin enough for classical inpainting, else the reason to refuse."""
    m = (mask > 0.5).astype(np.uint8)
    h, w = m.shape
    area = float(m.mean())
    if area > MAX_AREA:
        return f"{REFUSAL}: the area to remove covers {area:.0%} of the image (limit {MAX_AREA:.0%})"
    if area == 0.0:
        return None
    limit = max(MIN_THICKNESS_PX, MAX_THICKNESS * min(h, w))
    # a blob is a part that a disc of the limit's diameter can move around in (what the opening keeps
    # is at least two discs' area); where thin lines cross, the crossing is locally wider than either
    # line, so one disc may just fit there, but it cannot move: crossing scratches are not a blob
    d = int(limit) + 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))
    opened = cv2.morphologyEx(m, cv2.MORPH_OPEN, disc)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    big = np.nonzero(stats[1:, cv2.CC_STAT_AREA] >= 2 * int(disc.sum()))[0] + 1
    blob = np.isin(labels, big)
    thickness = 2.0 * float(cv2.distanceTransform(m, cv2.DIST_L2, 3)[blob].max()) if blob.any() else 0.0
    if thickness > limit:
        return (
            f"{REFUSAL}: a region to remove is {thickness:.0f} px thick "
            f"(limit {limit:.0f} px, {MAX_THICKNESS:.0%} of the short side)"
        )
    return None


def inpaint(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Fill the thin defects in ``mask`` (Telea); returns (image, warnings).

    A mask that ``removal_verdict`` refuses leaves the image unchanged and returns the refusal as
    the only warning; an empty mask returns a copy with a "nothing found" warning.
    """
    f = np.clip(img.astype(F32, copy=False), 0.0, 1.0)
    reason = removal_verdict(mask)
    if reason is not None:
        return f.copy(), [reason]
    m = (mask > 0.5).astype(np.uint8)
    if not m.any():
        return f.copy(), ["nothing to remove was found"]
    h, w = m.shape
    k = min(1.0, (WORK_PIXELS / (h * w)) ** 0.5)
    grow = max(1, round(1.5 * k * max(h, w) / 1024))
    m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    src = np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8)
    work_m = m
    if k < 1.0:
        size = (max(1, round(w * k)), max(1, round(h * k)))
        src = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        work_m = (cv2.resize(m.astype(F32), size, interpolation=cv2.INTER_LINEAR) > 0.1).astype(np.uint8)
    filled = cv2.inpaint(src, work_m, 5, cv2.INPAINT_TELEA).astype(F32) / F32(255.0)
    if filled.shape[:2] != (h, w):
        filled = np.clip(cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    soft = cv2.GaussianBlur(m.astype(F32), (0, 0), 1.0)
    soft = np.maximum(soft, m.astype(F32))[..., None]  # full replacement inside, feathered rim
    out = f * (F32(1.0) - soft) + filled * soft
    return np.clip(out, 0.0, 1.0).astype(F32), []
