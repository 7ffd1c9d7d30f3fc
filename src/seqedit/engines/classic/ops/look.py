"""``look``: a colour grade (cyberpunk, golden hour, noir, vintage, cold, warm, black and white).

A strong look name elsewhere in a clause adds a look companion ("cyberpunk-style city" → look +
background). A look is a renderable setting for a story clause (see ``router/policy.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.classic import looks
from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first, kinds
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

LOOKS: KindTable = [
    ("cyberpunk", r"cyber-?punk|neon|blade runner|synthwave|vaporwave|futuristic glow"),
    ("golden_hour", r"golden[- ]hour|golden (?:glow|light|sun)"),
    ("noir", r"\bnoir\b|detective|1940s|forties|hard[- ]boiled"),
    (
        "bw",
        r"black[- ]and[- ]white|\bb\s*&\s*w\b|\bb/w\b|monochrom|gr[ae]yscale|desaturat|"
        r"(?:drain|strip|remov|suck|tak)\w* (?:\w+ ){0,2}colou?rs?\b(?! (?:of|from) the)|"
        r"colou?rless|no colou?r|without colou?r|silver gelatin",
    ),
    (
        "vintage",
        r"vintage|retro|kodak|film stock|analog(?:ue)?|old film|sepia|faded|70s|seventies|80s|eighties|"
        r"lomo|expired film|old photo|yellowed|nostalgi|snapshot|aged photo",
    ),
    (
        "cold",
        r"\bcold\b|\bcool(?:er)? (?:tones?|colou?rs?|grade|look|blue|palette|cast)|icy|wintry|winter|frosty|"
        r"blue tones?|teal tones?|chilly",
    ),
    ("warm", r"\bwarm|honey|amber|cozy|cosy|sun-?kissed|toasty"),
]
_COMPANION = re.compile(
    r"cyber-?punk|\bneon\b|\bnoir\b|golden[- ]hour|vintage|retro|black[- ]and[- ]white|monochrome|sepia",
    re.I,
)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    grade = first(LOOKS, clause)
    if grade is None:
        return {}, UNRESOLVED, "no known colour grade named"
    return {"look": grade}, None, ""


def forms() -> list[Params]:
    return [{"look": k} for k in kinds(LOOKS)]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    p.img = looks.apply_look(p.img, params.get("look", "warm"), plan.seed, snow=bool(params.get("snow")))


register(
    Operation(
        name="look",
        rank=30,
        verdict="supported",
        schema="look: 'cyberpunk'|'golden_hour'|'noir'|'vintage'|'cold'|'warm'|'bw' — a colour grade",
        lexicon=alternatives(LOOKS) + r"|grade|grading|\blook\b(?! like)|filter|\bmood|\bvibe|tones?\b|feel\b",
        prototypes=(
            "give it a cyberpunk neon colour grade",
            "vintage film look",
            "film noir mood",
            "warm golden hour tones",
            "cold blue winter colour grading",
            "make it black and white",
            "a retro faded film filter",
            "moody cinematic colour grade",
            "warm cozy colour tones",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=70,
        story_setting=True,
        rules=(Rule("companion", 10, lambda t: bool(_COMPANION.search(t))),),
    )
)
