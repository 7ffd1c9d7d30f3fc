"""``cover``: a magazine cover (masthead behind the head, cover lines) from the reference.

Seen on a newsstand or a magazine rack is a cover by a phrase rule. A magazine photoshoot is
``approximate``: covers from the given photos, varied by crop, grade and layout; no new poses.

The words come from the prompt: the masthead is the quoted title (``titled "FELINE"``, or the first
quoted text not introduced as a headline), the cover lines are the quoted headlines (``with the
headline 'Summer Sale'``). With no title the masthead reads ``DEFAULT_TITLE`` and the plan says it is
a default; with no headline the cover lines are ``COVER_LINES``, also said. The cover is composed at
the requested size's aspect ratio; ``variant`` (set by the engine for a repeated cover) changes the
crop (``VARIANT_ZOOMS``, ``VARIANT_SHIFTS``) and the column side.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.classic import typography
from seqedit.engines.classic.ops.parsing import QUOTED, quoted
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

NEWSSTAND = r"news-?stands?|news ?agents?|magazine (?:rack|stand|shelf|shelves|aisle)|(?:on|at) (?:a |the )?kiosk"
DEFAULT_TITLE = "PORTRAIT"
COVER_LINES = ["The exclusive shoot", "Style  ·  Culture  ·  People"]
VARIANT_ZOOMS = (1.0, 0.82, 0.68, 0.92, 0.75)  # crop of a repeated cover, by variant
VARIANT_SHIFTS = (0.0, -0.8, 0.8)  # and where it sits sideways (face kept), every len(VARIANT_ZOOMS) variants
MAX_TEXT = 60  # characters of a title or cover line kept from the prompt
_LINE_CUE = re.compile(
    r"\b(?:head ?lines?|cover ?lines?|tag ?lines?|strap ?lines?|sub ?titles?|subheads?|slogans?|"
    r"captions?|text|words|reading|saying|says|that reads)\W*$",
    re.I,
)
_NOT_A_TITLE = re.compile(r"(?i)vogue|magazine")


def texts(clause: str) -> tuple[str | None, list[str]]:
    """(title, cover lines) the clause quotes. A quote right after a headline cue is a line; the first
    other quote is the title, later ones are lines. Without quotes: ``parsing.quoted`` for the title."""
    title: str | None = None
    lines: list[str] = []
    for m in QUOTED.finditer(clause):
        text = " ".join((m.group(1) or m.group(2) or "").split())[:MAX_TEXT]
        if not text:
            continue
        if _LINE_CUE.search(clause[max(0, m.start() - 30) : m.start()]) or title is not None:
            lines.append(text)
        elif not _NOT_A_TITLE.fullmatch(text):
            title = text
    if title is None and not lines:
        found = quoted(clause)
        if found and not _NOT_A_TITLE.fullmatch(found):
            title = found[:MAX_TEXT]
    return title, lines


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    p: Params = {}
    title, lines = texts(clause)
    if title:
        p["title"] = title
    if lines:
        p["lines"] = lines
    defaults = []
    if not title:
        defaults.append(f"the masthead reads '{DEFAULT_TITLE}'")
    if not lines:
        defaults.append("the cover lines are stock ones")
    note = (
        f"no {'title' if not title else 'headline'}{' or headline' if not title and not lines else ''} quoted: "
        + " and ".join(defaults)
        + " (defaults; quote your own: titled \"…\", with the headline '…')"
        if defaults
        else ""
    )
    if re.search(r"photo ?shoots?|shoots?\b|editorial spread", clause, re.I):
        shoot = "covers from the given photos, varied by crop, grade and layout; no new poses"
        return p, "approximate", shoot + ("; " + note if note else "")
    return p, None, note


def forms() -> list[Params]:
    # ``variant`` is not parsed: the engine sets it to vary repeated covers in one set
    return [{}, {"title": "SEQEDIT"}, {"title": "FELINE", "lines": ["Summer Sale"]}, {"variant": 3}]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    ms = p.ref.masks
    person = ms.person() if ms.faces() else ms.subject()
    faces = ms.faces()
    variant = int(params.get("variant", 0))
    p.img = typography.magazine_cover(
        p.img,
        person.mask if person.usable else None,
        faces[0] if faces else None,
        params.get("title") or DEFAULT_TITLE,
        list(params.get("lines") or COVER_LINES),
        plan.seed + variant,
        issue_label=f"No. {k}",
        aspect=min(10.0, max(0.1, plan.size.width / plan.size.height)),
        zoom=VARIANT_ZOOMS[variant % len(VARIANT_ZOOMS)],
        shift=VARIANT_SHIFTS[(variant // len(VARIANT_ZOOMS)) % len(VARIANT_SHIFTS)],
    )
    p.page = True


register(
    Operation(
        name="cover",
        rank=90,
        verdict="supported",
        schema="title?: str; lines?: list[str] — magazine cover, masthead behind the head (text from the prompt's "
        "quotes; defaults said in the plan)",
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
