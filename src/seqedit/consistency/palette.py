"""``palette`` and ``palette_ref``: Lab colour-histogram distance (Bhattacharyya, 0 same … 1 disjoint).

``palette`` compares each panel with panel 1, the set's baseline, where the two are meant to share a
look (not a colourway whose panels differ on purpose). ``palette_ref`` compares each panel with the
first reference, only for "same look" sets (no panel changes colour or style on purpose). Histograms
are 8×12×12 bins of L*, a*, b* over a copy at most 256 pixels long.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from seqedit.consistency.context import Context
from seqedit.consistency.figures import Better, Figure, skipped
from seqedit.consistency.pixels import rgb

SIDE = 256
BINS = [8, 12, 12]


def histogram(image: Image.Image) -> np.ndarray:
    lab = cv2.cvtColor(rgb(image, SIDE), cv2.COLOR_RGB2LAB)
    hist = cv2.calcHist([lab], [0, 1, 2], None, BINS, [0, 256, 0, 256, 0, 256])
    return cv2.normalize(hist, hist, norm_type=cv2.NORM_L1).astype(np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(min(1.0, max(0.0, cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))))


class Palette:
    name = "palette"
    threshold = 0.5
    better: Better = "lower"
    guarded = False
    describes = "Lab colour-histogram distance of each panel to panel 1 (panels meant to share a look)"

    def applies(self, context: Context, index: int) -> str | None:
        if index == 1:
            return "panel 1 is the set's palette"
        mine, first = context.intents[index], context.intents[1]
        changes = mine.colour or mine.style or first.colour or first.style
        if changes and context.plan.panels[index - 1].text != context.plan.panels[0].text:
            return f"panel {index} changes colour or style on purpose"
        return None

    def measure(self, panel: Image.Image, index: int, context: Context) -> Figure:
        if context.first is None:
            return skipped(self, "panel 1 was not measured")
        base = context.cached("palette.first", lambda: histogram(context.first))  # type: ignore[arg-type]
        return Figure(self.name, distance(histogram(panel), base), self.threshold, self.better)


class PaletteRef:
    name = "palette_ref"
    threshold = 0.5
    better: Better = "lower"
    guarded = False
    describes = "Lab colour-histogram distance of each panel to the reference (same-look sets only)"

    def applies(self, context: Context, index: int) -> str | None:
        if not context.same_look:
            return "the set changes colour or style on purpose"
        return None

    def measure(self, panel: Image.Image, index: int, context: Context) -> Figure:
        if not context.refs:
            return skipped(self, "no reference image")
        base = context.cached("palette.ref", lambda: histogram(context.refs[0]))
        return Figure(self.name, distance(histogram(panel), base), self.threshold, self.better)
