"""Small pixel helpers the metrics share: a bounded-size array of an image, and a weights-free subject mask.

Every metric works on a copy at most ``side`` pixels on its long side, so a figure costs about the same
at 1024² and 2048² (only the resize grows with the panel).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

MASK_SIDE = 256
FLAT = 4.0  # channel standard deviation under which an image counts as flat


def rgb(image: Image.Image, side: int) -> np.ndarray:
    """``image`` as an RGB uint8 array, shrunk (never enlarged) to at most ``side`` on its long side."""
    image = image.convert("RGB")
    scale = side / max(image.size)
    if scale < 1:
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR
        )
    return np.asarray(image)


def gray(image: Image.Image, side: int) -> np.ndarray:
    return cv2.cvtColor(rgb(image, side), cv2.COLOR_RGB2GRAY)


def subject_mask(image: Image.Image, side: int = MASK_SIDE) -> np.ndarray | None:
    """The subject as a boolean mask at ``rgb(image, side)``'s size: GrabCut started from the centre
    80 % of the frame (no weights). None for a flat image, or when GrabCut finds no plausible subject (under 3 %
    or over 97 % of the frame)."""
    arr = rgb(image, side)
    h, w = arr.shape[:2]
    if min(h, w) < 16 or float(arr.reshape(-1, 3).std(axis=0).max()) < FLAT:
        return None  # a flat image has no subject (and sends GrabCut's colour models into a long search)
    mask = np.zeros((h, w), np.uint8)
    rect = (round(w * 0.1), round(h * 0.1), round(w * 0.8), round(h * 0.8))
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation draws from OpenCV's RNG: the same mask every run
    # a little fixed noise keeps the colour models of few-colour images (flat fills, gradients) from
    # degenerating, which costs GrabCut seconds instead of milliseconds
    jitter = np.random.default_rng(0).integers(-3, 4, arr.shape, dtype=np.int16)
    noisy = np.clip(arr.astype(np.int16) + jitter, 0, 255).astype(np.uint8)
    cv2.grabCut(cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, 3, cv2.GC_INIT_WITH_RECT)
    subject = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    share = float(subject.mean())
    return subject if 0.03 <= share <= 0.97 else None
