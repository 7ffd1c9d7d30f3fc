"""Engines for ``bench/service.py`` (loaded into the server with ``SEQEDIT_PLUGINS=bench_engines``).

``bench-solid``: instant solid panels (measures the service, not an engine).
``bench-photo``: panels with photo-like entropy (upsampled noise), so JPEG sizes are realistic
(a few MB at 4096², like a photo) for the base64 poll figure.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from seqedit.engines import register


class SolidEngine:
    name = "bench-solid"

    def analyse(self, plan):
        return []

    def check(self, plan, refs=None):
        return []

    def generate(self, plan, refs, progress):
        for k in range(plan.count):
            yield Image.new("RGB", (plan.size.width, plan.size.height), (k * 16 % 256, 80, 160))


class PhotoEngine(SolidEngine):
    name = "bench-photo"

    def generate(self, plan, refs, progress):
        rng = np.random.default_rng(plan.seed)
        for _k in range(plan.count):
            small = Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
            big = small.resize((plan.size.width, plan.size.height), Image.BICUBIC)
            grain = rng.integers(-3, 4, (plan.size.height, plan.size.width, 3), dtype=np.int16)
            yield Image.fromarray(np.clip(np.asarray(big, dtype=np.int16) + grain, 0, 255).astype(np.uint8))


register("bench-solid", SolidEngine)
register("bench-photo", PhotoEngine)
