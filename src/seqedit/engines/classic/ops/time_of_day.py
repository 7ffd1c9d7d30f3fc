"""``time_of_day``: dawn … night as a grade plus a sky tint (``approximate``: not a relit scene).

Sunset is a warm low sun (golden highlights, lifted violet shadows, a violet → magenta → orange sky
where a sky is found); night is day-for-night (dark, moonlit blue, the lamps and windows kept lit).
See ``looks.time_of_day``.

"Night" that names a kind of place or thing ("night market", "nightclub") is not the hour. "At night",
"at sunset" elsewhere in a clause add a time-of-day companion.
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

# "night market", "nightclub", "night bus": night names a kind of place or thing, not the hour
_NIGHT_THINGS = (
    r"markets?|bazaars?|clubs?|clubbing|life|bus(?:es)?|trains?|shifts?|schools?|stands?|owls?|"
    r"caps?|gowns?|dress(?:es)?|wear|mode|vision|lights?|stalls?|spots?|porters?|watch(?:man)?|"
    r"guards?|classes?|creams?"
)
TIMES: KindTable = [
    (
        "dawn",
        r"\bdawn\b|sunrise|first light|daybreak|early morning light|sun (?:comes|is coming|rises) up|"
        r"sun (?:is )?rising|rising sun",
    ),
    ("dusk", r"\bdusk\b|twilight|blue hour|sun goes down|\bevening\b|nightfall"),
    ("sunset", r"sunset|sundown|setting sun|sun (?:is )?setting"),
    (
        "night",
        r"\bnight(?![- ]?(?:" + _NIGHT_THINGS + r")\b)|midnight|after dark|moonlight|moonlit|starry|nocturnal|"
        r"\bdark out",
    ),
    ("afternoon", r"afternoon"),
    ("noon", r"\bnoon\b|midday|mid-day|overhead sun|high sun"),
    ("morning", r"morning|\bam\b|breakfast time"),
]
_COMPANION = re.compile(
    r"\bat (?:night|sunset|dawn|dusk|noon|midnight|sunrise)\b|after dark|as the sun (?:comes up|rises|sets|goes down)",
    re.I,
)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    when = first(TIMES, clause)
    return (
        ({"time": when} if when else {}),
        (None if when else UNRESOLVED),
        "grade and sky tint, not a relit scene" if when else "time of day not recognised",
    )


def forms() -> list[Params]:
    return [{"time": t} for t in kinds(TIMES)]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    sky = p.ref.masks.sky()
    p.img = looks.time_of_day(p.img, params.get("time", "sunset"), sky.mask if sky.usable else None, plan.seed)


register(
    Operation(
        name="time_of_day",
        rank=40,
        verdict="approximate",
        schema="time: 'dawn'|'morning'|'noon'|'afternoon'|'sunset'|'dusk'|'night' — grade (+ sky tint)",
        lexicon=alternatives(TIMES) + r"|time of day|daytime|\bday\b",
        prototypes=(
            "make it night time",
            "same scene at sunset",
            "change the time of day to morning",
            "show it at dusk",
            "the street at noon",
            "at dawn with early light",
            "in the afternoon",
            "late at night under street lamps",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=50,
        rules=(Rule("companion", 50, lambda t: bool(_COMPANION.search(t))),),
    )
)
