"""``product``: ORB keypoint matches of each panel against the reference's product region.

The region is the first ``<bbox>`` of the prompt (0–1000 of the first reference) when there is one, else
the bounding box of the reference's subject mask, else the whole reference. ORB (OpenCV, no weights)
finds up to 1000 keypoints on each at most 512 pixels long; matches pass Lowe's ratio test (0.75) and
then a RANSAC homography; the value is the number of inliers, higher is better. Applies when the
instruction names a product or logo (logo, brand, label, product, packaging, …) or marks a region.
"""

from __future__ import annotations

import re
from typing import Any

import cv2
import numpy as np
from PIL import Image

from seqedit.consistency.context import Context
from seqedit.consistency.figures import Better, Figure, skipped
from seqedit.consistency.pixels import MASK_SIDE, gray, subject_mask

SIDE = 512
MIN_KEYPOINTS = 20
BBOX = re.compile(r"<\s*bbox\s*>\s*(\d+\s+\d+\s+\d+\s+\d+)\s*<\s*/\s*bbox\s*>", re.I)


def region(context: Context) -> tuple[int, int, int, int]:
    """The product's box in the first reference's pixels."""
    ref = context.refs[0]
    found = BBOX.search(context.plan.prompt)
    if found:
        x1, y1, x2, y2 = (int(v) for v in found.group(1).split())
        box = (x1 * ref.width // 1000, y1 * ref.height // 1000, x2 * ref.width // 1000, y2 * ref.height // 1000)
        if box[2] > box[0] and box[3] > box[1]:
            return box
    mask = subject_mask(ref, MASK_SIDE)
    if mask is not None:
        ys, xs = np.nonzero(mask)
        s = max(ref.size) / max(mask.shape)
        return (int(xs.min() * s), int(ys.min() * s), int((xs.max() + 1) * s), int((ys.max() + 1) * s))
    return (0, 0, ref.width, ref.height)


_cv: Any = cv2  # OpenCV's stubs type ORB's results too narrowly for this use

Features = tuple[list[Any], np.ndarray | None]  # keypoints, descriptors


def features(arr: np.ndarray) -> Features:
    kps, desc = _cv.ORB_create(nfeatures=1000).detectAndCompute(arr, None)
    return list(kps), desc


def inliers(a: Features, b: Features) -> int:
    (ka, da), (kb, db) = a, b
    if da is None or db is None or len(ka) < 2 or len(kb) < 2:
        return 0
    pairs = _cv.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < 4:  # a homography needs four
        return 0
    src = np.asarray([ka[m.queryIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    dst = np.asarray([kb[m.trainIdx].pt for m in good], dtype=np.float32).reshape(-1, 1, 2)
    _, mask = _cv.findHomography(src, dst, cv2.RANSAC, 5.0)
    return 0 if mask is None else int(mask.sum())


class Product:
    name = "product"
    threshold = 12.0
    better: Better = "higher"
    guarded = True
    describes = "ORB keypoint matches (RANSAC inliers) against the reference's product region"

    def applies(self, context: Context, index: int) -> str | None:
        if not context.product:
            return "the instruction names no product or logo"
        return None

    def _reference(self, context: Context) -> Features:
        def make() -> Features:
            return features(gray(context.refs[0].crop(region(context)), SIDE))

        return context.cached("product.ref", make)

    def measure(self, panel: Image.Image, index: int, context: Context) -> Figure:
        if not context.refs:
            return skipped(self, "no reference image")
        ref = self._reference(context)
        if len(ref[0]) < MIN_KEYPOINTS:
            return skipped(self, f"the reference's product region has too little texture ({len(ref[0])} keypoints)")
        return Figure(self.name, float(inliers(ref, features(gray(panel, SIDE)))), self.threshold, self.better)
