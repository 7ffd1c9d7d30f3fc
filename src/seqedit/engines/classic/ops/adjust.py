"""``adjust``: the basic photo adjustments: brightness, contrast, saturation, exposure, white balance.

One clause names one adjustment and its direction ("make it brighter", "less contrast", "boost the
saturation", "it is underexposed", "fix the white balance"); "a bit"/"slightly" halves the amount,
"much"/"a lot" makes it 1.5×. A clause may limit it to a region ("brighten her face", "darken the
background", "brighten the cup <bbox>…</bbox>"): the op is ``located`` (``regions.py``), a region with no
mask is refused. Brightness, contrast, saturation and exposure are ``supported`` (a
global tone curve, exactly what they say); white balance is ``approximate``: a grey-world estimate of
the cast, which a scene that really is one colour (a sunset, a red wall) fools.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from seqedit.engines.classic.ops.parsing import KindTable, first, kinds
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register
from seqedit.engines.classic.regions import apply_within

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

KINDS: KindTable = [
    ("white_balance", r"white[- ]balance|\bcast\b|\bneutrali[sz]e the colou?rs?|\bwb\b"),
    ("exposure", r"expos(?:e|ure|ed)|\bstops?\b"),
    ("saturation", r"saturat|vivid|vibran|colou?rful|\bmuted\b|colou?rs? pop|\bpop more\b"),
    ("contrast", r"contrast|punch(?:y|ier)|\bflat(?:ter)?\b"),
    ("brightness", r"bright|\bdark|\blighten|\bdim(?:mer)?\b"),
]
_DOWN = re.compile(
    r"\b(?:less|lower|lower(?:ing)?|reduce[sd]?|reducing|decrease[sd]?|decreasing|drop|tone down|turn down|"
    r"down the|cut|not so|too (?:bright|punchy|contrasty|saturated|vivid|colou?rful)|overexposed|over-exposed|"
    r"darker|darken\w*|dimmer|\bdim\b|underexpose\b|muted|flatter)\b",
    re.I,
)
_TOO_DARK = re.compile(r"too (?:dark|dim|flat|dull|muted)|underexposed|under-exposed", re.I)
_SMALL = re.compile(r"\b(?:a (?:bit|little|touch|tad)|slightly|subtly|a little bit|somewhat|gently)\b", re.I)
_LARGE = re.compile(r"\b(?:much|a lot|way|very|really|strongly|significantly|heavily)\b", re.I)

_THING = r"(?:it|this|everything|(?:the |this |my )?(?:whole )?(?:photo|image|picture|pic|shot|scene|frame))"
# regions a tonal edit may be limited to (targets.py decides which have a mask)
_REGION = r"(?:face|faces|skin|hair|background|backdrop|sky|subject|person|clothes|dress|shirt|jacket|coat|[a-z]{3,})"
_ADJ = r"(?:brightness|contrast|saturation|exposure|white[- ]balance|vibrance)"
_NAMED = re.compile(
    r"\b(?:increase|boost|raise|lower|reduce|decrease|bump(?: up)?|up|more|less|add|adjust|fix|correct|"
    r"turn (?:up|down)|tone down|crank(?: up)?|pump(?: up)?|push|improve|balance|auto|higher|lower)\s+"
    r"(?:the |some |a (?:bit|little) (?:of )?(?:the )?|its )?" + _ADJ + r"\b|"
    r"\b(?:make|get|render)s? " + _THING + r" (?:(?:a )?(?:bit|little|touch|lot|much|slightly|way) )?"
    r"(?:brighter|darker|lighter|dimmer|punchier|more (?:contrast\w*|saturated|vivid|vibrant|colou?rful|exposed)|"
    r"less (?:contrast\w*|saturated|vivid|vibrant|colou?rful|bright|dark))\b|"
    r"\b(?:brighten|darken|lighten)(?: up)? " + _THING + r"\b|"
    r"\b(?:brighten|darken|lighten|dim)(?: up)? (?:the|her|his|their|its|this) (?:[\w-]+ ){0,2}?" + _REGION + r"\b|"
    r"\b(?:make|get) (?:the|her|his|their|its|this) (?:[\w-]+ ){0,2}?" + _REGION + r" (?:(?:a )?(?:bit|little|touch|"
    r"lot|much|slightly|way) )?(?:brighter|darker|lighter|dimmer|more saturated|less saturated|more vivid)\b|"
    r"\b(?:over|under)-?exposed\b|\bwhite[- ]balance\b|"
    r"\b(?:remove|fix|correct|neutrali[sz]e) (?:the |a |that )?(?:\w+ )?(?:colou?r )?cast\b|"
    r"^\s*(?:(?:a )?(?:bit|little|touch|lot|much|slightly|way) )?(?:brighter|darker|punchier|more contrast|"
    r"more saturat\w*|brighten(?: it)?(?: up)?|darken(?: it)?)\s*$",
    re.I,
)
_LOOKISH = re.compile(r"black[- ]and[- ]white|monochrom|gr[ae]yscale|\bnoir\b|midday|\bnoon\b|cartoon", re.I)
AMOUNT = {"brightness": 0.35, "contrast": 0.35, "saturation": 0.45, "exposure": 0.8}  # per unit strength
STRENGTHS = (0.5, 1.0, 1.5)


def _luma(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def adjust(img: np.ndarray, kind: str, direction: int, strength: float = 1.0) -> np.ndarray:
    """``img`` with one adjustment applied (direction +1 more / −1 less), clipped to [0, 1]."""
    f = img.astype(np.float32, copy=False)
    a = AMOUNT.get(kind, 0.0) * strength * direction
    if kind == "brightness":  # a gamma curve: mid-tones move, black and white stay
        out = np.power(np.clip(f, 0.0, 1.0), np.float32(1.0 / (1.0 + a) if a >= 0 else 1.0 - a))
    elif kind == "contrast":  # stretch around the mean luminance
        m = float(_luma(f).mean())
        out = (f - m) * np.float32(1.0 + a) + m
    elif kind == "saturation":  # away from (or toward) each pixel's grey
        y = _luma(f)[..., None]
        out = y + (f - y) * np.float32(1.0 + a)
    elif kind == "exposure":  # ± stops in (approximately) linear light
        lin = np.power(np.clip(f, 0.0, 1.0), np.float32(2.2)) * np.float32(2.0**a)
        out = np.power(np.clip(lin, 0.0, 1.0), np.float32(1 / 2.2))
    elif kind == "white_balance":  # grey world: scale each channel so the mean is neutral
        means = f.reshape(-1, 3).mean(axis=0) + 1e-6
        out = f * (np.float32(means.mean()) / means).astype(np.float32)
    else:
        raise ValueError(f"unknown adjustment {kind!r}")
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    kind = first(KINDS, clause)
    if kind is None:
        return {}, UNRESOLVED, "no adjustment (brightness, contrast, saturation, exposure, white balance) named"
    strength = 0.5 if _SMALL.search(clause) else 1.5 if _LARGE.search(clause) else 1.0
    p: Params = {"adjust": kind}
    if kind == "white_balance":
        return p, "approximate", "white balance by a grey-world estimate of the colour cast"
    down = bool(_DOWN.search(clause)) and not _TOO_DARK.search(clause)
    p.update(direction=-1 if down else 1, strength=strength)
    return p, None, ""


def forms() -> list[Params]:
    out: list[Params] = [{"adjust": "white_balance"}]
    out += [
        {"adjust": "brightness", "direction": 1, "strength": 1.0, "target": t, "part": t}
        for t in ("face", "background")
    ]
    out.append(
        {
            "adjust": "brightness",
            "direction": -1,
            "strength": 1.0,
            "target": "located",
            "part": "it",
            "where": ("bbox", (80.0, 560.0, 920.0, 980.0)),
        }
    )
    for kind in kinds(KINDS)[1:]:
        out += [{"adjust": kind, "direction": d, "strength": s} for d in (1, -1) for s in STRENGTHS]
    return out


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    kind = params.get("adjust", "brightness")
    done = adjust(p.img, kind, int(params.get("direction", 1)), float(params.get("strength", 1.0)))
    apply_within(p, done, params, f"adjust the {kind.replace('_', ' ')} of")


register(
    Operation(
        name="adjust",
        verdict="supported",
        schema="adjust: 'brightness'|'contrast'|'saturation'|'exposure'|'white_balance'; direction: 1|-1; "
        "strength: 0.5|1|1.5 — a global tone adjustment (white balance is approximate: grey world)",
        lexicon=r"\bbrightness\b|\bexposure\b|white[- ]balance|\bsaturation\b|\bbrighten\b|\bbrighter\b",
        prototypes=(
            "brighter",
            "more saturation",
            "underexposed",
            "white balance",
            "less brightness",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=72,  # after the look grade (70), before the style (80)
        rank=1010,
        located=True,
        rules=(Rule("hard", 45, lambda t: bool(_NAMED.search(t)) and not _LOOKISH.search(t)),),
    )
)
