"""``lighting``: a pseudo-3D relight (soft, dramatic, rim, studio, backlit; from the left/right/top).

Always ``approximate``: the light is painted over the picture using the subject mask, the scene is
not re-rendered. A clause that reads like lighting but names no kind is soft light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqedit.engines.classic import looks
from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first, kinds
from seqedit.engines.classic.ops.registry import Operation, Params, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

KINDS: KindTable = [
    ("rim", r"\brim\b|edge[- ]light|halo|outline glow|kicker"),
    ("backlit", r"backlit|back-?light|from behind|silhouett|contre-?jour"),
    ("studio", r"studio light|softbox|three[- ]point|key light|beauty dish"),
    (
        "dramatic",
        r"dramatic|chiaroscuro|hard light|harsh|spotlight|candle|rembrandt|moody light|single (?:lamp|bulb)|"
        r"deep shadows|strong (?:shadows?|light)",
    ),
    ("soft", r"\bsoft|diffuse|window|gentle|even light|overcast|flattering"),
]
SIDES: KindTable = [("left", r"\bleft\b"), ("right", r"\bright\b"), ("top", r"\babove\b|\boverhead\b|\btop\b")]


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    p: Params = {"kind": first(KINDS, clause) or "soft"}
    side = first(SIDES, clause)
    if side:
        p["side"] = side
    return p, None, "pseudo-3D relight"


def forms() -> list[Params]:
    return [{"kind": k, **({"side": s} if s else {})} for k in kinds(KINDS) for s in (None, *kinds(SIDES))]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    subject = p.ref.masks.subject()
    p.img = looks.relight(
        p.img, params.get("kind", "soft"), params.get("side", "left"), subject.mask if subject.usable else None
    )


register(
    Operation(
        name="lighting",
        rank=50,
        verdict="approximate",
        schema="kind: 'soft'|'dramatic'|'rim'|'studio'|'backlit'; side?: 'left'|'right'|'top' — relight",
        lexicon=r"lighting|\blit\b|\blight(?:s|ed)?\b|illuminat|lamp|relight|shadow|glow|" + alternatives(KINDS[:4]),
        prototypes=(
            "relight the portrait from the left",
            "add a blue rim light",
            "dramatic studio lighting",
            "soft window light on her face",
            "backlit by the sun",
            "a spotlight from above",
            "light the face with a softbox",
            "moody low-key lighting with hard shadows",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=40,
    )
)
