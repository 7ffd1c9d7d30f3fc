"""Replace or remove the background behind a subject mask.

``replace_background(img, mask, kind, ...)`` composites the subject over a new backdrop — studio
sweep (with a floor shadow), gradient, procedural neon city (seeded), plain colour, another reference
(cover-fit) or a blur of the original background — and harmonises the edge (foreground colour
decontamination, light wrap, a slight colour match) so the subject doesn't look pasted.
A plain colour is a product listing's backdrop: white, black and the named greys are exact
(``plain_rgb``), and the subject is not colour-matched to it (a product shows its true colour).
``remove_background`` returns the decontaminated RGB (the subject's colours bled under transparent
pixels, so a resize brings no fringe of the old backdrop back) and the alpha; ``rgba_image`` makes a
PIL RGBA. Every backdrop is deterministic for a given seed.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from PIL import Image

from .colors import ColorLike, as_color
from .masks import DegenerateMask, smoothstep

BackdropKind = Literal["studio", "gradient", "city", "color", "reference", "blur"]
KINDS: tuple[str, ...] = ("studio", "gradient", "city", "color", "reference", "blur", "remove")

STUDIO_GREY = (0.90, 0.90, 0.89)
OPAQUE_RIM = 0.3  # decontamination weight on opaque pixels of the rim band (see-through ones: 0.7-1.0)


def _scale(h: int, w: int) -> float:
    return max(h, w) / 1024.0


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; large sigmas run on a downscaled copy (cost independent of sigma)."""
    x = x.astype(np.float32, copy=False)
    if sigma <= 0.1:
        return x
    if sigma > 6.0:
        h, w = x.shape[:2]
        k = sigma / 3.0
        small = cv2.resize(x, (max(1, int(w / k)), max(1, int(h / k))), interpolation=cv2.INTER_AREA)
        return cv2.resize(cv2.GaussianBlur(small, (0, 0), 3.0), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(x, (0, 0), sigma)


def cover_fit(src: np.ndarray, width: int, height: int, center: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """Scale ``src`` to cover (width, height) and crop around ``center`` (relative coordinates)."""
    ih, iw = src.shape[:2]
    s = max(width / iw, height / ih)
    rw, rh = max(width, round(iw * s)), max(height, round(ih * s))
    r = cv2.resize(src.astype(np.float32), (rw, rh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    x0 = int(np.clip(center[0] * rw - width / 2, 0, rw - width))
    y0 = int(np.clip(center[1] * rh - height / 2, 0, rh - height))
    return np.clip(r[y0 : y0 + height, x0 : x0 + width], 0.0, 1.0)


def _rgb(color: ColorLike | None, default: tuple[float, float, float]) -> np.ndarray:
    return np.array(as_color(color).rgb if color is not None else default, np.float32)


# ----------------------------------------------------------------------------- backdrops


def _smooth_field(height: int, width: int, side: int = 256) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Normalised (yy, xx) grids at ≤ ``side`` px for smooth backdrops that are upsampled afterwards."""
    s = min(1.0, side / max(height, width))
    sh, sw = max(2, round(height * s)), max(2, round(width * s))
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    return yy / np.float32(sh - 1), xx / np.float32(sw - 1), sh, sw


def _up3(small: np.ndarray, height: int, width: int) -> np.ndarray:
    if small.shape[:2] == (height, width):
        return small.astype(np.float32)
    return np.clip(cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def studio(height: int, width: int, color: ColorLike | None = None) -> np.ndarray:
    """Seamless paper sweep: a soft key spot, darker corners, a gently darker floor."""
    c = _rgb(color, STUDIO_GREY)
    yy, xx, _, _ = _smooth_field(height, width)
    spot = np.exp(-(((xx - 0.5) / 0.6) ** 2 + ((yy - 0.38) / 0.65) ** 2))
    floor = smoothstep(0.62, 0.98, yy) * 0.10
    shade = (0.78 + 0.26 * spot - floor)[..., None]
    return _up3(np.clip(c * shade, 0.0, 1.0), height, width)


def gradient(height: int, width: int, color: ColorLike | None = None) -> np.ndarray:
    """Vertical gradient from a light tint of ``color`` (top) to a deeper shade (bottom), slight radial glow."""
    c = _rgb(color, (0.38, 0.48, 0.62))
    top = 1.0 - (1.0 - c) * 0.45
    bottom = c * 0.55
    yy, xx, _, _ = _smooth_field(height, width)
    t = yy[..., None]
    g = top * (1.0 - t) + bottom * t
    r = np.sqrt((xx - 0.5) ** 2 + (yy - 0.4) ** 2)
    glow = (0.12 * np.exp(-((r / 0.45) ** 2)))[..., None]
    return _up3(np.clip(g + glow, 0.0, 1.0), height, width)


# A plain backdrop in a neutral is exact: "on white" means 255,255,255 (a shop's listing rule), not the
# F2F2EF the colour table gives a white shoe's paint. Named greys get round sRGB levels.
EXACT_NEUTRALS: dict[str, float] = {
    "white": 1.0,
    "pure white": 1.0,
    "bright white": 1.0,
    "classic white": 1.0,
    "triple white": 1.0,
    "snow white": 1.0,
    "black": 0.0,
    "pure black": 0.0,
    "jet black": 0.0,
    "triple black": 0.0,
    "grey": 128 / 255,
    "gray": 128 / 255,
    "mid grey": 128 / 255,
    "mid gray": 128 / 255,
    "middle grey": 128 / 255,
    "middle gray": 128 / 255,
    "neutral grey": 128 / 255,
    "neutral gray": 128 / 255,
    "light grey": 192 / 255,
    "light gray": 192 / 255,
    "dark grey": 64 / 255,
    "dark gray": 64 / 255,
}
_TONED_GREY = {"light": 192 / 255, "pale": 192 / 255, "dark": 64 / 255, "deep": 64 / 255}


def plain_rgb(color: ColorLike | None) -> np.ndarray:
    """The sRGB of a plain backdrop: exact for white, black and the named greys (``EXACT_NEUTRALS``),
    the colour table's value for anything else (default: off-white)."""
    if color is None:
        return np.array((0.95, 0.95, 0.94), np.float32)
    c = as_color(color)
    name = c.name.lower()
    level = EXACT_NEUTRALS.get(name)
    if name in ("grey", "gray") and c.tone in _TONED_GREY:
        level = _TONED_GREY[c.tone]
    if level is None:
        return np.array(c.rgb, np.float32)
    return np.full(3, level, np.float32)


def solid(height: int, width: int, color: ColorLike | None = None) -> np.ndarray:
    """A plain colour backdrop (default off-white); white, black and named greys are exact."""
    return np.broadcast_to(plain_rgb(color), (height, width, 3)).astype(np.float32)


_NEON = np.array([[1.0, 0.1, 0.7], [0.1, 0.9, 1.0], [1.0, 0.8, 0.1], [0.6, 0.2, 1.0]], np.float32)


def city(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Procedural neon skyline (cyberpunk poster backdrop), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    h, w = height, width
    s = _scale(h, w)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky_top, sky_bottom = np.array([0.05, 0.02, 0.12], np.float32), np.array([0.45, 0.08, 0.42], np.float32)
    img = np.repeat((1 - t) * sky_top + t * sky_bottom, w, axis=1)
    glow = np.zeros((h, w, 3), np.float32)
    for layer, (dark, hmin, hmax) in enumerate([(0.16, 0.35, 0.7), (0.09, 0.25, 0.55), (0.04, 0.1, 0.4)]):
        x = int(-20 * s)
        while x < w:
            bw = max(4, int(rng.uniform(0.05, 0.14) * w))
            top = int(h * rng.uniform(hmin, hmax))
            x0, x1 = max(0, x), min(w, x + bw)
            if x1 > x0 and top < h:
                img[top:, x0:x1] = np.array([0.10, 0.07, 0.16], np.float32) * (dark / 0.1)
                ws, wh = max(2, int(5 * s)), max(2, int(7 * s))
                gy, gx = max(1, int(wh * 2.2)), max(1, int(ws * 2.2))
                ny, nx = max(0, (h - top - wh) // gy), max(0, (x1 - x0 - 2 * ws) // gx)
                if ny and nx:  # lit windows on a grid
                    lit = rng.random((ny, nx)) < 0.28
                    neon = rng.random((ny, nx)) < 0.3
                    pick = rng.integers(0, 4, (ny, nx))
                    cols = np.where(neon[..., None], _NEON[pick], np.array([1.0, 0.85, 0.6], np.float32))
                    cols = cols * np.float32(0.35 + 0.25 * layer)
                    for iy, ix in zip(*np.nonzero(lit), strict=True):
                        wy, wx = top + wh + iy * gy, x0 + ws + ix * gx
                        img[wy : wy + wh, wx : wx + ws] = cols[iy, ix]
                if rng.random() < 0.5 and bw > 30 * s:  # a neon sign
                    sy = top + int(rng.uniform(0.05, 0.3) * (h - top))
                    sh = max(3, int(rng.uniform(6, 18) * s))
                    glow[sy : sy + sh, x0 + int(4 * s) : max(x0 + int(4 * s), x1 - int(4 * s))] = _NEON[
                        rng.integers(0, 4)
                    ]
            x += bw + int(rng.uniform(-0.02, 0.02) * w)
    img = img + blur(glow, 14 * s) * 1.2 + glow * 0.9
    img = img + smoothstep(0.55, 1.0, t[..., 0])[..., None] * np.array([0.35, 0.1, 0.4], np.float32)
    return np.clip(blur(img, 2.5 * s), 0.0, 1.0).astype(np.float32)


def blurred_background(img: np.ndarray, mask: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """The original background, subject removed (normalised convolution) and defocused."""
    h, w = img.shape[:2]
    sg = sigma if sigma is not None else 18.0 * _scale(h, w)
    bgw = blur((1.0 - np.clip(mask, 0, 1)) ** 2, 2.0)
    num = blur(img * bgw[..., None], sg)
    den = blur(bgw, sg)[..., None]
    fill = num / np.maximum(den, 1e-4)
    far = blur(img, sg * 3)  # where the subject covers everything nearby
    return np.clip(np.where(den > 0.02, fill, far), 0.0, 1.0).astype(np.float32)


def backdrop(
    kind: BackdropKind,
    height: int,
    width: int,
    *,
    color: ColorLike | None = None,
    seed: int = 0,
    reference: np.ndarray | None = None,
    source: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Make a backdrop of ``kind`` at (height, width). ``reference`` is needed for 'reference';
    ``source`` and ``mask`` (the original image and subject) for 'blur'."""
    if kind == "studio":
        return studio(height, width, color)
    if kind == "gradient":
        return gradient(height, width, color)
    if kind == "city":
        return city(height, width, seed)
    if kind == "color":
        return solid(height, width, color)
    if kind == "reference":
        if reference is None:
            raise ValueError("background kind 'reference' needs a reference image")
        return cover_fit(reference, width, height)
    if kind == "blur":
        if source is None or mask is None:
            raise ValueError("background kind 'blur' needs the source image and the subject mask")
        return blurred_background(source, mask)
    raise ValueError(f"unknown background kind: {kind!r} (expected one of {KINDS})")


# ----------------------------------------------------------------------------- compositing


def _check(mask: np.ndarray) -> np.ndarray:
    a = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    area = float((a > 0.5).mean())
    if area < 0.005 or area > 0.995:
        raise DegenerateMask(f"background: subject mask covers {area:.1%} of the image")
    return a


def choke(alpha: np.ndarray, amount: float = 0.08) -> np.ndarray:
    """Tighten a soft matte slightly (alpha below ``amount`` → 0) so no fringe of the old backdrop shows."""
    return np.clip((alpha - np.float32(amount)) / np.float32(1.0 - amount), 0.0, 1.0).astype(np.float32)


def decontaminate(img: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Re-colour the subject's rim (semi-transparent pixels and a thin band inside them) from the nearby
    solid interior, so the old backdrop does not show as a halo."""
    h, w = img.shape[:2]
    out = np.array(img, dtype=np.float32, copy=True)
    r = max(2, int(round(3 * _scale(h, w))))
    core = cv2.erode((alpha >= 0.95).astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    edge = (alpha > 0.01) & ~core
    if not edge.any() or not core.any():
        return out
    solid_fg = core.astype(np.float32)
    sg = 6.5 * max(1.0, _scale(h, w))  # the estimate is low-frequency: blur on a pyramid level
    num = blur(img * solid_fg[..., None], sg)[edge]
    den = blur(solid_fg, sg)[edge][:, None]
    est = np.where(den > 1e-3, num / np.maximum(den, 1e-3), img[edge])
    a = alpha[edge]
    # see-through pixels take mostly the interior's colour; opaque ones in the band only a little, so a
    # real dark outline or a thin logo tip at the edge keeps its own colour
    t = np.where(a >= 0.95, np.float32(OPAQUE_RIM), np.clip(1.7 - a, 0.7, 1.0))[:, None]
    out[edge] = img[edge] * (1.0 - t) + est * t
    return out


def floor_shadow(alpha: np.ndarray, strength: float = 0.45) -> np.ndarray:
    """A soft contact shadow under the subject's base (0 when the subject is cut off at the bottom)."""
    h, w = alpha.shape
    rows = np.flatnonzero((alpha > 0.5).any(axis=1))
    if len(rows) == 0 or rows[-1] >= h - 2:
        return np.zeros((h, w), np.float32)
    cols = np.flatnonzero((alpha[rows[-1] - max(1, (rows[-1] - rows[0]) // 8) : rows[-1] + 1] > 0.5).any(axis=0))
    if len(cols) == 0:
        return np.zeros((h, w), np.float32)
    s = _scale(h, w)
    shadow = np.zeros((h, w), np.float32)
    cx, cy = int((cols[0] + cols[-1]) / 2), int(rows[-1])
    ax, ay = max(2, int(0.6 * (cols[-1] - cols[0]) + 8 * s)), max(2, int(0.03 * h))
    cv2.ellipse(shadow, (cx, cy), (ax, ay), 0, 0, 360, 1.0, -1)
    contact = blur(shadow, 6 * s)
    ambient = blur(shadow, 30 * s)
    return np.clip(strength * (0.6 * contact + 0.5 * ambient), 0.0, 0.8).astype(np.float32)


def composite(
    img: np.ndarray, mask: np.ndarray, bg: np.ndarray, harmonize: float = 0.2, wrap: float = 0.3
) -> np.ndarray:
    """Subject of ``img`` (alpha ``mask``) over ``bg`` with edge decontamination, colour match and light wrap."""
    h, w = img.shape[:2]
    a = _check(mask)
    b = bg if bg.shape[:2] == (h, w) else cover_fit(bg, w, h)
    fg = decontaminate(img, a)
    if harmonize > 0:  # nudge the subject's mean colour toward the new scene (lightness half as much)
        thumb = cv2.resize(np.ascontiguousarray(b, np.float32), (64, 64), interpolation=cv2.INTER_AREA)
        step = max(1, int(max(h, w) / 256))
        sub = a[::step, ::step] > 0.5
        mf = fg[::step, ::step][sub].mean(0) if sub.any() else thumb.reshape(-1, 3).mean(0)
        shift = (thumb.reshape(-1, 3).mean(0) - mf) * np.float32(harmonize)
        shift -= 0.5 * float(shift @ np.array([0.2126, 0.7152, 0.0722], np.float32))
        fg += shift.astype(np.float32)
        np.clip(fg, 0.0, 1.0, out=fg)
    if wrap > 0:  # the backdrop's light bleeding over the subject's rim
        s = _scale(h, w)
        rim = blur(1.0 - a, 8 * s) * a
        sel = rim > 0.004
        glow = np.clip(blur(b, 10 * s)[sel] * rim[sel][:, None] * np.float32(wrap * 2.0), 0.0, 1.0)
        fg[sel] = 1.0 - (1.0 - fg[sel]) * (1.0 - glow)
    a3 = choke(a)[..., None]
    return np.clip(b + (fg - b) * a3, 0.0, 1.0).astype(np.float32)


def replace_background(
    img: np.ndarray,
    mask: np.ndarray,
    kind: BackdropKind,
    *,
    color: ColorLike | None = None,
    reference: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Put the subject (``mask``) in front of a new ``kind`` backdrop. Raises ``DegenerateMask`` on an
    empty or whole-image mask. Studio backdrops get a floor shadow; plain ones are not colour-matched."""
    h, w = img.shape[:2]
    a = _check(mask)
    bg = backdrop(kind, h, w, color=color, seed=seed, reference=reference, source=img, mask=a)
    if kind == "studio":
        bg = bg * (1.0 - floor_shadow(a))[..., None]
    harmonize = {"studio": 0.1, "color": 0.0, "gradient": 0.15, "city": 0.25, "reference": 0.2, "blur": 0.0}[kind]
    wrap = {"studio": 0.15, "color": 0.06, "gradient": 0.25, "city": 0.4, "reference": 0.3, "blur": 0.0}[kind]
    return composite(img, a, bg, harmonize=harmonize, wrap=wrap)


def bleed(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Fill the colour under fully transparent pixels with the subject's own colours spread outward
    (normalised convolution at two scales). Transparent pixels carry no colour, but resizing or
    compositing an RGBA cut-out mixes their RGB into the edge: the old backdrop there would come back
    as a fringe."""
    h, w = alpha.shape
    s = _scale(h, w)
    out = np.array(rgb, dtype=np.float32, copy=True)
    clear = alpha <= 0.0
    if not clear.any() or clear.all():
        return out
    weight = alpha.astype(np.float32)
    near_num, near_den = blur(rgb * weight[..., None], 4.0 * s), blur(weight, 4.0 * s)[..., None]
    far_num, far_den = blur(rgb * weight[..., None], 60.0 * s), blur(weight, 60.0 * s)[..., None]
    mean = (rgb * weight[..., None]).reshape(-1, 3).sum(0) / max(float(weight.sum()), 1e-6)
    far = np.where(far_den > 1e-4, far_num / np.maximum(far_den, 1e-4), mean)
    fill = np.where(near_den > 1e-2, near_num / np.maximum(near_den, 1e-2), far)
    out[clear] = np.clip(fill[clear], 0.0, 1.0)
    return out


def remove_background(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut-out: (decontaminated RGB float32 H×W×3, choked alpha float32 H×W). Raises ``DegenerateMask``.
    Under fully transparent pixels the RGB is the subject's colour bled outward (``bleed``)."""
    a = _check(mask)
    alpha = choke(a)
    return bleed(decontaminate(img, a), alpha), alpha


def rgba_image(rgb: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """A PIL RGBA image from float RGB and alpha in [0, 1]."""
    data = np.dstack([rgb, alpha[..., None]])
    return Image.fromarray((np.clip(data, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGBA")
