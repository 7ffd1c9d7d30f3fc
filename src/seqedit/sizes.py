"""Output sizes: ``W*H``/``WxH`` parsing, the recommended presets, and the default from a reference.

Rounding rule (one rule everywhere, presets included): both sides are multiples of 64, the pixel
count never exceeds the exact target, and among those the aspect ratio closest to the target wins.
Three of the product page's ~0.1 MP "rounded" rows (4:3, 16:9, 21:9) break its own rule by going over
budget; ours follow the rule instead (see README).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from seqedit.errors import RequestError

MIN_SIDE = 64
MAX_SIDE = 8192
STEP = 64
DEFAULT_PIXELS = 1448 * 1448  # "about 2 MP", the product's 1:1 exact preset
SIDE_LIMIT = f"each side {MIN_SIDE}-{MAX_SIDE} px"


@dataclass(frozen=True, order=True)
class Size:
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def __str__(self) -> str:
        return f"{self.width}*{self.height}"


@dataclass(frozen=True)
class Preset:
    name: str  # e.g. "16:9@2mp"
    aspect: str
    tier: str
    exact: Size
    rounded: Size


_SIZE_RE = re.compile(r"^\s*(\d{1,6})\s*[*xX×]\s*(\d{1,6})\s*$")


def parse_size(text: object, field: str = "size") -> Size:
    """Parse ``"W*H"`` (also ``WxH``) or a preset name; each side must lie in 64-8192."""
    if not isinstance(text, str):
        raise RequestError(field, SIDE_LIMIT, f"must be a string like '2048*2048', got {type(text).__name__}")
    preset = PRESETS_BY_NAME.get(text.strip().lower())
    if preset is not None:
        return preset.rounded
    m = _SIZE_RE.match(text)
    if not m:
        raise RequestError(
            field, "format W*H", f"'{text[:40]}' is not of the form W*H (e.g. 2048*2048) or a preset name"
        )
    w, h = int(m.group(1)), int(m.group(2))
    for side, value in (("width", w), ("height", h)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise RequestError(field, SIDE_LIMIT, f"{side} {value} is outside {MIN_SIDE}-{MAX_SIDE}")
    return Size(w, h)


def fit(aspect: float, pixels: int) -> Size:
    """Round the exact ``aspect``/``pixels`` rectangle to multiples of 64 (floor or ceil per side),
    keeping at most ``pixels`` pixels and the closest aspect; sides clamped to 64-8192."""
    aspect = min(max(aspect, MIN_SIDE / MAX_SIDE), MAX_SIDE / MIN_SIDE)
    w_exact = math.sqrt(pixels * aspect)
    h_exact = math.sqrt(pixels / aspect)
    best: tuple[float, int, Size] | None = None
    for w in _around(w_exact):
        for h in _around(h_exact):
            if w * h > pixels and not (w == MIN_SIDE or h == MIN_SIDE):
                continue
            err = abs(math.log((w / h) / aspect))
            key = (round(err, 9), -w * h, Size(w, h))
            if best is None or key < best:
                best = key
    assert best is not None
    return best[2]


def _around(x: float) -> list[int]:
    lo = int(x // STEP) * STEP
    cands = {lo, lo + STEP}  # the two multiples of 64 around the exact side
    return sorted(min(max(c, MIN_SIDE), MAX_SIDE) for c in cands)


def default_size(ref_width: int, ref_height: int, pixels: int = DEFAULT_PIXELS) -> Size:
    """The first reference's aspect ratio at about 2 MP, rounded by the rule above."""
    if ref_width <= 0 or ref_height <= 0:
        return fit(1.0, pixels)
    return fit(ref_width / ref_height, pixels)


def _exact(aw: int, ah: int, pixels: int) -> Size:
    return Size(math.floor(math.sqrt(pixels * aw / ah)), math.floor(math.sqrt(pixels * ah / aw)))


_TIERS = {"2mp": 2_097_152, "1mp": 1_048_576, "0.1mp": 104_857}
_ASPECTS = [(1, 1), (3, 2), (4, 3), (16, 9), (21, 9)]


def _build_presets() -> list[Preset]:
    out = []
    for tier, pixels in _TIERS.items():
        for aw, ah in _ASPECTS:
            exact = _exact(aw, ah, pixels)
            out.append(Preset(f"{aw}:{ah}@{tier}", f"{aw}:{ah}", tier, exact, fit(aw / ah, exact.pixels)))
    return out


PRESETS: list[Preset] = _build_presets()
PRESETS_BY_NAME: dict[str, Preset] = {p.name: p for p in PRESETS}
