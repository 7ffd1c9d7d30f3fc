"""Colour grades ("looks"), time-of-day grades and approximate relighting.

Every function takes and returns a float32 H×W×3 RGB array in [0, 1] of the same shape. Randomness
(film grain, snow, stars) comes from ``numpy.random.default_rng(seed)`` only, so the same seed gives
byte-identical output. Large blurs run on a downscaled copy (``blur``), so the cost of a grade does
not grow with the blur radius.

The small image primitives at the top (``blur``, ``luminance``, ``saturate``, ``screen``, …) are
shared with the other pixel-effect modules (styles, framing, inpaint).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

LOOKS = ("cyberpunk", "golden_hour", "noir", "bw", "vintage", "cold", "warm")
TIMES = ("dawn", "morning", "noon", "afternoon", "sunset", "dusk", "night")
LIGHTS = ("soft", "dramatic", "rim", "studio", "backlit")
SIDES = ("left", "right", "top", "front")

_LOOK_ALIASES = {
    "golden": "golden_hour",
    "goldenhour": "golden_hour",
    "winter": "cold",
    "cool": "cold",
    "black_and_white": "bw",
    "mono": "bw",
    "monochrome": "bw",
    "film": "vintage",
}

F32 = np.float32


# ----------------------------------------------------------------------------- primitives


def rgb(*values: float) -> np.ndarray:
    """A float32 constant (plain ``np.array`` of Python floats would upcast to float64)."""
    return np.array(values, dtype=F32)


def size_scale(img: np.ndarray) -> float:
    """Long side relative to 1024 px: scales pixel radii so looks are resolution-independent."""
    return max(img.shape[:2]) / 1024.0


def luminance(img: np.ndarray) -> np.ndarray:
    """Rec. 709 luma, H×W float32."""
    return (img[..., 0] * F32(0.2126) + img[..., 1] * F32(0.7152) + img[..., 2] * F32(0.0722)).astype(F32)


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; sigmas above 4 px run on a pyramid-downscaled copy (cost independent of sigma)."""
    x = x.astype(F32, copy=False)
    if x.ndim == 3 and x.shape[2] == 1:  # OpenCV drops a trailing singleton channel
        return blur(x[..., 0], sigma)[..., None]
    sigma = float(sigma)
    if sigma <= 4.0:
        return cv2.GaussianBlur(x, (0, 0), max(0.3, sigma))
    h, w = x.shape[:2]
    k = sigma / 2.0  # blur with sigma 2 at 1/k scale ~ sigma at full scale
    sw, sh = max(1, round(w / k)), max(1, round(h / k))
    small = cv2.resize(x, (sw, sh), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 2.0)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - F32(e0)) / F32(e1 - e0 + 1e-12), 0.0, 1.0)
    return (t * t * (F32(3.0) - F32(2.0) * t)).astype(F32)


def saturate(img: np.ndarray, k: float) -> np.ndarray:
    """Scale chroma around luma by ``k`` (0 = grey, 1 = unchanged)."""
    lum = luminance(img)[..., None]
    return np.clip(lum + (img - lum) * F32(k), 0.0, 1.0)


def screen(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (F32(1.0) - (F32(1.0) - a) * (F32(1.0) - b)).astype(F32)


def contrast(img: np.ndarray, k: float, pivot: float = 0.5) -> np.ndarray:
    return np.clip((img - F32(pivot)) * F32(k) + F32(pivot), 0.0, 1.0)


def vignette(h: int, w: int, strength: float = 0.35, power: float = 2.2) -> np.ndarray:
    """H×W×1 multiplier, 1 at the centre falling to ``1 - strength`` in the corners."""
    yy = ((np.arange(h, dtype=F32) - h / 2) / (h / 2))[:, None]
    xx = ((np.arange(w, dtype=F32) - w / 2) / (w / 2))[None, :]
    d = np.sqrt(xx * xx + yy * yy) / F32(math.sqrt(2.0))
    return (F32(1.0) - F32(strength) * d ** F32(power))[..., None].astype(F32)


def radial_glow(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """H×W×1 Gaussian blob centred at (cx, cy) (fractions of w, h) with radii rx·w, ry·h."""
    yy = ((np.arange(h, dtype=F32) - cy * h) / F32(ry * h))[:, None]
    xx = ((np.arange(w, dtype=F32) - cx * w) / F32(rx * w))[None, :]
    return np.exp(-(xx * xx + yy * yy))[..., None].astype(F32)


def grain(h: int, w: int, amount: float, seed: int, size: float = 1.0) -> np.ndarray:
    """Seeded zero-mean film grain, H×W×1, standard deviation ``amount``; ``size`` > 1 makes it coarser."""
    rng = np.random.default_rng(seed)
    n = rng.standard_normal((h, w), dtype=F32)
    if size > 1.0:
        n = cv2.GaussianBlur(n, (0, 0), 0.5 * size)
        n /= F32(n.std() + 1e-6)
    return (n * F32(amount))[..., None]


def lowfreq_noise(h: int, w: int, seed: int, cell: float = 64.0) -> np.ndarray:
    """Smooth seeded noise in [0, 1] with features about ``cell`` pixels wide, H×W."""
    rng = np.random.default_rng(seed)
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    n = rng.random((gh, gw), dtype=F32)
    return np.clip(cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def gradient_map(lum: np.ndarray, stops: Sequence[tuple[float, tuple[float, float, float]]]) -> np.ndarray:
    """Map luma through a colour ramp given as (position, rgb) stops; H×W×3."""
    lut_x = np.linspace(0.0, 1.0, 256, dtype=F32)
    xs = [p for p, _ in stops]
    lut = np.stack([np.interp(lut_x, xs, [c[i] for _, c in stops]) for i in range(3)], -1).astype(F32)
    idx = np.clip(lum * F32(255.0) + F32(0.5), 0, 255).astype(np.uint8)
    return lut[idx]


def curve(x: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    """Piecewise-linear tone curve through (xs, ys), via a 1024-entry lookup table."""
    lut = np.interp(np.linspace(0.0, 1.0, 1024), xs, ys).astype(F32)
    return lut[np.clip(x * F32(1023.0) + F32(0.5), 0, 1023).astype(np.int32)]


def _linear(img: np.ndarray) -> np.ndarray:
    return np.power(np.clip(img, 0.0, 1.0), F32(2.2))


def _gamma(lin: np.ndarray) -> np.ndarray:
    return np.power(np.clip(lin, 0.0, 1.0), F32(1 / 2.2))


def _mix(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    t = t if isinstance(t, np.ndarray) else F32(t)
    return (a + (b - a) * t).astype(F32)


def _done(img: np.ndarray, out: np.ndarray, strength: float = 1.0) -> np.ndarray:
    out = np.clip(out, 0.0, 1.0).astype(F32)
    if strength >= 1.0:
        return out
    return np.clip(_mix(img, out, max(0.0, strength)), 0.0, 1.0).astype(F32)


# ----------------------------------------------------------------------------- looks


def _cyberpunk(f: np.ndarray, seed: int) -> np.ndarray:
    h, w = f.shape[:2]
    s = size_scale(f)
    lum = np.clip((luminance(f) - F32(0.04)) / F32(0.92), 0.0, 1.0)
    ramp = gradient_map(
        lum,
        [
            (0.0, (0.01, 0.02, 0.07)),
            (0.36, (0.0, 0.36, 0.50)),
            (0.62, (0.62, 0.16, 0.62)),
            (0.85, (1.0, 0.45, 0.78)),
            (1.0, (1.0, 0.92, 0.98)),
        ],
    )
    out = ramp * F32(0.62) + saturate(f, 1.2) * F32(0.38) * (F32(0.35) + F32(0.65) * lum[..., None])
    out = contrast(out, 1.15, 0.47)
    bright = np.clip((luminance(out) - F32(0.55)) / F32(0.45), 0.0, 1.0)[..., None]
    out = screen(out, blur(out * bright, 20 * s) * rgb(1.0, 0.45, 1.0) * F32(0.9))  # neon bloom
    shift = max(1, round(2 * s))  # chromatic aberration
    out = np.stack([np.roll(out[..., 0], shift, 1), out[..., 1], np.roll(out[..., 2], -shift, 1)], -1)
    return out * vignette(h, w, 0.45)


def _golden_hour(f: np.ndarray, seed: int) -> np.ndarray:
    h, w = f.shape[:2]
    s = size_scale(f)
    out = f * rgb(1.08, 0.97, 0.76)
    out = F32(0.04) * rgb(1.0, 0.7, 0.3) + out * F32(0.96)  # warm lifted blacks
    out = screen(out, radial_glow(h, w, 0.85, 0.1, 0.55, 0.55) * rgb(1.0, 0.62, 0.25) * F32(0.45))
    out = screen(out, blur(out, 20 * s) * F32(0.22))  # glow
    return saturate(out, 1.1) * vignette(h, w, 0.3)


def _noir(f: np.ndarray, seed: int) -> np.ndarray:
    h, w = f.shape[:2]
    g = np.clip(f[..., 0] * F32(0.55) + f[..., 1] * F32(0.38) + f[..., 2] * F32(0.07), 0.0, 1.0)  # red filter
    g = F32(1.0) / (F32(1.0) + np.exp(-(g - F32(0.5)) * F32(7.5)))
    lo, hi = float(g.min()), float(g.max())
    g = (g - F32(lo)) / F32(max(hi - lo, 1e-6))
    g = g[..., None] * vignette(h, w, 0.55, 1.8) + grain(h, w, 0.03, seed, 1.5 * size_scale(f))
    return np.repeat(np.clip(g, 0.0, 1.0), 3, axis=2)


def _bw(f: np.ndarray, seed: int) -> np.ndarray:
    g = luminance(f)
    g = curve(g, [0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.21, 0.5, 0.8, 1.0])  # gentle S-curve
    return np.repeat(g[..., None], 3, axis=2)


def _vintage(f: np.ndarray, seed: int) -> np.ndarray:
    h, w = f.shape[:2]
    s = size_scale(f)
    f = saturate(f, 0.72) * vignette(h, w, 0.4)
    out = np.stack(
        [
            curve(f[..., 0], [0, 0.5, 1], [0.10, 0.56, 0.95]),  # faded, warm
            curve(f[..., 1], [0, 0.5, 1], [0.08, 0.50, 0.90]),
            curve(f[..., 2], [0, 0.5, 1], [0.14, 0.43, 0.78]),
        ],
        -1,
    )
    out = screen(out, radial_glow(h, w, 0.0, 0.2, 0.45, 0.6) * rgb(1.0, 0.45, 0.15) * F32(0.45))  # light leak
    return blur(out, 0.6 * s) + grain(h, w, 0.025, seed, 2.0 * s)


def _snow(h: int, w: int, seed: int, s: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flakes = np.zeros((h, w), F32)
    for radius, count in ((1.0, 900), (2.0, 300), (3.5, 80)):
        n = int(count * h * w / 1024**2)
        layer = np.zeros((h, w), F32)
        layer[rng.integers(0, h, n), rng.integers(0, w, n)] = rng.uniform(0.5, 1.0, n).astype(F32)
        r = max(1, round(radius * s))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        flakes = np.maximum(flakes, cv2.dilate(layer, disc))
    return cv2.GaussianBlur(flakes, (0, 0), max(0.5, 0.8 * s))


def _cold(f: np.ndarray, seed: int, snow: bool = False) -> np.ndarray:
    h, w = f.shape[:2]
    s = size_scale(f)
    out = saturate(f, 0.7) * rgb(0.88, 0.98, 1.12)
    out = F32(0.05) * rgb(0.85, 0.92, 1.0) + out * F32(0.94)
    out = screen(out, blur(out, 12 * s) * F32(0.2) * rgb(0.8, 0.9, 1.0))
    if snow:
        out = screen(out, _snow(h, w, seed, s)[..., None] * F32(0.9))
    return out


def _warm(f: np.ndarray, seed: int) -> np.ndarray:
    out = f * rgb(1.07, 1.0, 0.84)
    out = F32(0.02) * rgb(1.0, 0.8, 0.5) + out * F32(0.98)
    return saturate(out, 1.08)


MUTED_CHROMA_PER_STRENGTH = 0.45  # "desaturate": chroma × (1 − 0.45 × strength), the adjust op's own step


def desaturate(img: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """A partial saturation reduction ("desaturate slightly"): chroma × (1 − 0.45·strength), floor 0.

    Strength 0.5 keeps 78 % of the chroma, 1 keeps 55 %, 1.5 keeps 33 %; luminance is unchanged.
    """
    k = max(0.0, 1.0 - MUTED_CHROMA_PER_STRENGTH * float(strength))
    return saturate(img.astype(F32, copy=False), k).astype(F32)


def apply_look(img: np.ndarray, look: str, seed: int, strength: float = 1.0, *, snow: bool = False) -> np.ndarray:
    """Colour-grade ``img`` with one of ``LOOKS``; ``strength`` in [0, 1] blends with the original.

    ``snow`` (``cold`` only) scatters seeded snowflakes. Raises ``ValueError`` for an unknown look.
    """
    name = _LOOK_ALIASES.get(look.lower().replace("-", "_").replace(" ", "_"), look.lower())
    f = img.astype(F32, copy=False)
    if name == "cyberpunk":
        out = _cyberpunk(f, seed)
    elif name == "golden_hour":
        out = _golden_hour(f, seed)
    elif name == "noir":
        out = _noir(f, seed)
    elif name == "bw":
        out = _bw(f, seed)
    elif name == "vintage":
        out = _vintage(f, seed)
    elif name == "cold":
        out = _cold(f, seed, snow=snow)
    elif name == "warm":
        out = _warm(f, seed)
    else:
        raise ValueError(f"unknown look {look!r}; expected one of {', '.join(LOOKS)}")
    return _done(f, out, strength)


# ----------------------------------------------------------------------------- time of day

# time -> (linear-light gain per channel, exposure, saturation, contrast, sky top, sky horizon)
_TIME_GRADES: dict[
    str, tuple[tuple[float, float, float], float, float, float, tuple[float, float, float], tuple[float, float, float]]
] = {
    "dawn": ((1.05, 0.86, 0.95), 0.55, 0.85, 0.95, (0.30, 0.34, 0.58), (1.00, 0.70, 0.62)),
    "morning": ((1.02, 1.00, 1.04), 1.0, 0.92, 1.0, (0.50, 0.68, 0.90), (0.98, 0.86, 0.78)),
    "noon": ((1.00, 1.00, 1.00), 1.12, 1.10, 1.12, (0.20, 0.45, 0.85), (0.65, 0.80, 0.95)),
    "afternoon": ((1.06, 1.00, 0.90), 1.0, 1.05, 1.05, (0.32, 0.52, 0.82), (0.95, 0.86, 0.70)),
    "sunset": ((1.30, 0.80, 0.52), 0.50, 1.10, 1.10, (0.25, 0.15, 0.42), (1.00, 0.55, 0.20)),
    "dusk": ((0.80, 0.78, 1.15), 0.26, 0.75, 1.0, (0.06, 0.08, 0.22), (0.62, 0.38, 0.45)),
    "night": ((0.55, 0.75, 1.25), 0.11, 0.65, 1.0, (0.01, 0.02, 0.07), (0.07, 0.12, 0.25)),
}


def _sky_gradient(
    h: int, w: int, top: tuple[float, float, float], horizon: tuple[float, float, float], reach: float = 0.7
) -> np.ndarray:
    t = np.clip(np.linspace(0.0, 1.0, h, dtype=F32) / F32(reach), 0.0, 1.0)[:, None, None]
    col = rgb(*top) * (F32(1.0) - t) + rgb(*horizon) * t
    return np.broadcast_to(col, (h, w, 3)).astype(F32)


def _city_lights(f: np.ndarray, s: float) -> np.ndarray:
    """Small bright spots (white top-hat): lamps and windows that should glow at night."""
    lum = luminance(f)
    k = max(3, round(15 * s)) | 1
    tophat = lum - cv2.morphologyEx(lum, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    spots = np.clip((tophat - F32(0.15)) / F32(0.3), 0.0, 1.0) * smoothstep(0.7, 0.9, lum)
    return blur(spots[..., None] * rgb(1.0, 0.8, 0.5), 6 * s)


SUNSET_SKY = (
    (0.0, (0.30, 0.20, 0.52)),
    (0.45, (0.86, 0.38, 0.50)),
    (0.75, (1.0, 0.55, 0.25)),
    (1.0, (1.0, 0.78, 0.42)),
)
"""Sunset sky, top → horizon: violet, magenta-rose, orange, gold."""


def _stops_gradient(
    h: int, w: int, stops: Sequence[tuple[float, tuple[float, float, float]]], reach: float
) -> np.ndarray:
    t = np.clip(np.linspace(0.0, 1.0, h, dtype=F32) / F32(reach), 0.0, 1.0)
    col = np.stack([np.interp(t, [p for p, _ in stops], [c[i] for _, c in stops]) for i in range(3)], -1)
    return np.broadcast_to(col.astype(F32)[:, None, :], (h, w, 3)).astype(F32)


def _sunset(f: np.ndarray, sky_mask: np.ndarray | None) -> np.ndarray:
    """A low warm sun: highlights gold-orange, shadows lifted and tinted violet-magenta (not crushed
    to brown), chroma kept, a warm low glow from one side and, with a sky mask, a violet → magenta →
    orange → gold sky. Without a sky the same gradient washes the frame lightly (soft light)."""
    h, w = f.shape[:2]
    s = size_scale(f)
    lum = luminance(f)[..., None]
    lin = _linear(f) * rgb(1.22, 0.94, 0.66) * F32(0.72)  # warm sun, lower than daylight
    out = _gamma(lin)
    shadows = (F32(1.0) - smoothstep(0.0, 0.55, lum)) * F32(0.16)
    out = out + (rgb(0.55, 0.28, 0.62) - out) * shadows  # lifted violet shadows
    highlights = smoothstep(0.45, 1.0, lum) * F32(0.25)
    out = out + (rgb(1.0, 0.72, 0.38) - out) * highlights  # golden highlights
    wash = _stops_gradient(h, w, SUNSET_SKY, 1.0)
    soft = np.where(
        out < 0.5, 2 * out * wash + out * out * (1 - 2 * wash), 2 * out * (1 - wash) + np.sqrt(out) * (2 * wash - 1)
    )
    out = _mix(out, soft.astype(F32), 0.35)  # warm light falls from the sky
    glow = radial_glow(h, w, 0.78, 0.62, 0.45, 0.35) * rgb(1.0, 0.55, 0.18)
    out = screen(out, glow * F32(0.28))
    out = saturate(contrast(out, 1.06, 0.45), 1.18)
    if sky_mask is not None:
        sky = _stops_gradient(h, w, SUNSET_SKY, 0.8)
        g = luminance(f)
        detail = np.clip(g / (blur(g, 24 * s) + F32(1e-3)), 0.75, 1.25)[..., None]  # clouds
        sky = screen(np.clip(sky * detail, 0.0, 1.0), radial_glow(h, w, 0.78, 0.7, 0.12, 0.1) * rgb(1.0, 0.85, 0.5))
        m = np.clip(sky_mask.astype(F32, copy=False), 0.0, 1.0)[..., None]
        out = out * (F32(1.0) - m) + sky * m
    return out


def light_spots(f: np.ndarray) -> np.ndarray:
    """H×W in [0, 1]: small bright spots (white top-hat on bright pixels): lamps, windows, flames."""
    s = size_scale(f)
    lum = luminance(f)
    k = max(3, round(15 * s)) | 1
    tophat = lum - cv2.morphologyEx(lum, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    return (np.clip((tophat - F32(0.12)) / F32(0.25), 0.0, 1.0) * smoothstep(0.65, 0.85, lum)).astype(F32)


def _night(f: np.ndarray, sky_mask: np.ndarray | None, seed: int) -> np.ndarray:
    """Day for night: luminance pulled down and compressed, colour drained toward moonlit blue, the
    shadows deep blue rather than black; lamps and windows keep their colour and brightness with a
    bloom; with a sky mask a dark blue sky with seeded stars."""
    h, w = f.shape[:2]
    s = size_scale(f)
    lum = luminance(f)
    dark = np.power(np.clip(lum, 0.0, 1.0), F32(1.35)) * F32(0.4)  # night luma
    moon = rgb(0.42, 0.58, 1.0)
    base = dark[..., None] * moon * F32(1.15) + saturate(f, 0.4) * dark[..., None] * F32(0.35)
    base = base + rgb(0.01, 0.018, 0.045)  # shadows are deep blue, not black
    if sky_mask is not None:
        sky = _sky_gradient(h, w, (0.01, 0.02, 0.07), (0.07, 0.12, 0.25), 0.75)
        detail = np.clip(lum / (blur(lum, 24 * s) + F32(1e-3)), 0.7, 1.3)[..., None]
        sky = sky * detail
        rng = np.random.default_rng(seed)
        n = int(500 * h * w / 1024**2)
        stars = np.zeros((h, w), F32)
        stars[rng.integers(0, h, n), rng.integers(0, w, n)] = rng.uniform(0.3, 1.0, n).astype(F32)
        sky = sky + cv2.GaussianBlur(stars, (0, 0), max(0.5, 0.7 * s))[..., None] * F32(1.5)
        m = np.clip(sky_mask.astype(F32, copy=False), 0.0, 1.0)[..., None]
        base = base * (F32(1.0) - m) + np.clip(sky, 0.0, 1.0) * m
    spots = light_spots(f)[..., None]
    lamps = saturate(f, 1.2) * rgb(1.0, 0.92, 0.8)
    out = base * (F32(1.0) - spots) + lamps * spots  # the lights stay lit
    bloom = blur(lamps * spots, 8 * s)
    return screen(out, bloom * F32(0.9))


def time_of_day(img: np.ndarray, time: str, sky_mask: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Grade ``img`` toward a time of day (one of ``TIMES``); approximate: no new shadows or lamps.

    With a ``sky_mask`` (H×W in [0, 1]) the sky is re-tinted with a gradient for that time, keeping
    the sky's own detail (clouds); at night seeded stars are added. Sunset and night have their own
    grades (``_sunset``: warm low sun with lifted violet shadows; ``_night``: day for night with the
    lights kept); the other times are a linear-light gain, exposure, saturation and contrast.
    """
    key = time.lower()
    if key not in _TIME_GRADES:
        raise ValueError(f"unknown time of day {time!r}; expected one of {', '.join(TIMES)}")
    f = img.astype(F32, copy=False)
    if key == "sunset":
        return _done(f, _sunset(f, sky_mask))
    if key == "night":
        return _done(f, _night(f, sky_mask, seed))
    gain, exposure, sat, con, top, horizon = _TIME_GRADES[key]
    h, w = f.shape[:2]
    s = size_scale(f)
    out = _gamma(_linear(f) * (rgb(*gain) * F32(exposure)))
    out = contrast(saturate(out, sat), con)
    if key in ("morning", "dawn"):
        out = screen(out, blur(out, 16 * s) * F32(0.2))  # soft haze
    if key == "dusk":
        out = screen(out, _city_lights(f, s) * F32(0.5))
    if sky_mask is not None:
        sky = _sky_gradient(h, w, top, horizon, 0.75)
        lum = luminance(f)
        detail = np.clip(lum / (blur(lum, 24 * s) + F32(1e-3)), 0.7, 1.3)[..., None]  # clouds
        sky = sky * detail
        m = np.clip(sky_mask.astype(F32, copy=False), 0.0, 1.0)[..., None]
        out = out * (F32(1.0) - m) + np.clip(sky, 0.0, 1.0) * m
    return _done(f, out)


# ----------------------------------------------------------------------------- relighting

_LIGHT_DIRS = {
    "left": (-1.0, -0.25, 0.6),
    "right": (1.0, -0.25, 0.6),
    "top": (0.0, -1.0, 0.6),
    "front": (0.0, 0.0, 1.0),
}


def _pseudo_normals(f: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Surface normals from a height field: a dome over the subject mask plus blurred luma detail."""
    h, w = f.shape[:2]
    s = size_scale(f)
    height = blur(luminance(f), 4 * s) * F32(2.0 * s)
    if mask is not None:
        dt = cv2.distanceTransform((mask > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
        dome = np.sqrt(dt / F32(dt.max() + 1e-6))
        height = height + blur(dome, 10 * s) * F32(60.0 * s)
    else:  # no subject: a gentle dome over the frame centre
        height = height + radial_glow(h, w, 0.5, 0.5, 0.7, 0.7)[..., 0] * F32(20.0 * s)
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=5) / F32(32.0)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=5) / F32(32.0)
    n = np.dstack([-gx, -gy, np.ones_like(gx)])
    return n / np.linalg.norm(n, axis=2, keepdims=True)


def _lambert(normals: np.ndarray, direction: tuple[float, float, float]) -> np.ndarray:
    light = rgb(*direction)
    light /= F32(np.linalg.norm(light))
    return np.clip(normals @ light, 0.0, 1.0)[..., None].astype(F32)


def _side_ramp(h: int, w: int, side: str) -> np.ndarray:
    """H×W×1 in [0, 1]: 1 on the lit side of the frame, 0 on the far side."""
    if side == "left":
        t = np.linspace(1.0, 0.0, w, dtype=F32)[None, :]
    elif side == "right":
        t = np.linspace(0.0, 1.0, w, dtype=F32)[None, :]
    elif side == "top":
        t = np.linspace(1.0, 0.0, h, dtype=F32)[:, None]
    else:
        return radial_glow(h, w, 0.5, 0.45, 0.8, 0.8)
    return np.broadcast_to(t, (h, w))[..., None].astype(F32)


def _edge_band(mask: np.ndarray, s: float) -> np.ndarray:
    m = (mask > 0.5).astype(F32)
    k = max(3, round(9 * s)) | 1
    inner = cv2.erode(m, np.ones((k, k), np.uint8))
    return np.clip(m - blur(inner, 4 * s), 0.0, 1.0)


def relight(img: np.ndarray, kind: str, side: str = "left", subject_mask: np.ndarray | None = None) -> np.ndarray:
    """Approximate relighting: ``kind`` in ``LIGHTS``, light from ``side`` in ``SIDES``.

    Shading comes from Lambert on pseudo-normals (a dome over ``subject_mask`` plus luma detail) or,
    without a mask, from a frame-wide gradient; no real geometry, so cast shadows are not produced.
    """
    kind, side = kind.lower(), (side or "left").lower()
    if kind not in LIGHTS:
        raise ValueError(f"unknown lighting {kind!r}; expected one of {', '.join(LIGHTS)}")
    if side not in SIDES:
        raise ValueError(f"unknown light side {side!r}; expected one of {', '.join(SIDES)}")
    f = img.astype(F32, copy=False)
    h, w = f.shape[:2]
    s = size_scale(f)
    m = None if subject_mask is None else np.clip(subject_mask.astype(F32, copy=False), 0.0, 1.0)
    a = np.ones((h, w, 1), F32) if m is None else m[..., None]
    normals = _pseudo_normals(f, m)
    ramp = _side_ramp(h, w, side)
    if kind == "soft":
        shade = _lambert(normals, _LIGHT_DIRS[side]) * F32(0.5) + ramp * F32(0.5)
        lit = f * (F32(0.78) + F32(0.32) * shade * rgb(1.0, 0.97, 0.92))
        lit = _mix(lit, blur(lit, 3 * s), 0.25)  # diffuse: soften micro-contrast
        lit = lit + (F32(1.0) - lit) * F32(0.06)  # lifted shadows
        out = lit
    elif kind == "dramatic":
        shade = _lambert(normals, _LIGHT_DIRS[side]) * F32(0.6) + ramp * F32(0.4)
        shade = smoothstep(0.2, 0.85, shade)
        lit = f * (F32(0.18) + F32(1.15) * shade * rgb(1.0, 0.9, 0.76))
        bg = f * F32(0.3) * (F32(0.4) + F32(0.6) * ramp)
        out = contrast(lit * a + bg * (F32(1.0) - a), 1.1, 0.4)
    elif kind == "studio":
        key = _lambert(normals, _LIGHT_DIRS[side])
        fill_side = {"left": "right", "right": "left"}.get(side, "front")
        fill = _lambert(normals, _LIGHT_DIRS[fill_side])
        lit = f * (F32(0.55) + F32(0.45) * key + F32(0.15) * fill)
        bg = _mix(f * F32(0.8), np.full_like(f, 0.5) * (F32(0.75) + F32(0.25) * ramp), 0.35)
        out = (lit * a + bg * (F32(1.0) - a)) * vignette(h, w, 0.2)
    else:  # rim, backlit: grazing light from behind the subject
        behind = {
            "left": (-1.0, 0.0, -0.1),
            "right": (1.0, 0.0, -0.1),
            "top": (0.0, -1.0, -0.1),
            "front": (0.0, 0.0, 1.0),
        }[side]
        graze = np.clip(_lambert(normals, behind) * F32(1.6), 0.0, 1.0) ** F32(2.0)
        if kind == "backlit":
            other = (-behind[0] or 1.0, behind[1], behind[2])
            graze = np.maximum(graze, np.clip(_lambert(normals, other) * F32(1.6), 0.0, 1.0) ** F32(2.0))
        if m is not None:  # light only wraps round the silhouette
            band = _edge_band(m, s)[..., None]
            graze = graze * _edge_band(m, 3 * s)[..., None]
            graze = np.maximum(graze, band * (ramp if kind == "rim" else F32(1.0))) * a
        rim_col = rgb(0.6, 0.82, 1.0) if kind == "rim" else rgb(1.0, 0.86, 0.62)
        rim = blur(graze, 2 * s) * rim_col
        if kind == "rim":
            base = f * (F32(0.7) + F32(0.3) * a) if m is not None else f * F32(0.85)
            out = screen(base, rim * F32(0.9))
        else:
            glow = radial_glow(
                h,
                w,
                0.5 if side in ("front", "top") else (0.15 if side == "left" else 0.85),
                0.15 if side == "top" else 0.35,
                0.6,
                0.6,
            ) * rgb(1.0, 0.9, 0.75)
            subject = f * F32(0.55)  # the subject falls into shadow
            background = screen(f, glow * F32(0.7))
            out = screen(subject * a + background * (F32(1.0) - a), rim * F32(0.8))
            out = screen(out, blur(out, 16 * s) * F32(0.2))  # flare
    return _done(f, out)
