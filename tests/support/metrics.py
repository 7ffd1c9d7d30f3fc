"""Offline consistency metrics used by the tests (and bench): palette, structure, colour accuracy.

* palette_distance: Bhattacharyya distance between a*b* histograms (0 = same palette, 1 = disjoint).
  classic.md measured 0.07-0.19 for consistent sets and ~0.8 for deliberately different grades.
* edge_agreement: F1 of Canny edges (3 px tolerance) inside a mask — structure kept by a recolour.
* mean_lab / delta_e: how close a region's mean colour is to a named target.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab


def as_rgb(im: Image.Image | np.ndarray) -> np.ndarray:
    arr = np.asarray(im.convert("RGB") if isinstance(im, Image.Image) else im)
    return arr.astype(np.uint8) if arr.dtype != np.uint8 else arr


def palette_distance(a, b, bins: int = 32) -> float:
    def hist(x: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(cv2.resize(as_rgb(x), (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2LAB)
        h = cv2.calcHist([lab], [1, 2], None, [bins, bins], [0, 256, 0, 256])
        return cv2.normalize(h, h, 1.0, 0.0, cv2.NORM_L1)

    return float(cv2.compareHist(hist(a), hist(b), cv2.HISTCMP_BHATTACHARYYA))


def max_pairwise_palette_distance(images) -> float:
    return max(palette_distance(a, b) for i, a in enumerate(images) for b in images[i + 1 :])


def edge_agreement(a, b, mask: np.ndarray | None = None, tol: int = 3) -> float:
    ga = cv2.cvtColor(as_rgb(a), cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(as_rgb(b), cv2.COLOR_RGB2GRAY)
    if gb.shape != ga.shape:
        gb = cv2.resize(gb, ga.shape[::-1], interpolation=cv2.INTER_AREA)
    ea, eb = cv2.Canny(ga, 50, 150) > 0, cv2.Canny(gb, 50, 150) > 0
    if mask is not None:
        m = cv2.resize(mask.astype(np.uint8), ga.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        ea, eb = ea & m, eb & m
    k = np.ones((2 * tol + 1, 2 * tol + 1), np.uint8)
    da, db = cv2.dilate(ea.astype(np.uint8), k) > 0, cv2.dilate(eb.astype(np.uint8), k) > 0
    if ea.sum() == 0 or eb.sum() == 0:
        return 0.0
    precision = (eb & da).sum() / eb.sum()
    recall = (ea & db).sum() / ea.sum()
    return float(2 * precision * recall / max(precision + recall, 1e-9))


def mean_lab(im, mask: np.ndarray) -> np.ndarray:
    rgb = as_rgb(im).astype(np.float32) / 255.0
    m = mask.astype(bool)
    if m.shape != rgb.shape[:2]:
        m = cv2.resize(m.astype(np.uint8), rgb.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    return rgb2lab(rgb[m][None, :, :]).reshape(-1, 3).mean(axis=0)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> float:
    return float(deltaE_ciede2000(np.asarray(lab1)[None], np.asarray(lab2)[None])[0])


def rgb_to_lab(rgb: tuple[float, float, float]) -> np.ndarray:
    return rgb2lab(np.asarray(rgb, np.float32).reshape(1, 1, 3)).reshape(3)
