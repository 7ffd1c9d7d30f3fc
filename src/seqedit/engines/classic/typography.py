"""Text on images for the classic engine: fitted text blocks, captions, frames, magazine covers.

Conventions (``panel.py``): images are float32 H×W×3 RGB in [0, 1], masks float32 H×W in [0, 1].
Boxes are ``(x0, y0, x1, y1)`` integer pixels, end-exclusive. Colours are RGB floats in [0, 1];
public functions also accept a colour name or hex string of ``colors.py`` (the engine's one colour
vocabulary: an unknown name is ``Unsupported``) or 0–255 ints (``parse_color``).

Text is rasterised by Pillow into a coverage mask and composited in float, so pixels outside the
ink, bars and frames are left exactly as they were. Every text call goes through ``fit_text``,
which wraps and shrinks the text until it fits its box (and ellipsises as a last resort): text
never overflows its box, whatever the image size. All text uses the font roles of ``fonts.py``,
so a set of panels shares its typography.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

import cv2
import numpy as np
from PIL import Image, ImageDraw

from seqedit.engines.classic import arrays
from seqedit.engines.classic.colors import as_color
from seqedit.engines.classic.fonts import Font, Role, get_font, role_spec

RGB: TypeAlias = tuple[float, float, float]
ColorLike: TypeAlias = "str | Sequence[float] | None"
Box: TypeAlias = tuple[int, int, int, int]
CaptionStyle = Literal["bar", "solid", "gradient"]
FrameKind = Literal["border", "polaroid", "film", "rounded"]

WHITE: RGB = (1.0, 1.0, 1.0)
INK: RGB = (0.06, 0.06, 0.07)
DEFAULT_ACCENT: RGB = (0.88, 0.14, 0.27)
_ELLIPSIS = "…"
_PROBE = ImageDraw.Draw(Image.new("L", (1, 1)))


# ----------------------------------------------------------------------------- colour


def parse_color(color: ColorLike, default: RGB) -> RGB:
    """A colour as RGB floats in [0, 1]: a colour phrase or hex string (``colors.as_color``), 0–1 floats or
    0–255 ints; None → default."""
    if color is None:
        return default
    if isinstance(color, str):
        return as_color(color).rgb
    vals = [float(v) for v in list(color)[:3]]
    if len(vals) != 3:
        raise ValueError(f"a colour needs three components, got {color!r}")
    if max(vals) > 1.0:
        vals = [v / 255.0 for v in vals]
    r, g, b = (min(1.0, max(0.0, v)) for v in vals)
    return (r, g, b)


def luminance(color: RGB) -> float:
    """Rec. 709 luma of an RGB float colour."""
    return 0.2126 * color[0] + 0.7152 * color[1] + 0.0722 * color[2]


def mean_luminance(img: np.ndarray, box: Box, mask: np.ndarray | None = None) -> float:
    """Mean luma of ``img`` inside ``box``, weighted by ``1 - mask`` when a mask is given."""
    x0, y0, x1, y1 = box
    region = img[y0:y1, x0:x1]
    if region.size == 0:
        return 0.5
    lum = region[..., 0] * 0.2126 + region[..., 1] * 0.7152 + region[..., 2] * 0.0722
    if mask is None:
        return float(lum.mean())
    weight = 1.0 - mask[y0:y1, x0:x1]
    total = float(weight.sum())
    return float((lum * weight).sum() / total) if total > 1.0 else float(lum.mean())


def image_accent(img: np.ndarray, mask: np.ndarray | None = None) -> RGB:
    """A vivid accent colour taken from the image's dominant saturated hue (background weighted
    above the subject when ``mask`` is given); ``DEFAULT_ACCENT`` for near-grey images."""
    small = arrays.resize(img, *_fit_within(img.shape[1], img.shape[0], 192))
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)  # float input: H in degrees, S and V in [0, 1]
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    weight = sat * val * ((sat > 0.3) & (val > 0.25))
    if mask is not None:
        m = cv2.resize(mask.astype(np.float32), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
        weight = weight * (1.0 - 0.5 * np.clip(m, 0.0, 1.0))
    if float(weight.sum()) < 0.02 * weight.size:
        return DEFAULT_ACCENT
    bins = 24
    hist = np.bincount((hue.ravel() / 360.0 * bins).astype(np.int64) % bins, weights=weight.ravel(), minlength=bins)
    peak = int(np.argmax(hist))
    sel = ((hue / 360.0 * bins).astype(np.int64) % bins) == peak
    angle = np.deg2rad(hue[sel])
    w = weight[sel]
    h_deg = float(np.rad2deg(math.atan2(float((np.sin(angle) * w).sum()), float((np.cos(angle) * w).sum())))) % 360.0
    pixel = np.array([[[h_deg, 0.85, 0.92]]], dtype=np.float32)
    r, g, b = cv2.cvtColor(pixel, cv2.COLOR_HSV2RGB)[0, 0]
    return (float(r), float(g), float(b))


# ----------------------------------------------------------------------------- geometry helpers


def _fit_within(w: int, h: int, long_side: int) -> tuple[int, int]:
    s = min(1.0, long_side / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def fit_cover(img: np.ndarray, width: int, height: int, focus: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """Crop ``img`` to the aspect of ``width``×``height`` around ``focus`` (fractions), then resize."""
    h, w = img.shape[:2]
    width, height = max(1, int(width)), max(1, int(height))
    if w * height > h * width:  # source wider than target
        cw, ch = max(1, round(h * width / height)), h
    else:
        cw, ch = w, max(1, round(w * height / width))
    cw, ch = min(cw, w), min(ch, h)
    x0 = int(round(min(max(focus[0] * w - cw / 2, 0), w - cw)))
    y0 = int(round(min(max(focus[1] * h - ch / 2, 0), h - ch)))
    return arrays.resize(np.ascontiguousarray(img[y0 : y0 + ch, x0 : x0 + cw]), width, height)


def fit_contain(img: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """Resize ``img`` to fit inside ``width``×``height`` keeping its aspect; returns it and its offset."""
    h, w = img.shape[:2]
    s = min(width / w, height / h)
    tw, th = max(1, min(width, round(w * s))), max(1, min(height, round(h * s)))
    return arrays.resize(img, tw, th), (width - tw) // 2, (height - th) // 2


def rounded_rect_mask(height: int, width: int, box: tuple[float, float, float, float], radius: float) -> np.ndarray:
    """Anti-aliased coverage (float32 H×W) of a rounded rectangle ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    r = max(0.0, min(radius, (x1 - x0) / 2, (y1 - y0) / 2))
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    qx = np.abs(xs - (x0 + x1) / 2) - ((x1 - x0) / 2 - r)
    qy = np.abs(ys - (y0 + y1) / 2) - ((y1 - y0) / 2 - r)
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    return np.clip(0.5 - (outside + inside - r), 0.0, 1.0).astype(np.float32)


def paint(
    img: np.ndarray, mask: np.ndarray, color: RGB, opacity: float = 1.0, origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Composite a flat ``color`` over ``img`` (in place) with coverage ``mask`` placed at ``origin``."""
    ox, oy = origin
    mh, mw = mask.shape[:2]
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + mw, w), min(oy + mh, h)
    if x1 <= x0 or y1 <= y0:
        return img
    a = mask[y0 - oy : y1 - oy, x0 - ox : x1 - ox, None] * np.float32(opacity)
    region = img[y0:y1, x0:x1]
    region[...] = region * (1.0 - a) + np.asarray(color, dtype=np.float32) * a
    return img


def fill_box(img: np.ndarray, box: Box, color: RGB, opacity: float = 1.0) -> np.ndarray:
    """Fill an axis-aligned box with ``color`` (in place)."""
    x0, y0, x1, y1 = box
    region = img[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    region[...] = region * np.float32(1.0 - opacity) + np.asarray(color, dtype=np.float32) * np.float32(opacity)
    return img


def outline_box(img: np.ndarray, box: Box, color: RGB, thickness: int) -> np.ndarray:
    """Draw a rectangle outline of ``thickness`` pixels inside ``box`` (in place)."""
    x0, y0, x1, y1 = box
    t = max(1, int(thickness))
    for b in ((x0, y0, x1, y0 + t), (x0, y1 - t, x1, y1), (x0, y0, x0 + t, y1), (x1 - t, y0, x1, y1)):
        fill_box(img, b, color)
    return img


# ----------------------------------------------------------------------------- fitted text


@dataclass(frozen=True)
class TextBlock:
    """Wrapped lines at one font size. ``width``/``height`` bound the ink (stroke included)."""

    lines: tuple[str, ...]
    role: Role
    size: int
    stroke: int
    line_pitch: int
    top: int  # ink offset of a line's top from its drawing origin (≤ 0 possible)
    width: int
    height: int
    complete: bool = True  # all the text, no broken words, no ellipsis

    @property
    def font(self) -> Font:
        return get_font(self.role, self.size)


def _ink(text: str, font: Font, stroke: int) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in _PROBE.textbbox((0, 0), text, font=font, stroke_width=stroke))  # type: ignore[return-value]


def _line_width(text: str, font: Font, stroke: int) -> int:
    if not text:
        return 0
    left, _, r, _ = _ink(text, font, stroke)
    return r - left


def _split_long(word: str, font: Font, stroke: int, max_width: int) -> list[str]:
    parts, cur = [], ""
    for ch in word:
        if cur and _line_width(cur + ch, font, stroke) > max_width:
            parts.append(cur)
            cur = ch
        else:
            cur += ch
    parts.append(cur)
    return parts


def _wrap(text: str, font: Font, stroke: int, max_width: int, allow_break: bool = True) -> list[str] | None:
    """Greedy word wrap. A word wider than the box is broken when ``allow_break``; otherwise, or if a
    single glyph is too wide, the result is None."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        cur = ""
        for word in paragraph.split():
            trial = f"{cur} {word}" if cur else word
            if _line_width(trial, font, stroke) <= max_width:
                cur = trial
                continue
            if cur:
                lines.append(cur)
            if _line_width(word, font, stroke) <= max_width:
                cur = word
            elif not allow_break:
                return None
            else:
                pieces = _split_long(word, font, stroke, max_width)
                if any(_line_width(p, font, stroke) > max_width for p in pieces):
                    return None
                lines.extend(pieces[:-1])
                cur = pieces[-1]
        lines.append(cur)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _metrics(role: Role, size: int, stroke: int, lines: Sequence[str]) -> tuple[int, int, int]:
    """(pitch, top, bottom): line pitch and the ink extent of a line relative to its origin."""
    font = get_font(role, size)
    _, t, _, b = _ink("ÀÉgjy|", font, stroke)
    for line in lines:
        if line:
            _, lt, _, lb = _ink(line, font, stroke)
            t, b = min(t, lt), max(b, lb)
    pitch = max(b - t, round(size * 1.18) + 2 * stroke)
    return pitch, t, b


def _block(lines: Sequence[str], role: Role, size: int, stroke: int, complete: bool = True) -> TextBlock:
    font = get_font(role, size)
    pitch, top, bottom = _metrics(role, size, stroke, lines)
    height = (len(lines) - 1) * pitch + (bottom - top) if lines else 0
    width = max((_line_width(line, font, stroke) for line in lines), default=0)
    return TextBlock(tuple(lines), role, size, stroke, pitch, top, width, height, complete and bool(lines))


def _layout_at(
    text: str,
    role: Role,
    size: int,
    stroke: int,
    max_width: int,
    max_height: int,
    max_lines: int | None,
    allow_break: bool = False,
) -> TextBlock | None:
    lines = _wrap(text, get_font(role, size), stroke, max_width, allow_break)
    if lines is None or (max_lines is not None and len(lines) > max_lines):
        return None
    block = _block(lines, role, size, stroke, not allow_break)
    return block if block.height <= max_height and block.width <= max_width else None


def _truncate(
    text: str, role: Role, size: int, stroke: int, max_width: int, max_height: int, max_lines: int | None
) -> TextBlock:
    """The longest wrapped prefix (ending in an ellipsis) that fits; may be empty."""
    font = get_font(role, size)
    pitch, top, bottom = _metrics(role, size, stroke, ())
    fit_lines = 0 if bottom - top > max_height else 1 + (max_height - (bottom - top)) // pitch
    if max_lines is not None:
        fit_lines = min(fit_lines, max_lines)
    lines = _wrap(text, font, stroke, max_width) or []
    if fit_lines <= 0 or not lines:
        return _block((), role, size, stroke)
    kept = lines[:fit_lines]
    last = kept[-1]
    if len(lines) > fit_lines or _line_width(last, font, stroke) > max_width:
        while last and _line_width(last.rstrip() + _ELLIPSIS, font, stroke) > max_width:
            last = last[:-1]
        last = last.rstrip() + _ELLIPSIS if _line_width(_ELLIPSIS, font, stroke) <= max_width else last
    kept[-1] = last
    kept = [line for line in kept if line]
    block = _block(kept, role, size, stroke, False)
    if block.height > max_height or block.width > max_width:
        return _block((), role, size, stroke)
    return block


def fit_text(
    text: str,
    role: Role,
    max_width: int,
    max_height: int,
    max_size: int,
    min_size: int = 6,
    *,
    stroke: int = 0,
    max_lines: int | None = None,
) -> TextBlock:
    """Wrap ``text`` in the largest size ≤ ``max_size`` that fits ``max_width``×``max_height``.

    Words are not broken while a size in [``min_size``, ``max_size``] fits. Otherwise: long words are
    broken at ``min_size``; then the text is ellipsised at ``min_size`` and, if not even that fits, at
    smaller sizes down to 1 px; an empty block is the last resort. ``complete`` on the result says
    whether the whole text was set unbroken. The result never exceeds the box.
    """
    if role_spec(role).upper:
        text = text.upper()
    text = text.strip()
    max_width, max_height = int(max_width), int(max_height)
    max_size = max(1, int(max_size))
    min_size = max(1, min(int(min_size), max_size))
    if not text or max_width <= 0 or max_height <= 0:
        return _block((), role, min_size, stroke)
    best = _layout_at(text, role, min_size, stroke, max_width, max_height, max_lines)
    if best is not None:
        lo, hi = min_size, max_size  # invariant: lo fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            found = _layout_at(text, role, mid, stroke, max_width, max_height, max_lines)
            if found is not None:
                lo, best = mid, found
            else:
                hi = mid - 1
        return best
    broken = _layout_at(text, role, min_size, stroke, max_width, max_height, max_lines, allow_break=True)
    if broken is not None:
        return broken
    for size in range(min_size, 0, -max(1, min_size // 4)):
        block = _truncate(text, role, size, stroke, max_width, max_height, max_lines)
        if block.lines:
            return block
    return _block((), role, 1, stroke)


def text_origin(block: TextBlock, box: Box, align: str = "center", valign: str = "center") -> tuple[int, int]:
    """Top-left of the block's ink inside ``box`` for the given alignment."""
    x0, y0, x1, y1 = box
    if align == "left":
        x = x0
    elif align == "right":
        x = x1 - block.width
    else:
        x = x0 + (x1 - x0 - block.width) // 2
    if valign == "top":
        y = y0
    elif valign == "bottom":
        y = y1 - block.height
    else:
        y = y0 + (y1 - y0 - block.height) // 2
    return x, y


def text_masks(block: TextBlock, align: str = "center") -> tuple[np.ndarray, np.ndarray]:
    """(fill, stroke) coverage masks of size block.height × block.width; stroke ⊇ fill."""
    h, w = max(1, block.height), max(1, block.width)
    font = block.font
    fill_im, stroke_im = Image.new("L", (w, h), 0), Image.new("L", (w, h), 0)
    d_fill, d_stroke = ImageDraw.Draw(fill_im), ImageDraw.Draw(stroke_im)
    for i, line in enumerate(block.lines):
        if not line:
            continue
        left, _, r, _ = _ink(line, font, block.stroke)
        lw = r - left
        x = 0 if align == "left" else (w - lw if align == "right" else (w - lw) // 2)
        x -= left
        y = i * block.line_pitch - block.top
        if block.stroke:
            d_stroke.text((x, y), line, font=font, fill=255, stroke_width=block.stroke, stroke_fill=255)
        d_fill.text((x, y), line, font=font, fill=255)
    fill = np.asarray(fill_im, dtype=np.float32) / np.float32(255.0)
    stroke = np.asarray(stroke_im, dtype=np.float32) / np.float32(255.0) if block.stroke else fill
    return fill, np.maximum(stroke, fill)


def draw_text(
    img: np.ndarray,
    block: TextBlock,
    box: Box,
    color: RGB,
    *,
    align: str = "center",
    valign: str = "center",
    stroke_color: RGB = INK,
    shadow: float = 0.0,
) -> np.ndarray:
    """Draw a fitted block into ``box`` of ``img`` (in place). ``shadow`` is a soft drop-shadow opacity."""
    if not block.lines:
        return img
    fill, stroke = text_masks(block, align)
    x, y = text_origin(block, box, align, valign)
    if shadow > 0:
        off = max(1, block.size // 18)
        blurred = cv2.GaussianBlur(stroke, (0, 0), max(0.6, block.size / 30))
        x0, y0, x1, y1 = box  # keep the shadow inside the box as well
        sh = np.zeros((y1 - y0, x1 - x0), np.float32)
        sx, sy = x + off - x0, y + off - y0
        hh, ww = blurred.shape
        cx0, cy0, cx1, cy1 = max(sx, 0), max(sy, 0), min(sx + ww, sh.shape[1]), min(sy + hh, sh.shape[0])
        if cx1 > cx0 and cy1 > cy0:
            sh[cy0:cy1, cx0:cx1] = blurred[cy0 - sy : cy1 - sy, cx0 - sx : cx1 - sx]
        paint(img, sh, (0.0, 0.0, 0.0), shadow, (x0, y0))
    if block.stroke:
        paint(img, stroke, stroke_color, 1.0, (x, y))
    paint(img, fill, color, 1.0, (x, y))
    return img


# ----------------------------------------------------------------------------- caption


@dataclass(frozen=True)
class CaptionLayout:
    """Where a caption goes: the bar rows and the text box inside it."""

    bar: tuple[int, int]  # y0, y1
    box: Box
    block: TextBlock


def caption_layout(height: int, width: int, text: str, position: Literal["top", "bottom"] = "bottom") -> CaptionLayout:
    """Geometry of a caption on a ``height``×``width`` image (used by ``caption``)."""
    pad = max(1, round(0.035 * min(height, width)))
    base = min(width, 1.4 * height)
    max_size = max(6, round(0.055 * base))
    max_bar = max(3, round(0.3 * height))
    inner_w, inner_h = max(1, width - 2 * pad), max(1, max_bar - 2 * pad)
    block = fit_text(text, "body", inner_w, inner_h, max_size, min(max_size, max(6, round(0.022 * base))))
    bar_h = min(max_bar, max(block.height, round(max_size * 0.9)) + 2 * pad)
    y0, y1 = (height - bar_h, height) if position == "bottom" else (0, bar_h)
    return CaptionLayout((y0, y1), (pad, y0 + pad, width - pad, y1 - pad), block)


def caption(
    img: np.ndarray, text: str, position: Literal["top", "bottom"] = "bottom", style: CaptionStyle = "bar"
) -> np.ndarray:
    """A caption bar at the top or bottom with wrapped, auto-fitted text; same size as ``img``.

    ``bar``: translucent dark band, white text. ``solid``: opaque white band, dark text.
    ``gradient``: a soft darkening from the edge, white text with a shadow.
    """
    if not text.strip():
        raise ValueError("caption text is empty")
    if position not in ("top", "bottom"):
        raise ValueError(f"caption position must be 'top' or 'bottom', not {position!r}")
    h, w = img.shape[:2]
    out = np.array(img, dtype=np.float32, copy=True)
    lay = caption_layout(h, w, text, position)
    y0, y1 = lay.bar
    if style == "bar":
        fill_box(out, (0, y0, w, y1), (0.04, 0.04, 0.05), 0.72)
        draw_text(out, lay.block, lay.box, WHITE)
    elif style == "solid":
        fill_box(out, (0, y0, w, y1), (0.97, 0.96, 0.93))
        draw_text(out, lay.block, lay.box, INK)
    elif style == "gradient":
        span = min(h, round((y1 - y0) * 1.8))
        ramp = np.linspace(0.0, 1.0, span, dtype=np.float32) ** 1.5 * np.float32(0.78)
        if position == "bottom":
            out[h - span :] *= (1.0 - ramp)[:, None, None]
        else:
            out[:span] *= (1.0 - ramp[::-1])[:, None, None]
        draw_text(out, lay.block, lay.box, WHITE, shadow=0.6)
    else:
        raise ValueError(f"unknown caption style {style!r}; use bar, solid or gradient")
    return out


# ----------------------------------------------------------------------------- frames


def frame(img: np.ndarray, kind: FrameKind, color: ColorLike = None, caption_text: str | None = None) -> np.ndarray:
    """A frame around the photo, returned at the same size as ``img`` (the photo is scaled inside).

    ``caption_text``: on a polaroid it is written in the wide bottom margin (in the ``accent`` role,
    like a note on the print); on any other frame it is a caption bar on the photo, inside the frame.

    ``border``: a solid border (``color``, default near-black) with a thin light mat.
    ``polaroid``: an instant-print card (``color``, default warm white) with the wide bottom margin.
    ``film``: a 35 mm strip (``color``, default film black) with sprocket holes above and below.
    ``rounded``: rounded corners on a backdrop (``color``, default white) with a soft shadow.
    """
    text = (caption_text or "").strip()
    if text and kind != "polaroid":
        img = caption(img, text, "bottom")
    h, w = img.shape[:2]
    s = min(h, w)
    if kind == "border":
        band = parse_color(color, (0.08, 0.08, 0.09))
        b, mat = max(2, round(0.05 * s)), max(1, round(0.012 * s))
        out = np.empty((h, w, 3), np.float32)
        out[...] = band
        fill_box(out, (b, b, w - b, h - b), (0.94, 0.92, 0.86))
        i = b + mat
        out[i : h - i, i : w - i] = fit_cover(img, w - 2 * i, h - 2 * i)
        return out
    if kind == "polaroid":
        card = parse_color(color, (0.97, 0.96, 0.93))
        side, bottom = max(2, round(0.055 * s)), max(4, round(0.2 * h))
        out = np.empty((h, w, 3), np.float32)
        out[...] = card
        x0, y0, x1, y1 = side, side, w - side, h - bottom
        out[y0:y1, x0:x1] = fit_cover(img, x1 - x0, y1 - y0, (0.5, 0.45))
        outline_box(out, (x0, y0, x1, y1), (0.78, 0.77, 0.74), max(1, round(0.003 * s)))
        if text:
            pad = max(2, round(0.03 * s))
            box = (x0 + pad, y1 + pad, x1 - pad, h - pad)
            size = max(6, round(0.45 * (box[3] - box[1])))
            block = fit_text(text, "accent", box[2] - box[0], box[3] - box[1], size, max(6, size // 3))
            ink = INK if luminance(card) > 0.5 else WHITE
            draw_text(out, block, box, ink)
        return out
    if kind == "film":
        base = parse_color(color, (0.06, 0.05, 0.05))
        strip = max(3, round(0.11 * h))
        out = np.empty((h, w, 3), np.float32)
        out[...] = base
        mx = max(1, round(0.025 * w))
        out[strip : h - strip, mx : w - mx] = fit_cover(img, w - 2 * mx, h - 2 * strip)
        hole_h = max(2.0, 0.45 * strip)
        hole_w = hole_h * 0.72
        pitch = hole_h * 1.6
        count = max(1, int(w // pitch))
        start = (w - count * pitch) / 2
        holes = np.zeros((strip, w), np.float32)
        for k in range(count):
            cx = start + (k + 0.5) * pitch
            bx0, bx1 = int(cx - hole_w / 2) - 1, int(cx + hole_w / 2) + 2
            box = (cx - hole_w / 2 - bx0, (strip - hole_h) / 2, cx + hole_w / 2 - bx0, (strip + hole_h) / 2)
            bx0c, bx1c = max(bx0, 0), min(bx1, w)
            tile = rounded_rect_mask(strip, bx1 - bx0, box, hole_h * 0.18)
            holes[:, bx0c:bx1c] = np.maximum(holes[:, bx0c:bx1c], tile[:, bx0c - bx0 : bx1c - bx0])
        paint(out, holes, (0.93, 0.91, 0.86), 1.0, (0, 0))
        paint(out, holes, (0.93, 0.91, 0.86), 1.0, (0, h - strip))
        return out
    if kind == "rounded":
        backdrop = parse_color(color, WHITE)
        m = max(2, round(0.045 * s))
        r = 0.08 * (s - 2 * m)
        out = np.empty((h, w, 3), np.float32)
        out[...] = backdrop
        off = max(1, round(0.012 * s))
        shadow = rounded_rect_mask(h, w, (m + off, m + off, w - m + off, h - m + off), r)
        shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.8, 0.015 * s))
        paint(out, shadow, (0.0, 0.0, 0.0), 0.35)
        photo = np.zeros((h, w, 3), np.float32)
        photo[m : h - m, m : w - m] = fit_cover(img, w - 2 * m, h - 2 * m)
        cov = rounded_rect_mask(h, w, (m, m, w - m, h - m), r)[..., None]
        return (out * (1.0 - cov) + photo * cov).astype(np.float32)
    raise ValueError(f"unknown frame kind {kind!r}; use border, polaroid, film or rounded")


# ----------------------------------------------------------------------------- magazine cover


class SupportsBox(Protocol):
    """Anything with pixel ``x, y, w, h`` attributes, e.g. ``masks.FaceBox``."""

    x: float
    y: float
    w: float
    h: float


# A face: an object with x, y, w, h, or a sequence (x, y, w, h, ...) in source pixels; None: unknown.
FaceLike: TypeAlias = "SupportsBox | Sequence[float] | None"


def _face_xywh(face: FaceLike) -> tuple[float, float, float, float] | None:
    if face is None:
        return None
    if all(hasattr(face, k) for k in ("x", "y", "w", "h")):
        vals = [float(getattr(face, k)) for k in ("x", "y", "w", "h")]
    else:
        seq = list(face)  # type: ignore[arg-type]
        if len(seq) < 4:
            raise ValueError(f"a face box needs x, y, w, h; got {face!r}")
        vals = [float(v) for v in seq[:4]]
    return (vals[0], vals[1], vals[2], vals[3]) if vals[2] > 0 and vals[3] > 0 else None


COVER_ASPECT = 0.8  # a magazine's 4:5 when no size is asked for


@dataclass(frozen=True)
class CoverLayout:
    """Geometry of a cover: the source crop, the output size, and boxes in output pixels."""

    crop: Box  # in source pixels
    size: tuple[int, int]  # output width, height
    face: Box | None
    masthead: Box
    column: Box
    column_side: Literal["left", "right", "bottom"]
    barcode: Box


def _boxes_overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def cover_layout(
    height: int,
    width: int,
    face_box: FaceLike,
    seed: int,
    *,
    person_mask: np.ndarray | None = None,
    out_width: int | None = None,
    aspect: float = COVER_ASPECT,
    zoom: float = 1.0,
    shift: float = 0.0,
) -> CoverLayout:
    """Where everything goes on a cover (``aspect`` = width / height, default 4:5) cut from a
    ``height``×``width`` source; ``zoom`` < 1 takes a tighter crop around the face and ``shift``
    (-1 … 1) slides it left or right as far as the face allows (set variations)."""
    if not 0.1 <= aspect <= 10.0:
        raise ValueError(f"cover aspect {aspect} is out of range (0.1 to 10)")
    zoom = min(1.0, max(0.3, zoom))
    fb = _face_xywh(face_box)
    if fb is None and person_mask is not None and float(person_mask.max()) > 0.5:
        ys, xs = np.nonzero(person_mask > 0.5)  # head ≈ the top of the person, a fifth of its height
        top, bottom = int(ys.min()), int(ys.max())
        head = max(4.0, 0.22 * (bottom - top + 1))
        row = xs[ys < top + head]
        cx = float(row.mean()) if row.size else float(xs.mean())
        fb = (cx - 0.4 * head, float(top), 0.8 * head, head)
    cw = min(width, round(height * aspect))
    while cw > 1 and round(cw / aspect) > height:
        cw -= 1
    cw = max(1, round(cw * zoom))
    ch = min(height, max(1, round(cw / aspect)))
    if fb is not None:
        cx, cy = fb[0] + fb[2] / 2, fb[1] + fb[3] / 2
        x0 = round(min(max(cx - cw / 2, 0), width - cw))
        if shift:  # slide within the range that keeps the face inside the crop
            lo, hi = max(0.0, fb[0] + fb[2] - cw), min(fb[0], float(width - cw))
            if hi > lo:
                x0 = round(min(max(x0 + shift * (hi - lo) / 2, lo), hi))
        y0 = round(min(max(cy - 0.36 * ch, 0), height - ch))
    else:
        x0, y0 = (width - cw) // 2, (height - ch) // 2
    W = int(out_width) if out_width else max(cw, 800)
    H = max(1, round(W / aspect))  # every cover of a set has the same size
    sx, sy = W / cw, H / ch
    face: Box | None = None
    if fb is not None:
        face = (
            round((fb[0] - x0) * sx),
            round((fb[1] - y0) * sy),
            round((fb[0] + fb[2] - x0) * sx),
            round((fb[1] + fb[3] - y0) * sy),
        )
    masthead = (round(0.04 * W), round(0.025 * H), W - round(0.04 * W), round(0.185 * H))
    margin, gap = round(0.05 * W), round(0.03 * W)
    bw, bh = round(0.17 * W), round(0.095 * H)
    barcode = (W - margin - bw, H - round(0.03 * H) - bh, W - margin, H - round(0.03 * H))
    if face is not None and _boxes_overlap(barcode, face):
        barcode = (margin, barcode[1], margin + bw, barcode[3])
    top, bottom = masthead[3] + round(0.02 * H), H - round(0.04 * H)
    if face is None:
        left_w = right_w = round(0.42 * W)
        face_bottom = top
    else:
        left_w, right_w = face[0] - gap - margin, W - margin - (face[2] + gap)
        face_bottom = face[3] + gap
    rng = np.random.default_rng(seed)
    wide = 0.3 * W
    side: Literal["left", "right", "bottom"]
    if left_w >= wide and right_w >= wide:
        side = "left" if rng.random() < 0.5 else "right"
    elif max(left_w, right_w) >= 0.24 * W:
        side = "left" if left_w >= right_w else "right"
    elif bottom - max(face_bottom, top) >= 0.15 * H:
        side = "bottom"
    else:
        side = "left" if left_w >= right_w else "right"
    if side == "left":
        column = (margin, top, margin + max(1, min(left_w, round(0.46 * W))), bottom)
    elif side == "right":
        column = (W - margin - max(1, min(right_w, round(0.46 * W))), top, W - margin, bottom)
    else:
        column = (margin, max(face_bottom, top), W - margin, bottom)
    if _boxes_overlap(column, barcode):  # keep the lines clear of the barcode
        column = (column[0], column[1], column[2], max(column[1] + 1, barcode[1] - gap))
    return CoverLayout((x0, y0, x0 + cw, y0 + ch), (W, H), face, masthead, column, side, barcode)


def _masthead_mask(title: str, box: Box) -> np.ndarray:
    """Coverage of the title set in the masthead role, condensed and scaled to fill ``box``."""
    spec = role_spec("masthead")
    text = title.upper() if spec.upper else title
    bw, bh = box[2] - box[0], box[3] - box[1]
    probe = get_font("masthead", 100)
    left, t, r, b = _ink(text, probe, 0)
    ratio = max(1, r - left) / max(1, b - t)
    th = float(bh)
    cond = min(1.0, bw / (ratio * th))
    if cond < 0.6:  # very long title: do not squeeze past 60 %, shrink instead
        cond = 0.6
        th = bw / (ratio * cond)
    tw = min(bw, max(1, round(ratio * th * cond)))
    th_i = max(1, round(th))
    size = max(1, round(100 * th_i / max(1, b - t)))
    font = get_font("masthead", size)
    left, t, r, b = _ink(text, font, 0)
    layer = Image.new("L", (max(1, r - left), max(1, b - t)), 0)
    ImageDraw.Draw(layer).text((-left, -t), text, font=font, fill=255)
    ink = np.asarray(layer, dtype=np.float32) / np.float32(255.0)
    ink = cv2.resize(ink, (tw, th_i), interpolation=cv2.INTER_AREA)
    mask = np.zeros((bh, bw), np.float32)
    x = (bw - tw) // 2
    mask[:th_i, x : x + tw] = np.clip(ink, 0.0, 1.0)[:bh]
    return mask


def _pick_contrast(candidates: Sequence[RGB], background: float, prefer_first: float = 0.35) -> RGB:
    first = candidates[0]
    if abs(luminance(first) - background) >= prefer_first:
        return first
    return max(candidates, key=lambda c: abs(luminance(c) - background))


def _barcode(out: np.ndarray, box: Box, seed: int) -> None:
    x0, y0, x1, y1 = box
    fill_box(out, box, WHITE)
    rng = np.random.default_rng([seed, 7])
    w, h = x1 - x0, y1 - y0
    pad = max(1, round(0.07 * w))
    digits_h = max(3, round(0.26 * h))
    unit = max(1, round(w / 95))
    x = x0 + pad
    while x + 3 * unit < x1 - pad:
        t = int(rng.integers(1, 4)) * unit
        fill_box(out, (x, y0 + pad, min(x + t, x1 - pad), y1 - pad - digits_h), INK)
        x += t + int(rng.integers(1, 4)) * unit
    number = "{} {:05d} {:05d} {}".format(*rng.integers(0, 10, 1), *rng.integers(0, 100000, 2), *rng.integers(0, 10, 1))
    block = fit_text(number, "body", w - 2 * pad, digits_h, digits_h, 1)
    draw_text(out, block, (x0 + pad, y1 - pad - digits_h, x1 - pad, y1 - max(1, pad // 2)), INK)


def magazine_cover(
    img: np.ndarray,
    person_mask: np.ndarray | None,
    face_box: FaceLike,
    title: str,
    lines: Sequence[str],
    seed: int,
    issue_label: str | None = None,
    *,
    accent: ColorLike = None,
    width: int | None = None,
    aspect: float = COVER_ASPECT,
    zoom: float = 1.0,
    shift: float = 0.0,
) -> np.ndarray:
    """A magazine cover: masthead behind the subject's head, cover lines beside the face.

    ``aspect`` (width / height, default 4:5) is the cover's shape: the engine passes the requested
    size's, so the cover fills the output with no bars. ``zoom`` < 1 crops tighter around the face,
    ``shift`` (-1 … 1) slides the crop sideways (both keep the face in).

    ``person_mask`` (source-sized) puts the person back over the masthead; without it the masthead
    simply sits on top. ``face_box`` is (x, y, w, h) in source pixels, as a sequence or an object
    with those attributes such as ``masks.FaceBox`` (None: guessed from the mask, else centred).
    ``accent`` defaults to a colour picked from the image, so a set of covers shares
    fonts, sizes and placement rules while each cover's accent matches its photo. ``width`` sets the
    output width (default: the crop's width, at least 800 px). ``seed`` picks the column side when
    both sides are free and draws the barcode.
    """
    h, w = img.shape[:2]
    if person_mask is not None and person_mask.shape[:2] != (h, w):
        raise ValueError(f"person_mask is {person_mask.shape[:2]}, image is {(h, w)}")
    lay = cover_layout(
        h, w, face_box, seed, person_mask=person_mask, out_width=width, aspect=aspect, zoom=zoom, shift=shift
    )
    W, H = lay.size
    cx0, cy0, cx1, cy1 = lay.crop
    base = arrays.resize(np.ascontiguousarray(img[cy0:cy1, cx0:cx1], dtype=np.float32), W, H)
    mask = None
    if person_mask is not None:
        mask = np.clip(
            cv2.resize(
                np.ascontiguousarray(person_mask[cy0:cy1, cx0:cx1], dtype=np.float32),
                (W, H),
                interpolation=cv2.INTER_LINEAR if W > cx1 - cx0 else cv2.INTER_AREA,
            ),
            0.0,
            1.0,
        )
    accent_rgb = parse_color(accent, DEFAULT_ACCENT) if accent is not None else image_accent(base, mask)
    out = base.copy()

    # Masthead, then the person composited back over it: the title sits behind the head.
    if title.strip():
        mh = lay.masthead
        head_bg = mean_luminance(base, mh, mask)
        mast_color = _pick_contrast([accent_rgb, WHITE, INK], head_bg)
        paint(out, _masthead_mask(title, mh), mast_color, 1.0, (mh[0], mh[1]))
        if mask is not None:
            m = mask[..., None]
            out = (out * (1.0 - m) + base * m).astype(np.float32)

    # Cover lines: one column beside (or below) the face, same sizes on every cover of a set.
    col = lay.column
    col_bg = mean_luminance(base, col)
    text_color = INK if col_bg > 0.62 else WHITE
    line_accent = _pick_contrast([accent_rgb, text_color], col_bg, 0.3)
    shadow = 0.55 if text_color == WHITE else 0.0
    items: list[tuple[str, Role, float, RGB]] = []
    if issue_label:
        items.append((issue_label, "headline", 0.022, text_color))
    for i, line in enumerate(ln for ln in lines if ln.strip()):
        if i == 0:
            items.append((line, "headline", 0.075, line_accent))
        elif i % 2 == 1:
            items.append((line, "accent", 0.046, text_color))
        else:
            items.append((line, "body", 0.038, line_accent if i % 4 == 2 else text_color))
    col_w, col_h = col[2] - col[0], col[3] - col[1]
    blocks: list[TextBlock] = []
    scale = 1.0
    while items:
        blocks = [
            fit_text(t, role, col_w, col_h, max(1, round(W * k * scale)), max(1, round(W * k * scale)))
            for t, role, k, _ in items
        ]
        spacing = round(0.018 * H * scale)
        total = sum(b.height for b in blocks) + spacing * (len(blocks) - 1)
        if total <= col_h and all(b.complete for b in blocks):
            break
        if scale > 0.3:
            scale *= 0.9
        elif total > col_h:
            items.pop()  # drop the last line rather than overflow
        else:
            break
    if blocks and items:
        spacing = round(0.018 * H * scale)
        used = sum(b.height for b in blocks) + spacing * (len(blocks) - 1)
        if len(blocks) > 1 and lay.column_side != "bottom":
            spacing = min(round(0.06 * H), (col_h - used + spacing * (len(blocks) - 1)) // (len(blocks) - 1))
        align = "right" if lay.column_side == "right" else "left"
        y = col[1]
        for block, (_, _, _, color) in zip(blocks, items, strict=True):
            if block.lines:
                draw_text(
                    out,
                    block,
                    (col[0], y, col[2], min(col[3], y + block.height)),
                    color,
                    align=align,
                    valign="top",
                    shadow=shadow,
                )
            y += block.height + spacing
    _barcode(out, lay.barcode, seed)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
