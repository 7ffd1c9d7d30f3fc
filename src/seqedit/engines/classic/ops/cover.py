"""``cover``: a magazine cover (masthead behind the head, cover lines) from the reference.

Seen on a newsstand or a magazine rack is a cover by a phrase rule. A magazine photoshoot is
``approximate``: covers from the given photos, varied by crop, grade and layout; no new poses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.classic import typography
from seqedit.engines.classic.ops.parsing import quoted
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

NEWSSTAND = r"news-?stands?|news ?agents?|magazine (?:rack|stand|shelf|shelves|aisle)|(?:on|at) (?:a |the )?kiosk"
COVER_LINES = ["The exclusive shoot", "Style  ·  Culture  ·  People"]


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    p: Params = {}
    title = quoted(clause)
    if title and not re.fullmatch(r"(?i)vogue|magazine", title):
        p["title"] = title
    if re.search(r"photo ?shoots?|shoots?\b|editorial spread", clause, re.I):
        return p, "approximate", "covers from the given photos, varied by crop, grade and layout; no new poses"
    return p, None, ""


def forms() -> list[Params]:
    # ``variant`` is not parsed: the engine sets it to vary repeated covers in one set
    return [{}, {"title": "SEQEDIT"}, {"variant": 3}]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    ms = p.ref.masks
    person = ms.person() if ms.faces() else ms.subject()
    faces = ms.faces()
    variant = int(params.get("variant", 0))
    p.img = typography.magazine_cover(
        p.img,
        person.mask if person.usable else None,
        faces[0] if faces else None,
        params.get("title") or "PORTRAIT",
        list(params.get("lines") or COVER_LINES),
        plan.seed + variant,
        issue_label=f"No. {k}",
    )
    p.page = True


register(
    Operation(
        name="cover",
        rank=90,
        verdict="supported",
        schema="title?: str; lines?: list[str] — magazine cover, masthead behind the head",
        lexicon=r"magazine|\bcover|vogue|masthead|editorial|front page|an issue of|photo ?shoots?|"
        + NEWSSTAND
        + r"|glossy mag|cover lines|\bglossy\b",
        prototypes=(
            "make it a magazine cover with headlines",
            "fashion magazine cover with a masthead",
            "Vogue style cover",
            "magazine photoshoot for the models",
            "an editorial magazine spread cover",
            "cover of a glossy magazine with cover lines",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=90,
        moves=True,
        rules=(Rule("phrase", 50, lambda t: bool(re.search(NEWSSTAND, t, re.I))),),
    )
)
