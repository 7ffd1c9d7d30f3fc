"""Reframing: close-up, medium, wide, crop, aspect, mirror, set variations; and the final fit to the output size.

Boxes are ``(x, y, w, h)`` in pixels of the image they came with. ``reframe`` returns the new image
and a list of warnings (approximations, fallbacks). Close-up, medium, wide and crop keep the input
size (the crop is resampled back up, so later ops keep their resolution); ``aspect`` returns the
crop at native resolution; ``fit_to_size`` makes the final requested size.

Mirroring and text: flipping an image reverses any writing in it. Before mirroring we look for
text (``inpaint.text_boxes``, or trust ``has_text=False``). Each detected text region is flipped
back after the mirror, so a sign moves with the mirrored scene but stays readable; the result
carries a warning saying so. When the caller says there is text but none is located, the image is
mirrored with a warning that writing may read backwards. A mirror is only ever made on request: set
variations never mirror (a flipped face or name tag is a different picture, not another framing).

Set variations (``variation_window``) are crops that keep a ``keep`` box (head and shoulders, or the
subject) inside: a fixed sequence of zooms and anchors, so panel k of a set is always the same crop.

The final fit (``fit_subject``) makes the requested size without losing the subject: a cover crop
slid to keep as much of the subject mask as possible; when that would cut the subject and the
backdrop is plain, the picture is fitted whole and the backdrop extended instead; otherwise it warns
with the share of the subject the frame cuts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import cv2
import numpy as np

from . import arrays
from .inpaint import text_boxes
from .looks import F32, blur, size_scale

FRAMINGS = ("closeup", "medium", "wide", "crop", "aspect", "mirror", "variation")
WIDE_FACTOR = 1.4
# set variations: window side as a fraction of the image side, and where the window sits in its free range
VARIATION_ZOOMS = (0.8, 0.66, 0.9, 0.72, 0.58, 0.85)
VARIATION_ANCHORS = (
    (0.5, 0.5),
    (0.0, 0.5),
    (1.0, 0.5),
    (0.5, 0.0),
    (0.5, 1.0),
    (0.25, 0.25),
    (0.75, 0.75),
    (0.25, 0.75),
    (0.75, 0.25),
)
FILLS = 0.85  # a keep box wider or taller than this share of the frame fills it: variations keep its centre
KEEP_MARGIN = 0.06  # the keep box grows by this fraction of its size on each side before a variation crop
CUT_WARN = 0.02  # a final fit that cuts more than this share of the subject says so
ASPECT_SAME = 0.02  # aspect ratios within 2 % are the same: plain resize

Box = tuple[float, float, float, float]  # x, y, width, height in pixels

_ALIASES = {
    "close_up": "closeup",
    "close-up": "closeup",
    "close": "closeup",
    "zoom_out": "wide",
    "flip": "mirror",
    "medium_shot": "medium",
    "wide_shot": "wide",
}


# ----------------------------------------------------------------------------- geometry helpers


def _largest(boxes: Sequence[Box] | None) -> Box | None:
    if not boxes:
        return None
    return max(boxes, key=lambda b: b[2] * b[3])


def _window(img_w: int, img_h: int, cx: float, cy: float, win_w: float, win_h: float) -> tuple[int, int, int, int]:
    """Integer window of (at most) the given size centred near (cx, cy), kept inside the image."""
    ww = int(round(min(max(win_w, 2.0), img_w)))
    wh = int(round(min(max(win_h, 2.0), img_h)))
    x0 = int(round(min(max(cx - ww / 2, 0.0), img_w - ww)))
    y0 = int(round(min(max(cy - wh / 2, 0.0), img_h - wh)))
    return x0, y0, ww, wh


def _fit_aspect(box_w: float, box_h: float, aspect: float) -> tuple[float, float]:
    """Smallest (w, h) with w/h = aspect that contains a box_w × box_h box."""
    if box_w / max(box_h, 1e-6) > aspect:
        return box_w, box_w / aspect
    return box_h * aspect, box_h


def _crop_window(
    img: np.ndarray, box: Box, scale: float, bias_y: float = 0.0, max_fraction: float = 1.0, keep: Box | None = None
) -> tuple[int, int, int, int]:
    """Window with the input's aspect ratio that holds ``box`` grown by ``scale``, centred on the box
    (shifted by ``bias_y`` × box height), at most ``max_fraction`` of the image per side; when the
    window is smaller than the box, it is slid so that ``keep`` (e.g. the face) stays inside."""
    h, w = img.shape[:2]
    bx, by, bw, bh = box
    need_w, need_h = _fit_aspect(bw * scale, bh * scale, w / h)
    need_w, need_h = max(need_w, bw + 2), max(need_h, bh + 2)
    if need_w / need_h > w / h:  # keep the input aspect ratio, covering the need
        need_h = need_w * h / w
    else:
        need_w = need_h * w / h
    need_w, need_h = min(need_w, max_fraction * w), min(need_h, max_fraction * h)
    cx, cy = bx + bw / 2, by + bh / 2 + bias_y * bh
    if keep is not None:
        kx, ky, kw, kh = keep
        cx = min(max(cx, kx + kw - need_w / 2), kx + need_w / 2) if kw < need_w else kx + kw / 2
        cy = min(max(cy, ky + kh - need_h / 2), ky + need_h / 2) if kh < need_h else ky + kh / 2
    return _window(w, h, cx, cy, need_w, need_h)


def _cut(img: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """The window, resampled back to the input size."""
    h, w = img.shape[:2]
    x0, y0, ww, wh = window
    return arrays.resize(np.ascontiguousarray(img[y0 : y0 + wh, x0 : x0 + ww]), w, h)


def _crop_containing(img: np.ndarray, box: Box, scale: float, bias_y: float = 0.0) -> np.ndarray:
    return _cut(img, _crop_window(img, box, scale, bias_y))


def _is_whole(img: np.ndarray, window: tuple[int, int, int, int]) -> bool:
    h, w = img.shape[:2]
    return window[2] >= w - 1 and window[3] >= h - 1


def _unsharp(img: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    soft = cv2.GaussianBlur(img, (0, 0), max(0.5, sigma))
    return np.clip(img + (img - soft) * F32(amount), 0.0, 1.0).astype(F32)


def parse_aspect(aspect: str) -> float:
    """'16:9', '16x9', '16/9' or '1.78' → width / height. Raises ValueError."""
    parts = re.split(r"\s*[:x×/]\s*", aspect.strip().lower())
    try:
        if len(parts) == 2:
            value = float(parts[0]) / float(parts[1])
        elif len(parts) == 1:
            value = float(parts[0])
        else:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"aspect must look like 'W:H', got {aspect!r}") from None
    if not 0.1 <= value <= 10.0:
        raise ValueError(f"aspect {aspect!r} is out of range (1:10 to 10:1)")
    return value


# ----------------------------------------------------------------------------- framings


def _focus(face_boxes: Sequence[Box] | None, subject_box: Box | None) -> tuple[Box | None, str]:
    face = _largest(face_boxes)
    if face is not None:
        return face, "face"
    if subject_box is not None:
        return subject_box, "subject"
    return None, "none"


def _closeup(img: np.ndarray, focus: Box | None, kind: str) -> tuple[np.ndarray, list[str]]:
    h, w = img.shape[:2]
    warnings: list[str] = []
    if focus is None:
        focus, scale, bias = (w * 0.3, h * 0.25, w * 0.4, h * 0.4), 1.2, 0.0
        warnings.append("closeup: no face or subject found, so the centre of the frame was enlarged")
    elif kind == "face":
        scale, bias = 2.4, 0.12  # head and shoulders, face a little above centre
    else:
        scale, bias = 1.15, 0.0
    out = _crop_containing(img, focus, scale, bias)
    zoom = w / max(1.0, min(w, focus[2] * scale))
    if zoom > 1.2:
        out = _unsharp(out, 0.4, 1.2 * size_scale(out))
    return out, warnings


def _medium(img: np.ndarray, focus: Box | None, kind: str) -> tuple[np.ndarray, list[str]]:
    h, w = img.shape[:2]
    if focus is None:
        return _crop_containing(img, (w * 0.1, h * 0.1, w * 0.8, h * 0.8), 1.0), [
            "medium: no face or subject found, so the frame was trimmed evenly"
        ]
    if kind == "face":  # waist up: about five face-heights, face in the top third
        x, y, bw, bh = focus
        window = _crop_window(img, (x - bw, y - 0.3 * bh, 3 * bw, 5 * bh), 1.0, keep=focus)
    else:
        window = _crop_window(img, focus, 1.5)
    if _is_whole(img, window):
        return img.copy(), ["medium: the frame is already a medium shot or wider, so it is unchanged"]
    return _cut(img, window), []


def _seam_distance(big_h: int, big_w: int, ph: int, pw: int, h: int, w: int) -> np.ndarray:
    """H×W×1 in [0, 1]: 0 inside the original, rising to 1 at the far edge of the added border."""
    xs = np.arange(big_w, dtype=F32)
    ys = np.arange(big_h, dtype=F32)
    dx = np.maximum(np.maximum(F32(pw) - xs, xs - F32(pw + w - 1)), 0.0) / F32(max(pw, 1))
    dy = np.maximum(np.maximum(F32(ph) - ys, ys - F32(ph + h - 1)), 0.0) / F32(max(ph, 1))
    return np.clip(np.maximum(dx[None, :], dy[:, None]), 0.0, 1.0)[..., None]


def _wide(img: np.ndarray, factor: float = WIDE_FACTOR) -> tuple[np.ndarray, list[str]]:
    """Zoom out: the image in the middle of a canvas whose border continues the edge colours
    (Telea inpainting of a 1/8-scale copy, so no mirrored ghosts), blurred, with a soft seam."""
    h, w = img.shape[:2]
    s = size_scale(img)
    ph, pw = int(round(h * (factor - 1) / 2)), int(round(w * (factor - 1) / 2))
    big_h, big_w = h + 2 * ph, w + 2 * pw
    sw, sh = max(8, w // 8), max(8, h // 8)
    sp_w, sp_h = max(1, round(pw * sw / w)), max(1, round(ph * sh / h))
    small = arrays.to_uint8(cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA))
    padded = cv2.copyMakeBorder(small, sp_h, sp_h, sp_w, sp_w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    hole = np.full(padded.shape[:2], 1, np.uint8)
    hole[sp_h : sp_h + sh, sp_w : sp_w + sw] = 0
    fill = cv2.inpaint(padded, hole, 5, cv2.INPAINT_TELEA).astype(F32) / F32(255.0)
    ext = blur(cv2.resize(fill, (big_w, big_h), interpolation=cv2.INTER_CUBIC), 8 * s)
    t = _seam_distance(big_h, big_w, ph, pw, h, w)
    ext = ext * (F32(1.0) - F32(0.1) * t)  # the invented border recedes a little
    canvas = ext.copy()
    canvas[ph : ph + h, pw : pw + w] = img
    seam = np.clip(F32(1.0) - t * F32(6.0), 0.0, 1.0)  # a short blend across the seam
    inner = cv2.copyMakeBorder(img, ph, ph, pw, pw, cv2.BORDER_REPLICATE)
    out = canvas * (F32(1.0) - seam) + (inner * F32(0.5) + ext * F32(0.5)) * seam
    out[ph : ph + h, pw : pw + w] = img
    out = arrays.resize(np.clip(out, 0.0, 1.0).astype(F32), w, h)
    return out, ["wide: approximate; the added border continues the edge colours, it is not new scenery"]


def _crop(img: np.ndarray, focus: Box | None, kind: str) -> tuple[np.ndarray, list[str]]:
    """Tighten the frame on the focus: at least 15 % in from the full frame, subject kept if it fits."""
    h, w = img.shape[:2]
    if focus is None:
        return _crop_containing(img, (w * 0.1, h * 0.1, w * 0.8, h * 0.8), 1.0), [
            "crop: no face or subject found, so 10% was trimmed from each side"
        ]
    face = focus if kind == "face" else None
    if face is not None:
        x, y, bw, bh = face
        focus = (x - 1.5 * bw, y - 0.6 * bh, 4 * bw, 6 * bh)
    window = _crop_window(img, focus, 1.2, max_fraction=0.85, keep=face)
    warnings = []
    fx, fy, fw, fh = focus
    wx, wy, ww, wh = window
    if kind != "face" and (fx < wx - 1 or fy < wy - 1 or fx + fw > wx + ww + 1 or fy + fh > wy + wh + 1):
        warnings.append("crop: the subject fills the frame, so its edges are cut")
    return _cut(img, window), warnings


def _aspect(
    img: np.ndarray, focus: Box | None, aspect: str | None, subject: np.ndarray | None = None, plain: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The largest ``aspect`` crop for the subject (``subject_window``), at native resolution; when it
    would cut the subject and the backdrop is ``plain``, the whole picture on an extended backdrop."""
    if not aspect:
        raise ValueError("framing 'aspect' needs aspect='W:H'")
    ratio = parse_aspect(aspect)
    h, w = img.shape[:2]
    x0, y0, ww, wh, cut = subject_window(img, ratio, focus, subject)
    if cut > CUT_WARN and plain:
        size = (max(1, round(h * ratio)), h) if ratio > w / h else (w, max(1, round(w / ratio)))
        return extend_backdrop(img, *size), [
            f"aspect {aspect}: the frame would cut {round(100 * cut)}% of the subject, so the plain backdrop "
            "was extended instead"
        ]
    warnings = []
    if cut > CUT_WARN:
        warnings.append(f"aspect {aspect}: the {aspect} frame cuts {round(100 * cut)}% of the subject")
    return img[y0 : y0 + wh, x0 : x0 + ww].copy(), warnings


def _merge_boxes(boxes: Sequence[Box], w: int, h: int) -> list[tuple[int, int, int, int]]:
    """Integer (x0, y0, x1, y1) boxes inside the image, overlapping ones merged."""
    rects = [
        (max(0, int(x)), max(0, int(y)), min(w, int(np.ceil(x + bw))), min(h, int(np.ceil(y + bh))))
        for x, y, bw, bh in boxes
    ]
    rects = [r for r in rects if r[2] > r[0] and r[3] > r[1]]
    merged = True
    while merged:
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    rects[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return rects


def _mirror(img: np.ndarray, has_text: bool | None) -> tuple[np.ndarray, list[str]]:
    h, w = img.shape[:2]
    out = np.ascontiguousarray(img[:, ::-1])
    if has_text is False:
        return out, []
    rects = _merge_boxes(text_boxes(img), w, h)
    if not rects:
        if has_text:
            return out, ["mirror: the image has text that could not be located; it may read backwards"]
        return out, []
    for x0, y0, x1, y1 in rects:  # the region now at [w-x1, w-x0) is reversed text
        mx0, mx1 = w - x1, w - x0
        out[y0:y1, mx0:mx1] = out[y0:y1, mx0:mx1][:, ::-1]
    return out, [
        f"mirror: {len(rects)} text region(s) flipped back so the writing stays readable "
        "(it moves with the mirrored scene)"
    ]


def reframe(
    img: np.ndarray,
    kind: str,
    face_boxes: Sequence[Box] | None = None,
    subject_box: Box | None = None,
    aspect: str | None = None,
    has_text: bool | None = None,
    index: int = 1,
    subject_mask: np.ndarray | None = None,
    plain: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """Reframe ``img`` (``kind`` in ``FRAMINGS``); returns (image, warnings).

    Face boxes take precedence over the subject box as the focus. ``aspect`` ('W:H') is required for
    ``kind='aspect'``. ``has_text`` (mirror only): None = detect, False = skip detection, True = the
    caller knows there is text. ``index`` (variation only, ≥ 1): which crop of the variation sequence.
    ``subject_mask`` and ``plain`` (aspect only): the subject to keep, and whether the backdrop is plain
    enough to extend instead of cutting it.
    Raises ``ValueError`` for an unknown kind or a bad aspect.
    """
    name = kind.lower().replace(" ", "_")
    name = _ALIASES.get(name, name)
    f = np.clip(img.astype(F32, copy=False), 0.0, 1.0)
    focus, focus_kind = _focus(face_boxes, subject_box)
    if name == "closeup":
        return _closeup(f, focus, focus_kind)
    if name == "medium":
        return _medium(f, focus, focus_kind)
    if name == "wide":
        return _wide(f)
    if name == "crop":
        return _crop(f, focus, focus_kind)
    if name == "aspect":
        return _aspect(f, focus, aspect, subject_mask, plain)
    if name == "mirror":
        return _mirror(f, has_text)
    if name == "variation":
        keep = _variation_keep(f, face_boxes, subject_box)
        what = "face" if face_boxes else "subject"
        if keep is not None and (keep[2] > FILLS * f.shape[1] or keep[3] > FILLS * f.shape[0]):
            kx, ky, kw, kh = keep  # the subject fills the frame: keep its centre
            keep = (kx + 0.2 * kw, ky + 0.2 * kh, 0.6 * kw, 0.6 * kh)
            what = "centre of the subject (it fills the frame)"
        window = variation_window(f.shape[1], f.shape[0], index, keep)
        pct = round(100 * window[2] / f.shape[1])
        return _cut(f, window), [f"variation {index}: a {pct}% crop that keeps the {what}"]
    raise ValueError(f"unknown framing {kind!r}; expected one of {', '.join(FRAMINGS)}")


def fit_to_size(img: np.ndarray, width: int, height: int, focus_box: Box | None = None) -> np.ndarray:
    """Cover-fit: crop to the target aspect ratio around ``focus_box`` (else the centre), then resize."""
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    h, w = img.shape[:2]
    scale = max(width / w, height / h)
    win_w, win_h = width / scale, height / scale
    if focus_box is None:
        cx, cy = w / 2, h / 2
    else:
        cx, cy = focus_box[0] + focus_box[2] / 2, focus_box[1] + focus_box[3] / 2
    x0, y0, ww, wh = _window(w, h, cx, cy, win_w, win_h)
    crop = img[y0 : y0 + wh, x0 : x0 + ww].astype(F32, copy=False)
    return arrays.resize(np.ascontiguousarray(crop), width, height)


# ----------------------------------------------------------------------------- set variations


def _variation_keep(img: np.ndarray, face_boxes: Sequence[Box] | None, subject_box: Box | None) -> Box | None:
    """What a variation must keep: head and shoulders around the largest face, else the subject box."""
    h, w = img.shape[:2]
    face = _largest(face_boxes)
    if face is not None:
        x, y, bw, bh = face
        x0, y0 = max(0.0, x - 0.8 * bw), max(0.0, y - 0.5 * bh)
        return x0, y0, min(float(w), x + 1.8 * bw) - x0, min(float(h), y + 2.2 * bh) - y0
    return subject_box


def variation_window(width: int, height: int, index: int, keep: Box | None) -> tuple[int, int, int, int]:
    """Crop ``index`` (≥ 1) of the variation sequence: the input's aspect ratio, a zoom and an anchor
    from ``VARIATION_ZOOMS`` × ``VARIATION_ANCHORS``, grown when needed so ``keep`` stays inside."""
    if index < 1:
        raise ValueError(f"variation index must be >= 1, got {index}")
    zoom = VARIATION_ZOOMS[(index - 1) % len(VARIATION_ZOOMS)]
    ax, ay = VARIATION_ANCHORS[(index - 1) % len(VARIATION_ANCHORS)]
    if keep is not None:
        kx, ky, kw, kh = keep
        mx, my = KEEP_MARGIN * kw, KEEP_MARGIN * kh
        kx0, ky0 = max(0.0, kx - mx), max(0.0, ky - my)
        kx1, ky1 = min(float(width), kx + kw + mx), min(float(height), ky + kh + my)
        zoom = min(1.0, max(zoom, (kx1 - kx0) / width, (ky1 - ky0) / height))
    else:
        kx0, ky0, kx1, ky1 = width * 0.5, height * 0.5, width * 0.5, height * 0.5
    ww, wh = max(2, round(zoom * width)), max(2, round(zoom * height))

    def place(lo_edge: float, hi_edge: float, size: int, total: int, anchor: float) -> int:
        lo, hi = max(0.0, hi_edge - size), min(lo_edge, float(total - size))
        if lo > hi:  # the keep box is larger than the window: centre on it
            return int(round(min(max((lo_edge + hi_edge - size) / 2, 0.0), total - size)))
        return int(round(lo + anchor * (hi - lo)))

    return place(kx0, kx1, ww, width, ax), place(ky0, ky1, wh, height, ay), ww, wh


# ----------------------------------------------------------------------------- the final fit


def _slide(profile: np.ndarray, size: int, preferred: int, keep: tuple[float, float] | None = None) -> int:
    """Start of the ``size``-long window over ``profile`` holding the most of it (ties: nearest
    ``preferred``), among the starts that keep the ``keep`` span (start, end) inside; centred on
    ``keep`` when it is longer than the window."""
    n = profile.shape[0]
    if size >= n:
        return 0
    c = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])
    sums = c[size:] - c[: n - size + 1]
    if keep is not None and keep[1] - keep[0] > size:  # the face is larger than the window: centre on it
        return int(min(max(round((keep[0] + keep[1] - size) / 2), 0), n - size))
    if keep is not None:
        lo, hi = max(0, int(np.ceil(keep[1])) - size), min(n - size, int(keep[0]))
        if lo <= hi:
            allowed = np.full(sums.shape, -np.inf)
            allowed[lo : hi + 1] = sums[lo : hi + 1]
            sums = allowed
    best = float(sums.max())
    starts = np.nonzero(sums >= best - 1e-6 * max(abs(best), 1.0))[0]
    return int(starts[np.argmin(np.abs(starts - preferred))])


def extend_backdrop(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """The whole image fitted inside width×height, the rest filled by continuing its (plain) edges:
    each edge row/column, smoothed along its length, repeated outward, with a short blend at the seam."""
    h, w = img.shape[:2]
    s = min(width / w, height / h)
    fw, fh = max(1, min(width, round(w * s))), max(1, min(height, round(h * s)))
    fitted = arrays.resize(np.ascontiguousarray(img, dtype=F32), fw, fh)
    top, left = (height - fh) // 2, (width - fw) // 2
    bottom, right = height - fh - top, width - fw - left
    edged = fitted.copy()
    k = max(3, (max(fw, fh) // 24) | 1)
    edged[0] = cv2.GaussianBlur(fitted[:1], (k, 1), 0)[0]
    edged[-1] = cv2.GaussianBlur(fitted[-1:], (k, 1), 0)[0]
    edged[:, 0] = cv2.GaussianBlur(np.ascontiguousarray(fitted[:, :1]), (1, k), 0)[:, 0]
    edged[:, -1] = cv2.GaussianBlur(np.ascontiguousarray(fitted[:, -1:]), (1, k), 0)[:, 0]
    out = cv2.copyMakeBorder(edged, top, bottom, left, right, cv2.BORDER_REPLICATE)
    out[top : top + fh, left : left + fw] = fitted
    return np.clip(out, 0.0, 1.0, out=out)  # in place: a 2048² page is not copied twice


def subject_window(
    img: np.ndarray, ratio: float, focus_box: Box | None = None, subject: np.ndarray | None = None
) -> tuple[int, int, int, int, float]:
    """The largest ``ratio`` (width / height) window of ``img`` for the subject, and the share of the
    subject it cuts: slid along the cut axis to hold the most of ``subject`` (an H×W mask) while
    keeping ``focus_box`` (the face) inside when it fits; without a mask, centred on ``focus_box``."""
    h, w = img.shape[:2]
    win_w, win_h = (min(w, round(h * ratio)), h) if w / h > ratio else (w, min(h, round(w / ratio)))
    if focus_box is None:
        cx, cy = w / 2, h / 2
    else:
        cx, cy = focus_box[0] + focus_box[2] / 2, focus_box[1] + focus_box[3] / 2
    x0, y0, ww, wh = _window(w, h, cx, cy, win_w, win_h)
    cut = 0.0
    if subject is not None and subject.shape[:2] == (h, w) and float(subject.sum()) > 0:
        m = np.clip(subject.astype(F32, copy=False), 0.0, 1.0)
        fb = focus_box
        if ww < w:
            x0 = _slide(m.sum(axis=0), ww, x0, (fb[0], fb[0] + fb[2]) if fb else None)
        if wh < h:
            y0 = _slide(m.sum(axis=1), wh, y0, (fb[1], fb[1] + fb[3]) if fb else None)
        cut = 1.0 - float(m[y0 : y0 + wh, x0 : x0 + ww].sum()) / float(m.sum())
    elif focus_box is not None:
        fx, fy, fw, fh = focus_box
        inside_w = max(0.0, min(fx + fw, x0 + ww) - max(fx, x0))
        inside_h = max(0.0, min(fy + fh, y0 + wh) - max(fy, y0))
        cut = 1.0 - (inside_w * inside_h) / max(fw * fh, 1e-6)
    return x0, y0, ww, wh, cut


def fit_subject(
    img: np.ndarray,
    width: int,
    height: int,
    focus_box: Box | None = None,
    subject: np.ndarray | None = None,
    plain: bool = False,
    size_label: str | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Make width×height without losing the subject; returns (image, warnings).

    Same aspect ratio: a resize. Otherwise the cover crop is slid along the cut axis to hold the most
    of ``subject`` (an H×W mask in [0, 1]) while keeping ``focus_box`` (the face) inside when it fits;
    without a mask it is centred on ``focus_box``. When that cuts more
    than ``CUT_WARN`` of the subject and ``plain`` (the backdrop is plain), the whole picture is
    fitted and the backdrop extended instead; otherwise the warning says how much is cut.
    ``size_label`` names the frame in warnings (default ``width×height``).
    """
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    h, w = img.shape[:2]
    if abs((w / h) / (width / height) - 1) < ASPECT_SAME:
        return arrays.resize(np.ascontiguousarray(img, dtype=F32), width, height), []
    x0, y0, ww, wh, cut = subject_window(img, width / height, focus_box, subject)
    label = size_label or f"{width}×{height}"
    if cut > CUT_WARN and plain:
        return extend_backdrop(img, width, height), [
            f"the {label} frame would cut {round(100 * cut)}% of the subject, so the whole picture is "
            "shown and the plain backdrop extended"
        ]
    crop = np.ascontiguousarray(img[y0 : y0 + wh, x0 : x0 + ww].astype(F32, copy=False))
    warnings = []
    if cut > CUT_WARN:
        warnings.append(f"the {label} frame cuts {round(100 * cut)}% of the subject")
    return arrays.resize(crop, width, height), warnings
