"""Conversions between PIL images and the classic engine's float32 arrays, and resampling."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

WORK_PIXELS = 4_000_000  # the engine works at ≤ 4 MP and resamples to the requested size at the end


def to_float(im: Image.Image) -> np.ndarray:
    """RGB float32 H×W×3 in [0, 1] (alpha composited over white)."""
    if im.mode == "RGBA":
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.getchannel("A"))
        im = bg
    elif im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.float32) / np.float32(255.0)


def to_uint8(arr: np.ndarray) -> np.ndarray:
    return (np.clip(arr, 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)


def to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(to_uint8(arr), "RGB")


def resize(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if (w, h) == (width, height):
        return arr
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_CUBIC
    out = cv2.resize(arr, (width, height), interpolation=interp)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def work_scale(width: int, height: int, max_pixels: int = WORK_PIXELS) -> float:
    """Scale factor (≤ 1) that brings width×height under ``max_pixels``."""
    pixels = width * height
    return 1.0 if pixels <= max_pixels else (max_pixels / pixels) ** 0.5
