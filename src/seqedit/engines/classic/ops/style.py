"""``style``: re-render the picture (pencil, ink, manga, comic, pop art, cartoon, watercolour, oil).

A named style the classic engine does not have (pixel art, claymation, …) is ``style`` with verdict
``unsupported``. A strong style name elsewhere in a clause adds a style companion ("manga storyboards"
→ style + layout). A style is a renderable setting for a story clause (see ``router/policy.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.classic import styles
from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first, kinds
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register
from seqedit.engines.classic.panel import face_boxes

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

STYLES: KindTable = [
    ("popart", r"pop[- ]?art|warhol|silk-?screen|lichtenstein"),
    ("manga", r"manga|anime|screentone|japanese comic"),
    ("watercolor", r"watercolou?r|aquarelle|\bwash(?:es)?\b"),
    ("comic", r"comic|ben[- ]day|graphic novel|superhero"),
    ("cartoon", r"cartoon|\btoon|cel[- ]shad|animated|kids'? show|children'?s (?:book|show)|disney"),
    (
        "ink",
        r"\bink(?:ed|ing)?\b|pen (?:and ink|outlines?|drawing)|line[- ]?art|linework|outlines? only|"
        r"colou?ring[- ]book",
    ),
    ("pencil", r"pencil|sketch|charcoal|graphite|crayon|drawn|drawing|doodle|hatching"),
    ("oil", r"\boil\b|impressionis|van gogh|monet|painterly|brush ?strokes?|canvas|impasto|painting|painted"),
]
UNKNOWN = r"pixel[- ]art|8[- ]bit|low[- ]poly|claymation|clay|lego|ukiyo|mosaic|stained glass|cubis|origami"
_COMPANION = re.compile(
    r"manga|anime|watercolou?r|pencil sketch|oil paint|pop[- ]art|cartoon|comic[- ]book|comic style|comic strip",
    re.I,
)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    style = first(STYLES, clause)
    if style is None or re.search(UNKNOWN, clause, re.I):
        what = re.search(UNKNOWN, clause, re.I)
        return {"style": what.group(0).lower() if what else None}, "unsupported", "no such style in the classic engine"
    return {"style": style}, None, ""


def forms() -> list[Params]:
    return [{"style": s} for s in kinds(STYLES)]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    p.img = styles.stylize(p.img, params.get("style", "pencil"), plan.seed, face_boxes(p))


register(
    Operation(
        name="style",
        rank=20,
        verdict="supported",
        schema="style: 'pencil'|'ink'|'manga'|'comic'|'popart'|'cartoon'|'watercolor'|'oil' — re-render",
        lexicon=alternatives(STYLES) + "|" + UNKNOWN + r"|\bstyle\b|illustrat|art\b",
        prototypes=(
            "turn the photo into a pencil sketch",
            "make it look like a watercolor painting",
            "cartoon style",
            "oil painting version",
            "pop art style poster",
            "black and white manga with screentones",
            "render it as a comic book illustration",
            "hand-drawn ink line art",
            "paint it like van gogh",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=80,
        story_setting=True,
        rules=(Rule("companion", 20, lambda t: bool(_COMPANION.search(t))),),
    )
)
