"""``layout``: compose references or framings on a page (storyboard, comic page, grid, side by side).

Diptychs, triptychs, before/after, side by side or on one comic page are a layout by a phrase rule,
whatever else the clause names. Storyboard and comic page are ``approximate`` (panels are re-crops of
the references: no new story beats); grid and side by side are ``supported``. The engine composes
grid and side-by-side pages from all references itself (``engine.py``); this renderer draws one
storyboard card or one comic page, composed for the requested aspect ratio (no bars added later).
The comic page's shots are medium, close-up, crop and a tighter variation crop: never a mirror (a
flipped face or name tag is not another shot) nor a wide shot's invented border.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.base import EngineError
from seqedit.engines.classic import framing, layouts
from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first, kinds
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register
from seqedit.engines.classic.panel import face_boxes, focus, image_focus

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

# two (or three) images shown as one comparison: diptych, triptych, before/after, side by side
_COMPARISON = r"\b(?:dipt|tript)ychs?\b|\bbefore\s*(?:[-/|]\s*)?(?:(?:and|&|vs\.?|versus)\s*-?\s*)?after\b"
SIDE_BY_SIDE = _COMPARISON + r"|side[- ]by[- ]side"
KINDS: KindTable = [
    ("storyboard", r"storyboards?|story ?board|director'?s board|shot board"),
    (
        "comic_page",
        r"comic(?:[- ]book)? (?:page|strip)|graphic novel|manga page|page (?:of|from) a (?:comic|manga)|"
        r"panels on a page|page (?:of|with) panels",
    ),
    (
        "side_by_side",
        SIDE_BY_SIDE + r"|next to each other|beside each other|\bpair\b|left and right halves|"
        r"one on the left(?:,| and) (?:one|the other) on the right",
    ),
    ("grid", r"\bgrid|\d\s*[x×]\s*\d|contact sheet|collage|mosaic|tiles?d?\b|montage"),
]
_ARRANGED = (
    SIDE_BY_SIDE + r"|comic(?:[- ]book)? page|manga page|\b(?:beside|next to|alongside) (?:each other|one another)\b"
)
# the comic page's four shots of the reference: real pixels only (no mirror, no invented wide border)
COMIC_SHOTS = ("medium", "closeup", "crop", "variation")
_CONTACT = re.compile(r"\bcontact(?:[- ]sheets?)?\b(?!\s+lens)", re.I)
_COMPANION = re.compile(r"storyboards?|comic(?:[- ]book)? page|\bgrid\b|collage|side[- ]by[- ]side", re.I)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    # the whole clause too: bookkeeping stripping can eat part of a kind ("a contact sheet of the three photos")
    kind = (
        first(KINDS, clause)
        or first(KINDS, whole)
        or ("grid" if re.search(r"arrange|combine|layout|together", clause, re.I) else None)
    )
    if kind is None:
        return {}, UNRESOLVED, "no layout kind named"
    if kind in ("storyboard", "comic_page"):
        return {"kind": kind}, "approximate", "panels are re-crops of the references: no new story beats"
    return {"kind": kind}, None, ""


def forms() -> list[Params]:
    return [{"kind": k} for k in kinds(KINDS)]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    kind = params.get("kind", "storyboard")
    page_aspect = plan.size.width / plan.size.height
    if kind == "storyboard":
        caption = plan.panels[k - 1].text or None
        p.img = layouts.storyboard_frame(p.img, k - 1, plan.count, caption, focus=focus(p), page_aspect=page_aspect)
    elif kind == "comic_page":
        shots = []
        for kind_ in COMIC_SHOTS:
            shot, _ = framing.reframe(p.img, kind_, face_boxes=face_boxes(p), index=2)
            shots.append(shot)
        text = plan.panels[k - 1].text
        p.img = layouts.comic_page(
            shots,
            [text, "", "", ""] if text else ["", "", "", ""],
            plan.seed + k - 1,
            focus=[image_focus(shot) for shot in shots],  # one focus per shot
            aspect=page_aspect,
        )
    else:
        raise EngineError(f"unknown layout {kind!r}", code=1400)
    p.page = True


register(
    Operation(
        name="layout",
        rank=100,
        verdict="supported",
        schema="kind: 'storyboard'|'comic_page'|'grid'|'side_by_side' — compose references/framings on a page",
        lexicon=alternatives(KINDS) + r"|layout|arrange|combine|together|page",
        prototypes=(
            "combine the two images side by side",
            "arrange them in a storyboard",
            "make a collage of all photos",
            "lay the panels out as a comic page",
            "a grid of the pictures",
            "a film storyboard sheet",
            "put the photos next to each other",
            "a contact sheet of the shots",
            "show the original and the edit next to each other as a comparison",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=120,
        moves=True,
        rules=(
            # versions shown as one comparison, side by side, or on one comic page: a layout
            Rule("phrase", 30, lambda t: bool(re.search(_ARRANGED, t, re.I))),
            Rule("companion", 30, lambda t: bool(_COMPANION.search(t))),
            # a contact sheet, even once "sheet of the three photos" is read as bookkeeping
            Rule("phrase", 31, lambda t: bool(_CONTACT.search(t))),
        ),
    )
)
