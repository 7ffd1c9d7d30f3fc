"""Test images and metrics for the mask / colour / recolour / background tests (all ≤ 512 px, offline).

Real photos ship inside scikit-image and matplotlib; the products are drawn here with PIL + numpy.
"""

from __future__ import annotations

import os
from functools import cache

import cv2
import matplotlib
import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFilter

SAMPLE_DATA = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data")
BG = (246, 246, 244)


def f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32) / np.float32(255.0)


@cache
def _astronaut() -> np.ndarray:
    return f32(skimage.data.astronaut())


def astronaut() -> np.ndarray:
    return _astronaut().copy()


def coffee() -> np.ndarray:
    return f32(skimage.data.coffee())


def chelsea() -> np.ndarray:
    return f32(skimage.data.chelsea())


def grace_hopper() -> np.ndarray:
    im = Image.open(os.path.join(SAMPLE_DATA, "grace_hopper.jpg")).convert("RGB")
    im = im.resize((427, 500), Image.Resampling.LANCZOS)
    return f32(np.asarray(im))


def present_rgba() -> Image.Image:
    """Minduka's gift-box clip-art, 128 px RGBA (transparent background)."""
    return Image.open(os.path.join(SAMPLE_DATA, "Minduka_Present_Blue_Pack.png")).convert("RGBA")


def shoe(
    width: int = 384,
    upper: tuple[int, int, int] = (196, 40, 52),
    sole: tuple[int, int, int] = (58, 58, 62),
    logo: tuple[int, int, int] = (245, 245, 245),
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A shoe-like product on an off-white backdrop: textured upper with stitching, a darker sole band and
    a contrasting logo stripe. Returns (image float32, {'subject', 'upper', 'sole', 'logo'} bool truths)."""
    s = width / 384
    height = int(round(256 * s))

    def P(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * s, y * s) for x, y in pts]

    upper_poly = P(
        [
            (40, 190),
            (48, 150),
            (70, 120),
            (120, 105),
            (165, 70),
            (215, 60),
            (240, 85),
            (265, 110),
            (320, 130),
            (350, 150),
            (358, 190),
        ]
    )
    sole_box = P([(34, 186), (362, 214)])
    logo_poly = P([(95, 170), (180, 150), (270, 126), (278, 133), (200, 168), (110, 182)])

    def layer(draw_fn) -> np.ndarray:
        m = Image.new("L", (width, height), 0)
        draw_fn(ImageDraw.Draw(m))
        return np.asarray(m) > 0

    im = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(im)
    d.polygon(upper_poly, fill=upper)
    d.rounded_rectangle(sole_box[0] + sole_box[1], radius=10 * s, fill=sole)
    d.polygon(logo_poly, fill=logo)
    for k in range(3):  # stitching
        d.line(
            P([(175 + 10 * k, 80), (230 + 10 * k, 150)]),
            fill=tuple(int(c * 0.7) for c in upper),
            width=max(1, int(2 * s)),
        )
    im = im.filter(ImageFilter.GaussianBlur(0.6 * s))
    a = f32(np.asarray(im))
    rng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    obj = (np.abs(a - np.float32(BG) / 255).sum(2) > 0.05)[..., None]
    shade = (1.1 - 0.3 * yy) * (1 + 0.04 * rng.standard_normal((height, width, 1)).astype(np.float32))
    img = np.clip(np.where(obj, a * shade, a), 0, 1).astype(np.float32)

    sole_t = layer(lambda dd: dd.rounded_rectangle(sole_box[0] + sole_box[1], radius=10 * s, fill=255))
    logo_t = layer(lambda dd: dd.polygon(logo_poly, fill=255)) & ~sole_t
    upper_t = layer(lambda dd: dd.polygon(upper_poly, fill=255)) & ~sole_t & ~logo_t
    return img, {"subject": upper_t | sole_t | logo_t, "upper": upper_t, "sole": sole_t, "logo": logo_t}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return float((a & b).sum() / max(1, (a | b).sum()))


def erode(m: np.ndarray, px: int) -> np.ndarray:
    return cv2.erode(m.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def mean_lab(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2Lab)[mask.astype(bool)].mean(0)


def lab_of(rgb: tuple[float, float, float]) -> np.ndarray:
    return cv2.cvtColor(np.float32(rgb).reshape(1, 1, 3), cv2.COLOR_RGB2Lab).reshape(3)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def edge_agreement(a: np.ndarray, b: np.ndarray, mask: np.ndarray, tol: int = 2) -> float:
    """F1 of Canny edges inside ``mask`` with ``tol`` px slack. Each image's lightness is standardised
    inside the mask first, so a recolour that changes overall contrast (white, navy) is judged on where
    its edges are, not on how strong they are."""
    m = mask.astype(bool)

    def edges(img: np.ndarray) -> np.ndarray:
        L = cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2Lab)[..., 0]
        z = (L - L[m].mean()) / (L[m].std() + 1e-6)
        g = np.clip(128 + 40 * z, 0, 255).astype(np.uint8)
        return (cv2.Canny(g, 60, 150) > 0) & m

    ea, eb = edges(a), edges(b)
    if ea.sum() == 0 or eb.sum() == 0:
        return 0.0
    k = np.ones((2 * tol + 1, 2 * tol + 1), np.uint8)
    da, db = cv2.dilate(ea.astype(np.uint8), k) > 0, cv2.dilate(eb.astype(np.uint8), k) > 0
    precision = (eb & da).sum() / eb.sum()
    recall = (ea & db).sum() / ea.sum()
    return float(2 * precision * recall / max(precision + recall, 1e-9))
