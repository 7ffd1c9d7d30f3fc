"""``frame``: a frame around the picture (border, polaroid, film strip, rounded corners), optionally coloured.

A coloured passe-partout/border/mat is a frame by a phrase rule (not glasses or a door frame).
A quoted caption in the same clause ("a white border and the caption 'Summer'") is kept, not dropped:
written in a polaroid's bottom margin, or as a caption bar inside any other frame.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.classic import typography
from seqedit.engines.classic.colors import PROMPT_COLOR_RX
from seqedit.engines.classic.ops.parsing import KindTable, find_colors, first, kinds, quoted
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

KINDS: KindTable = [
    ("polaroid", r"polaroid|instant[- ](?:camera|film|print|photo)|instax|thick white bottom"),
    ("film", r"film[- ]?strip|sprocket|35 ?mm|film (?:frame|border|edges?)|negative"),
    ("rounded", r"rounded|round(?:ed)? corners|corners"),
    ("border", r"border|frame|edge|mat\b|passe-?partout|outline"),
]
_COLORED_FRAME = (
    r"(?:" + PROMPT_COLOR_RX.pattern + r")(?:\s+[\w-]+){0,2}?\s+(?:passe-?partout|mat(?:\s?board)?|mount|"
    r"border|frame)\b"
)
_CAPTIONED = re.compile(
    r"\b(?:caption(?:ed)?|text|title[ds]?|says|saying|reads?|reading|words?|label(?:led)?|headline|written)\b.*"
    r"[\"“'‘«]",
    re.I,
)
_FRAMED_THINGS = r"\b(?:glasses|spectacles|sunglasses|bike|bicycle|door|window|bed|mirror frame|car)\b"


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    p: Params = {"kind": first(KINDS, clause) or "border"}
    colors = find_colors(clause)
    if colors:
        p["color"] = colors[0][1]
    text = quoted(clause) if _CAPTIONED.search(clause) else None
    if text:
        p["caption"] = text
    return p, None, ""


def forms() -> list[Params]:
    colors = (None, "navy blue", "platinum")
    out: list[Params] = [{"kind": kind, **({"color": c} if c else {})} for kind in kinds(KINDS) for c in colors]
    return out + [{"kind": kind, "caption": "Summer 2026"} for kind in ("border", "polaroid")]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    p.img = typography.frame(p.img, params.get("kind", "border"), params.get("color"), params.get("caption"))


register(
    Operation(
        name="frame",
        rank=70,
        verdict="supported",
        schema="kind: 'border'|'polaroid'|'film'|'rounded'; color?: str; caption?: str — a frame around the image "
        "(a quoted caption in the clause is written on it)",
        lexicon=r"border|\bframe (?:it|around)|frame the (?:photo|image|picture|print)|"
        r"(?:a|an|the|white|black|gold|thin|thick|wooden) frame\b(?! (?:from|of|in)\b)|"
        r"polaroid|instant[- ]camera|film[- ]?strip|sprocket|rounded|corners|\bedges?\b|surround",
        prototypes=(
            "add a white polaroid frame",
            "add a thin border",
            "put a wooden picture frame around it",
            "film strip frame",
            "rounded corners",
            "a black frame around the photo",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=110,
        rules=(
            # a coloured frame around the picture: "a black passe-partout", "a thin white border"
            Rule(
                "phrase",
                40,
                lambda t: bool(re.search(_COLORED_FRAME, t, re.I)) and not re.search(_FRAMED_THINGS, t, re.I),
            ),
        ),
    )
)
