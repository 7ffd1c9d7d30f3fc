"""``structure``: edge agreement with the reference inside the subject mask, for edits that keep the subject.

Colourways, grades and relighting change colours, not shapes: the panel's edges inside the subject
should be the reference's. The value is the F1 of the two Canny edge maps (thresholds from each image's
median) within a 1-pixel tolerance at 256 pixels, counted inside the subject mask (GrabCut from the
frame's centre, weights-free); higher is better. Null when the panel's edit does not keep the subject,
the panel is framed differently (another aspect ratio), or no subject or too few edges are found.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from seqedit.consistency.context import Context
from seqedit.consistency.figures import Better, Figure, skipped
from seqedit.consistency.pixels import gray, subject_mask

SIDE = 256
MIN_EDGES = 40


def edges(arr: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(arr, (3, 3), 0)
    median = float(np.median(blurred))
    lo, hi = int(max(0, 0.66 * median)), int(min(255, 1.33 * median))
    return cv2.Canny(blurred, lo, max(hi, lo + 1)) > 0


def agreement(panel: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> float | None:
    """F1 of the edge maps inside ``mask`` with a 1-pixel tolerance; None with too few reference edges."""
    kernel = np.ones((3, 3), np.uint8)
    p, r = panel & mask, ref & mask
    if int(r.sum()) < MIN_EDGES:
        return None
    if not p.any():
        return 0.0
    near_r = cv2.dilate(r.astype(np.uint8), kernel) > 0
    near_p = cv2.dilate(p.astype(np.uint8), kernel) > 0
    precision = float((p & near_r).sum()) / float(p.sum())
    recall = float((r & near_p).sum()) / float(r.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


class Structure:
    name = "structure"
    threshold = 0.7
    better: Better = "higher"
    guarded = False
    describes = "edge agreement with the reference inside the subject mask (edits that keep the subject)"

    def applies(self, context: Context, index: int) -> str | None:
        if not context.intents[index].keeps_subject:
            return f"panel {index}'s edit does not keep the subject in place"
        return None

    def _reference(self, context: Context) -> tuple[np.ndarray, np.ndarray | None]:
        ref = context.refs[0]
        return context.cached("structure.ref", lambda: (edges(gray(ref, SIDE)), subject_mask(ref, SIDE)))

    def measure(self, panel: Image.Image, index: int, context: Context) -> Figure:
        if not context.refs:
            return skipped(self, "no reference image")
        ref = context.refs[0]
        if abs(panel.width / panel.height - ref.width / ref.height) > 0.02 * (ref.width / ref.height):
            return skipped(self, f"panel {index} is framed differently from the reference (another aspect ratio)")
        ref_edges, mask = self._reference(context)
        if mask is None:
            return skipped(self, "no subject found in the reference")
        arr = cv2.resize(gray(panel, SIDE), (ref_edges.shape[1], ref_edges.shape[0]), interpolation=cv2.INTER_AREA)
        value = agreement(edges(arr), ref_edges, mask)
        if value is None:
            return skipped(self, "too few edges inside the reference's subject")
        return Figure(self.name, value, self.threshold, self.better)
