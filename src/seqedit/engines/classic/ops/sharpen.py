"""``sharpen``: sharpen (unsharp mask) or denoise (non-local means) the whole picture.

"Sharpen it", "make it crisper", "a bit sharper", "reduce the noise", "denoise", "remove the grain".
Both are ``supported``: they do what they say to the pixels there are. Neither invents detail: a
blurred photo sharpened has crisper edges, not the detail it lost (the schema says so). A clause that
limits it to a region ("sharpen her face", "denoise the sky") is refused: it is not ``located``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import cv2
import numpy as np

from seqedit.engines.classic.arrays import to_uint8
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register
from seqedit.engines.classic.targets import find_target

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

_THING = r"(?:it|this|everything|(?:the |this |my )?(?:whole )?(?:photo|image|picture|pic|shot|frame))"
_DENOISE = (
    r"de-?nois\w*|\bnoise[- ]reduction|(?:reduce|remove|clean(?: up)?|get rid of|cut|less|lower|fix|kill)"
    r" (?:the |some |all the |that )?(?:digital |image |high[- ]iso |film )?(?:noise|grain)\b|"
    r"less (?:noisy|grainy)|\b(?:too )?(?:noisy|grainy)\b"
)
_SHARPEN = (
    r"\bsharpen\w*|\b(?:make|get)s? " + _THING + r" (?:(?:a )?(?:bit|little|touch|lot|much) )?(?:sharper|crisper)\b|"
    r"^\s*(?:(?:a )?(?:bit|little|touch|lot|much) )?(?:sharper|crisper)\s*$|\bcrispen\b|unsharp mask"
)
_NAMED = re.compile(_DENOISE + "|" + _SHARPEN, re.I)
_SMALL = re.compile(r"\b(?:a (?:bit|little|touch|tad)|slightly|subtly|gently)\b", re.I)
_LARGE = re.compile(r"\b(?:much|a lot|very|really|strongly|heavily)\b", re.I)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    kind = "denoise" if re.search(_DENOISE, clause, re.I) else "sharpen"
    strength = 0.5 if _SMALL.search(clause) else 1.5 if _LARGE.search(clause) else 1.0
    target = find_target(clause)
    if target.kind == "named" or (target.kind == "mask" and target.mask != "object"):
        # it works on the whole picture: "sharpen her face" sharpened everywhere is the wrong region
        return (
            {"kind": kind, "strength": strength},
            "unsupported",
            f"{kind} works on the whole picture only, not on {target.words}",
        )
    return {"kind": kind, "strength": strength}, None, ""


def sharpen(img: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Unsharp mask: ``img`` + amount × (``img`` − blur)."""
    f = img.astype(np.float32, copy=False)
    blur = cv2.GaussianBlur(f, (0, 0), 1.2)
    return np.clip(f + np.float32(0.9 * strength) * (f - blur), 0.0, 1.0).astype(np.float32, copy=False)


def denoise(img: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Non-local means on the 8-bit picture (colour and luminance noise)."""
    h = 4.0 + 4.0 * strength
    out = cv2.fastNlMeansDenoisingColored(to_uint8(img), None, h, h, 7, 21)
    return out.astype(np.float32) / np.float32(255.0)


def forms() -> list[Params]:
    return [{"kind": k, "strength": s} for k in ("sharpen", "denoise") for s in (0.5, 1.0, 1.5)]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    s = float(params.get("strength", 1.0))
    p.img = denoise(p.img, s) if params.get("kind") == "denoise" else sharpen(p.img, s)


register(
    Operation(
        name="sharpen",
        verdict="supported",
        schema="kind: 'sharpen'|'denoise'; strength: 0.5|1|1.5 — unsharp mask or non-local-means denoise "
        "(neither recovers detail that is not there)",
        lexicon=r"\bsharpen|de-?nois|\bnoise\b|\bgrain(?:y)?\b|crisper",
        prototypes=("sharpen", "crisper", "less noise", "denoise"),
        parse=parse,
        forms=forms,
        render=render,
        order=85,  # after the style (80), before the cover (90) and any text
        rank=1030,
        rules=(Rule("hard", 47, lambda t: bool(_NAMED.search(t))),),
    )
)
