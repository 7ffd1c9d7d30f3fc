"""Real photos that ship with scikit-image and matplotlib, as the classic engine's float32 RGB arrays."""

from __future__ import annotations

import os

import cv2
import matplotlib
import numpy as np
from skimage import data

ASTRONAUT_FACE = (170.0, 30.0, 90.0, 110.0)  # x, y, w, h of the face in the 512² astronaut


def as_f32(rgb: np.ndarray, long_side: int | None = 512) -> np.ndarray:
    """uint8 RGB (or grey) → contiguous float32 RGB in [0, 1], shrunk (INTER_AREA) to ``long_side``."""
    h, w = rgb.shape[:2]
    if long_side is not None and max(h, w) > long_side:
        s = long_side / max(h, w)
        rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    return np.ascontiguousarray(rgb[..., :3]).astype(np.float32) / np.float32(255.0)


def astronaut() -> np.ndarray:
    return as_f32(data.astronaut())


def grace_hopper() -> np.ndarray:
    """Grace Hopper (matplotlib's sample data), 437×512."""
    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    return as_f32(cv2.imread(path)[..., ::-1].copy())
