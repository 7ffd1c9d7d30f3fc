"""``look``: a colour grade (cyberpunk, golden hour, noir, vintage, cold, warm, black and white, muted).

"Desaturate" is graded by how much it asks for: "desaturate it slightly", "slightly desaturated",
"desaturate a little" are a mild chroma reduction (``muted``, strength 0.5 → chroma × 0.78), a plain
"desaturate" a clear one (× 0.55), "desaturate heavily" a strong one (× 0.33); only "desaturate
completely / fully / to greyscale" is black and white. Any clause naming "desaturat" is a look by a
phrase rule (the similarity model confused "slightly desaturated" with sharpening).

A strong look name elsewhere in a clause adds a look companion ("cyberpunk-style city" → look +
background). A look is a renderable setting for a story clause (see ``router/policy.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.classic import looks
from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first, kinds
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register
from seqedit.engines.classic.regions import apply_within

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

# "desaturate" that asks for all of the colour to go: black and white
_FULL_DESATURATION = (
    r"(?:complete(?:ly)?|full(?:y)?|entire(?:ly)?|total(?:ly)?|all the way|100 ?%)\W+(?:\w+\W+){0,3}desaturat|"
    r"desaturat\w*\W+(?:\w+\W+){0,4}(?:complete(?:ly)?|full(?:y)?|entire(?:ly)?|total(?:ly)?|all the way|"
    r"100 ?%|to (?:gr[ae]y|black))"
)
_DESATURATE = re.compile(r"\bdesaturat", re.I)
_SMALL = re.compile(
    r"\b(?:a (?:bit|little|touch|tad)|slight(?:ly)?|subtl[ey]|a little bit|somewhat|gentl[ey]|mild(?:ly)?|"
    r"lightly|softly|a hint)\b",
    re.I,
)
_LARGE = re.compile(r"\b(?:much|a lot|heavily|strongly|very|really|significantly|mostly|almost)\b", re.I)
MUTED_STRENGTHS = (0.5, 1.0, 1.5)

LOOKS: KindTable = [
    ("cyberpunk", r"cyber-?punk|neon|blade runner|synthwave|vaporwave|futuristic glow"),
    ("golden_hour", r"golden[- ]hour|golden (?:glow|light|sun)"),
    ("noir", r"\bnoir\b|detective|1940s|forties|hard[- ]boiled"),
    (
        "bw",
        r"black[- ]and[- ]white|\bb\s*&\s*w\b|\bb/w\b|monochrom|gr[ae]yscale|" + _FULL_DESATURATION + "|"
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
    ("muted", r"\bdesaturat"),
]
_COMPANION = re.compile(
    r"cyber-?punk|\bneon\b|\bnoir\b|golden[- ]hour|vintage|retro|black[- ]and[- ]white|monochrome|sepia",
    re.I,
)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    grade = first(LOOKS, clause)
    if grade is None:
        return {}, UNRESOLVED, "no known colour grade named"
    if grade == "muted":
        strength = 0.5 if _SMALL.search(clause) else 1.5 if _LARGE.search(clause) else 1.0
        return {"look": "muted", "strength": strength}, None, ""
    return {"look": grade}, None, ""


def forms() -> list[Params]:
    return [{"look": k} for k in kinds(LOOKS) if k != "muted"] + [
        {"look": "muted", "strength": s} for s in MUTED_STRENGTHS
    ]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    grade = params.get("look", "warm")
    if grade == "muted":
        done = looks.desaturate(p.img, float(params.get("strength", 1.0)))
    else:
        done = looks.apply_look(p.img, grade, plan.seed, snow=bool(params.get("snow")))
    # "the background in black and white": only where the region's mask is (regions.py refuses a region
    # with no honest mask: "make the flag black and white" without a tag is refused, never the whole picture)
    apply_within(p, done, params, f"give a {str(grade).replace('_', ' ')} look to")


register(
    Operation(
        name="look",
        rank=30,
        verdict="supported",
        schema="look: 'cyberpunk'|'golden_hour'|'noir'|'vintage'|'cold'|'warm'|'bw'|'muted'; "
        "strength?: 0.5|1|1.5 (muted only) — a colour grade",
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
        located=True,  # "the background in black and white": limited to a region with an honest mask
        rules=(
            Rule("phrase", 70, lambda t: bool(_DESATURATE.search(t))),
            Rule("companion", 10, lambda t: bool(_COMPANION.search(t))),
        ),
    )
)
