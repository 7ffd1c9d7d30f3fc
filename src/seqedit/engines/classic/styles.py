"""Artistic re-renderings ("styles") of a float32 H×W×3 RGB image in [0, 1].

``stylize(img, style, seed, face_boxes)`` returns an array of the same shape. Heavy filters
(bilateral passes, k-means, mean-shift, oil painting) run on a copy whose long side is at most
``WORK_SIDE`` and are upsampled; line art is computed at full resolution so edges stay crisp.
All randomness is seeded (``cv2.setRNGSeed`` before k-means, ``numpy`` generators elsewhere), so
the same seed gives byte-identical output.

``face_boxes`` (``(x, y, w, h)`` in pixels) protect faces where a style would otherwise damage
them: no screentone blacks in manga faces, no Ben-Day dots or spot blacks in comic faces, finer
brushwork in oil, and lighter granulation in watercolor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from .looks import F32, blur, lowfreq_noise, luminance, rgb, saturate, size_scale, smoothstep

STYLES = ("pencil", "ink", "manga", "comic", "popart", "cartoon", "watercolor", "oil")
WORK_SIDE = 768
WASH_SIDE = 576

Box = tuple[float, float, float, float]  # x, y, width, height in pixels

_STYLE_ALIASES = {
    "sketch": "pencil",
    "pop_art": "popart",
    "pop": "popart",
    "warhol": "popart",
    "lineart": "ink",
    "line_art": "ink",
    "oil_painting": "oil",
    "anime": "cartoon",
}


# ----------------------------------------------------------------------------- shared pieces


def _fit_long(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    if max(h, w) <= side:
        return img
    s = side / max(h, w)
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _upsample(img: np.ndarray, h: int, w: int) -> np.ndarray:
    if img.shape[:2] == (h, w):
        return img
    return np.clip(cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _face_weight(h: int, w: int, face_boxes: Sequence[Box] | None) -> np.ndarray | None:
    """H×W in [0, 1]: soft ellipses over the (slightly enlarged) face boxes, or None."""
    if not face_boxes:
        return None
    m = np.zeros((h, w), F32)
    for x, y, bw, bh in face_boxes:
        centre = (round(x + bw / 2), round(y + bh / 2))
        axes = (max(1, round(bw * 0.65)), max(1, round(bh * 0.8)))
        cv2.ellipse(m, centre, axes, 0, 0, 360, 1.0, -1)
    return blur(m, 0.05 * max(h, w))


def xdog(
    gray: np.ndarray, sigma: float, k: float = 1.6, tau: float = 0.985, eps: float = 0.02, phi: float = 90.0
) -> np.ndarray:
    """Extended difference of Gaussians: 1 = paper, toward 0 = ink."""
    d = blur(gray, sigma) - F32(tau) * blur(gray, sigma * k)
    out = np.where(d >= eps, F32(1.0), F32(1.0) + np.tanh(F32(phi) * (d - F32(eps))))
    return out.astype(F32)


def _dot_screen(h: int, w: int, period: float, angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    yy = np.arange(h, dtype=F32)[:, None]
    xx = np.arange(w, dtype=F32)[None, :]
    u = (xx * F32(math.cos(a)) + yy * F32(math.sin(a))) * F32(2 * math.pi / period)
    v = (yy * F32(math.cos(a)) - xx * F32(math.sin(a))) * F32(2 * math.pi / period)
    return (F32(0.5) + F32(0.25) * (np.cos(u) + np.cos(v))).astype(F32)


def halftone(darkness: np.ndarray, period: float, angle: float = 45.0) -> np.ndarray:
    """Clustered-dot screen: ink coverage (1 = ink) that grows with ``darkness`` in [0, 1]."""
    scr = _dot_screen(darkness.shape[0], darkness.shape[1], period, angle)
    return smoothstep(-0.04, 0.04, scr - (F32(1.0) - darkness))


def _smoothed(img: np.ndarray, passes: int = 4) -> np.ndarray:
    """Edge-preserving flattening: repeated bilateral filtering at ≤ 512 px, upsampled."""
    h, w = img.shape[:2]
    small = _fit_long(img, 512)
    for _ in range(passes):
        small = cv2.bilateralFilter(small, 9, 0.16, 7)
    return _upsample(small, h, w)


def ink_lines(
    img: np.ndarray,
    smoothed: np.ndarray | None = None,
    sigma: float = 1.2,
    eps: float = -0.005,
    phi: float = 200.0,
    min_area: float = 40.0,
    thick: float = 0.0,
) -> np.ndarray:
    """Clean line art (XDoG on a flattened image, specks dropped): H×W, 1 = paper, 0 = ink."""
    s = size_scale(img)
    flat = _smoothed(img) if smoothed is None else smoothed
    ink = (xdog(luminance(flat), sigma=sigma * s, eps=eps, phi=phi) < 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = np.zeros(n, np.uint8)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= int(min_area * s * s)
    ink = keep[labels]
    if thick:
        k = max(2, round(thick * s))
        ink = cv2.dilate(ink, np.ones((k, k), np.uint8))
    return cv2.GaussianBlur(F32(1.0) - ink.astype(F32), (0, 0), max(0.4, 0.6 * s))


def _posterize(img: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means colour quantisation in Lab (centres from a 256 px sample, seeded), same size as ``img``."""
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)
    sample = _fit_long(lab, 256).reshape(-1, 3)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(sample, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    centres = centres.astype(F32)
    best = np.full(lab.shape[:2], np.inf, F32)
    label = np.zeros(lab.shape[:2], np.int32)
    for i, c in enumerate(centres):
        d = ((lab - c) ** 2).sum(-1)
        closer = d < best
        best[closer] = d[closer]
        label[closer] = i
    quant = centres[label]
    return np.clip(cv2.cvtColor(quant, cv2.COLOR_Lab2RGB), 0.0, 1.0)


# ----------------------------------------------------------------------------- styles


def _pencil(img: np.ndarray, seed: int) -> np.ndarray:
    s = size_scale(img)
    g = luminance(img)
    dodge = np.clip(g / (F32(1.0) - blur(F32(1.0) - g, 10 * s) + F32(1e-3)), 0.0, 1.0)  # colour dodge
    sketch = np.clip(F32(1.0) - (F32(1.0) - dodge) * F32(1.6), 0.0, 1.0)
    noise = np.random.default_rng(seed).random(g.shape, dtype=F32)
    kl = max(3, round(9 * s)) | 1
    hatch = cv2.filter2D(noise, -1, np.eye(kl, dtype=F32)[::-1] / F32(kl))  # 45° strokes
    hatch = (hatch - hatch.mean()) / F32(hatch.std() + 1e-6)
    tone = np.clip(F32(1.0) - (F32(1.0) - blur(g, 2 * s)) * F32(0.35) * (F32(1.0) + F32(0.5) * hatch), 0, 1)
    return (sketch * tone)[..., None] * rgb(0.98, 0.97, 0.94)


def _ink(img: np.ndarray, seed: int) -> np.ndarray:
    flat = _smoothed(img, 3)
    lines = ink_lines(img, flat, sigma=1.0, eps=-0.004, phi=220.0, min_area=30.0)
    blacks = smoothstep(0.06, 0.12, luminance(flat))  # solid blacks
    return np.minimum(lines, blacks)[..., None] * rgb(0.99, 0.98, 0.95)


def _manga(img: np.ndarray, seed: int, faces: np.ndarray | None) -> np.ndarray:
    s = size_scale(img)
    clahe = cv2.createCLAHE(2.0, (8, 8))
    g = clahe.apply(np.clip(luminance(img) * 255 + 0.5, 0, 255).astype(np.uint8)).astype(F32) / F32(255.0)
    gs = blur(g, 1.2 * s)
    period = max(4.0, 6 * s)
    light = F32(1.0) - halftone(np.full_like(gs, 0.18), period, 45)
    dark = F32(1.0) - halftone(np.full_like(gs, 0.45), period, 45)
    solid_level = np.full_like(gs, 0.2) if faces is None else F32(0.2) - F32(0.12) * faces
    out = np.where(gs < 0.62, light, F32(1.0))
    out = np.where(gs < 0.42, dark, out)
    out = np.where(gs < solid_level, F32(0.0), out)
    out = np.minimum(out, xdog(g, sigma=0.9 * s, eps=0.012, phi=80.0))
    return np.repeat(out[..., None], 3, axis=2)


def _comic(img: np.ndarray, seed: int, faces: np.ndarray | None) -> np.ndarray:
    h, w = img.shape[:2]
    s = size_scale(img)
    flat = _smoothed(img)
    q = _upsample(saturate(_posterize(_fit_long(flat, WORK_SIDE), 6, seed), 1.45), h, w)
    lum = luminance(q)
    shadow = np.clip((F32(0.5) - lum) * F32(1.4), 0.0, 0.6)
    keep = F32(1.0) if faces is None else (F32(1.0) - faces)
    dots = halftone(shadow * keep, period=max(4.0, 6 * s), angle=15)  # Ben-Day dots
    q = q * (F32(1.0) - F32(0.35) * dots[..., None])
    blacks = ((lum < 0.13) & (keep > 0.5) if faces is not None else lum < 0.13)[..., None]  # spot blacks
    q = np.where(blacks, F32(0.0), q)
    return q * ink_lines(img, flat, sigma=1.4, eps=0.0, thick=2)[..., None]


_POP_PALETTES = (  # background, mid, dark, light
    ((1.00, 0.84, 0.00), (0.90, 0.00, 0.43), (0.08, 0.08, 0.24), (1.00, 0.94, 0.78)),
    ((0.00, 0.75, 0.86), (1.00, 0.35, 0.08), (0.16, 0.00, 0.24), (1.00, 0.90, 0.47)),
    ((1.00, 0.31, 0.63), (0.08, 0.47, 1.00), (0.04, 0.04, 0.04), (0.78, 1.00, 0.31)),
    ((0.47, 0.86, 0.31), (0.55, 0.16, 0.78), (0.08, 0.08, 0.16), (1.00, 0.78, 0.82)),
)


def _popart(img: np.ndarray, seed: int) -> np.ndarray:
    """Warhol 2×2: luma posterised into 3 levels; each tile its own palette; same size as the input.

    The background palette colour fills the brightest level, so the subject reads against a flat field.
    """
    h, w = img.shape[:2]
    th, tw = max(1, h // 2), max(1, w // 2)
    small = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
    lum = blur(luminance(small), 1.0)
    q1, q2, q3 = np.percentile(lum, [30, 60, 88])
    level = (lum > q1).astype(np.int32) + (lum > q2) + (lum > q3)  # 0 dark … 3 brightest
    ink = xdog(luminance(small), sigma=max(0.8, 1.2 * size_scale(small)), eps=0.01, phi=50.0) > 0.5
    tiles = []
    for background, mid, dark, light in _POP_PALETTES:
        lut = np.stack([rgb(*dark), rgb(*mid), rgb(*light), rgb(*background)])
        tile = lut[level]
        tile = np.where(ink[..., None], tile, rgb(*dark))
        tiles.append(tile)
    out = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_NEAREST)


def _cartoon(img: np.ndarray, seed: int) -> np.ndarray:
    h, w = img.shape[:2]
    flat = _smoothed(img)
    q = _posterize(_fit_long(flat, WORK_SIDE), 9, seed)
    q = _upsample(np.clip(saturate(q, 1.25) * F32(1.06), 0.0, 1.0), h, w)
    return q * ink_lines(img, flat, sigma=1.2, eps=-0.005)[..., None]


def _watercolor(img: np.ndarray, seed: int, faces: np.ndarray | None) -> np.ndarray:
    """Mean-shift washes that bleed, pigment pooling at wash edges, granulation, paper in highlights,
    a pencil under-drawing and paper texture."""
    h, w = img.shape[:2]
    s = size_scale(img)
    small = _fit_long(img, WASH_SIDE)  # washes are soft: mean-shift at ≤ 576 px
    sh, sw = small.shape[:2]
    u8 = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)
    wash = cv2.pyrMeanShiftFiltering(u8, 9, 24, maxLevel=1).astype(F32) / F32(255.0)
    bleed = 4.0 * sw / 768
    dx = (lowfreq_noise(sh, sw, seed, 12) - F32(0.5)) * F32(2 * bleed)
    dy = (lowfreq_noise(sh, sw, seed + 1, 12) - F32(0.5)) * F32(2 * bleed)
    gx, gy = np.meshgrid(np.arange(sw, dtype=F32), np.arange(sh, dtype=F32))
    f = cv2.remap(wash, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    gl = luminance(f)
    edge = np.hypot(cv2.Sobel(gl, cv2.CV_32F, 1, 0), cv2.Sobel(gl, cv2.CV_32F, 0, 1))
    edge = np.clip(edge / F32(np.percentile(edge, 99) + 1e-6), 0.0, 1.0)
    f = f * (F32(1.0) - F32(0.4) * cv2.GaussianBlur(edge, (0, 0), 0.8)[..., None])  # pooling
    gran = lowfreq_noise(sh, sw, seed + 2, 4)
    if faces is not None:
        gran = F32(1.0) - (F32(1.0) - gran) * (F32(1.0) - F32(0.7) * cv2.resize(faces, (sw, sh)))
    f = F32(1.0) - (F32(1.0) - f) * (F32(0.78) + F32(0.22) * gran[..., None])  # granulation
    f = f + (F32(1.0) - f) * smoothstep(0.82, 0.96, luminance(f))[..., None]  # paper shows
    f = _upsample(f, h, w)
    sketch = luminance(_pencil(img, seed))
    f = f * (F32(0.55) + F32(0.45) * sketch[..., None])
    paper = F32(0.95) + F32(0.05) * lowfreq_noise(h, w, seed + 3, max(2.0, 3 * s))
    return f * paper[..., None] * rgb(1.0, 0.99, 0.96)


def _oil(img: np.ndarray, seed: int, faces: np.ndarray | None) -> np.ndarray:
    h, w = img.shape[:2]
    s = size_scale(img)
    small = _fit_long(img, WORK_SIDE)
    u8 = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)
    size = max(2, round(6 * small.shape[1] / 768))
    paint = cv2.xphoto.oilPainting(u8, size, 1, cv2.COLOR_RGB2GRAY).astype(F32) / F32(255.0)
    if faces is not None:  # finer brushwork on faces keeps them readable
        fw = cv2.resize(faces, (small.shape[1], small.shape[0]))
        ys, xs = np.nonzero(fw > 0.01)
        if len(xs):
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            fine = cv2.xphoto.oilPainting(
                np.ascontiguousarray(u8[y0:y1, x0:x1]), max(2, size // 2), 1, cv2.COLOR_RGB2GRAY
            ).astype(F32) / F32(255.0)
            wgt = fw[y0:y1, x0:x1, None]
            paint[y0:y1, x0:x1] = paint[y0:y1, x0:x1] * (F32(1.0) - wgt) + fine * wgt
    f = _upsample(paint, h, w)
    lum = blur(luminance(f), 1.2 * s)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    shade = np.clip(F32(0.5) + (-gx - gy) * F32(2.8), 0.0, 1.0)  # impasto, top-left
    f = f * (F32(0.82) + F32(0.36) * shade[..., None])
    period = max(2.0, 3.7 * s)
    weave = (
        np.sign(np.sin(np.arange(w, dtype=F32) * F32(2 * math.pi / period)))[None, :]
        * np.sign(np.sin(np.arange(h, dtype=F32) * F32(2 * math.pi / period)))[:, None]
    )
    return saturate(np.clip(f * (F32(0.96) + F32(0.04) * weave)[..., None], 0.0, 1.0), 1.15)


def stylize(img: np.ndarray, style: str, seed: int, face_boxes: Sequence[Box] | None = None) -> np.ndarray:
    """Re-render ``img`` in ``style`` (one of ``STYLES``); same shape, float32 in [0, 1].

    Raises ``ValueError`` for an unknown style.
    """
    name = style.lower().replace("-", "_").replace(" ", "_")
    name = _STYLE_ALIASES.get(name, name)
    f = np.clip(img.astype(F32, copy=False), 0.0, 1.0)
    h, w = f.shape[:2]
    faces = _face_weight(h, w, face_boxes) if name in ("manga", "comic", "watercolor", "oil") else None
    if name == "pencil":
        out = _pencil(f, seed)
    elif name == "ink":
        out = _ink(f, seed)
    elif name == "manga":
        out = _manga(f, seed, faces)
    elif name == "comic":
        out = _comic(f, seed, faces)
    elif name == "popart":
        out = _popart(f, seed)
    elif name == "cartoon":
        out = _cartoon(f, seed)
    elif name == "watercolor":
        out = _watercolor(f, seed, faces)
    elif name == "oil":
        out = _oil(f, seed, faces)
    else:
        raise ValueError(f"unknown style {style!r}; expected one of {', '.join(STYLES)}")
    return np.clip(out, 0.0, 1.0).astype(F32)
