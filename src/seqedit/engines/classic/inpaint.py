"""Finding and removing thin defects: text, watermarks, scratches and dust.

``defect_mask(img, what)`` finds the defect pixels (float32 H×W, 1 = remove);
``inpaint(img, mask)`` fills them with OpenCV's Telea method (at ≤ 2 MP, upsampled and blended only
inside the mask). Classical inpainting continues the surroundings smoothly: that works for thin
strokes and fails on anything with area, where it leaves a smear. So ``removal_verdict(mask)``
refuses masks covering more than ``MAX_AREA`` of the image or with a blob thicker than
``MAX_THICKNESS`` of the short side (at least ``MIN_THICKNESS_PX``), and ``inpaint`` returns the
image untouched with the refusal as its warning ("object removal needs a generative engine"). The
caller must treat a refusal as "unsupported", not as a result.

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


def _hat_response(grey: np.ndarray, size: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return np.maximum(
        cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel), cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)
    )


def _thin_only(mask: np.ndarray, max_width: int) -> np.ndarray:
    """``mask`` minus its parts wider than ``max_width`` px (blobs are not thin defects)."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max_width + 1, max_width + 1))
    thick = cv2.dilate(cv2.morphologyEx(mask, cv2.MORPH_OPEN, disc), np.ones((3, 3), np.uint8))
    return mask & (1 - thick)


def _line_kernel(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.uint8)
    c = (length - 1) / 2
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1, 1)
    return k


def scratch_mask(img: np.ndarray) -> np.ndarray:
    """Thin, long, straight high-contrast lines, as a float32 H×W mask.

    For each polarity the thin-feature response (top-/black-hat) is averaged along line segments a
    tenth of the short side long at 12 angles: a scratch keeps its contrast along its length and is
    far stronger along one direction than around it, while texture averages out. Runs at least a
    fifth of the short side long are kept, minus any thick parts. Natural thin straight structures
    (cables, masts, piping, a straight whisker) look the same and are removed too.
    """
    h, w = img.shape[:2]
    k = min(1.0, 640 / max(h, w))
    grey = _resize_grey(_grey_u8(img), k)
    gh, gw = grey.shape
    length = max(15, round(0.1 * min(gh, gw))) | 1
    kernels = [_line_kernel(length, float(a)).astype(np.float32) for a in np.arange(12) * (np.pi / 12)]
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    small = np.zeros((gh, gw), np.uint8)
    for op in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
        hat = cv2.morphologyEx(grey, op, disc)
        spread = cv2.dilate(hat, np.ones((3, 3), np.uint8)).astype(np.float32)  # angular tolerance
        iso = cv2.blur(spread, (length, length))  # same response, no direction
        for kern in kernels:
            along = cv2.filter2D(spread, -1, kern / kern.sum())
            line = ((along >= 50) & (along - iso >= 30) & (along >= 1.6 * iso)).astype(np.uint8)
            n, labels, stats, _ = cv2.connectedComponentsWithStats(line, connectivity=8)
            span = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
            long_enough = (span >= 2.0 * length) & (stats[:, cv2.CC_STAT_AREA] <= 8.0 * span)  # long and thin
            long_enough[0] = False
            line = cv2.dilate(long_enough.astype(np.uint8)[labels], np.ones((5, 5), np.uint8))
            small |= line & (hat >= 25)
    small = cv2.dilate(_thin_only(small, 5), np.ones((3, 3), np.uint8))
    return _to_full(small, h, w)


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
    thickness = 2.0 * float(cv2.distanceTransform(m, cv2.DIST_L2, 3).max())
    limit = max(MIN_THICKNESS_PX, MAX_THICKNESS * min(h, w))
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
