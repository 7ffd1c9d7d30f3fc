"""``caption``: a caption bar with the given text, at the top or the bottom.

The text is quoted, follows a label ("caption: …"), follows "reading"/"saying", or is in capitals
(``parsing.quoted``). Quoted text that a caption "reads", a lower-third "saying '…'" or a "caption:"
label make a caption by a phrase rule, unless the clause removes something or adds an object (a sign
that reads "OPEN" is new content). A caption with no text is reported, not run with a made-up one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.base import Unsupported
from seqedit.engines.classic import typography
from seqedit.engines.classic.ops import generative, remove
from seqedit.engines.classic.ops.parsing import TEXT_LABEL, first, quoted
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

_QUOTE_OPEN = r"[\"“'‘«]"


def position(text: str) -> str | None:
    return first(
        [
            ("top", r"\btop\b|above|header|over the"),
            ("bottom", r"bottom|below|underneath|beneath|footer|under\b"),
        ],
        text,
    )


def _names_its_text(t: str) -> bool:
    """A caption named by its text: "that reads '…'", "a lower-third saying '…'", "caption: …"."""
    return (
        (
            bool(TEXT_LABEL.match(t))
            or bool(
                re.search(
                    r"\b(?:reads?|reading|says?|saying)\s*:?\s*" + _QUOTE_OPEN + r"|lower[- ]thirds?\b.*" + _QUOTE_OPEN,
                    t,
                    re.I,
                )
            )
        )
        and not re.search(remove.LEXICON, t, re.I)
        and not re.search(generative.OBJECT_ADD, t, re.I)
    )


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    p: Params = {}
    text = quoted(clause)
    if text:
        p["text"] = text
    pos = position(clause)
    if pos:
        p["position"] = pos
    return p, (None if text else UNRESOLVED), "" if text else "no caption text given"


def forms() -> list[Params]:
    return [{"text": "Hello there", **({"position": p} if p else {})} for p in (None, "top", "bottom")]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    text = params.get("text") or plan.panels[k - 1].text
    if not text:
        raise Unsupported("caption without text: put the caption in quotes", clause="caption")
    p.img = typography.caption(p.img, text, params.get("position", "bottom"))


register(
    Operation(
        name="caption",
        rank=80,
        verdict="supported",
        schema="text: str; position?: 'top'|'bottom' — a caption bar",
        lexicon=r"caption|subtitle|tagline|\blabel|\btext\b|\bwords?\b|write|lettering|headline|says|reading|"
        r"[\"“]|\btitle\b",
        prototypes=(
            "add a caption at the bottom",
            "put the title text on top",
            "write the product name under it",
            "add the text 'hello' in bold letters",
            "a label with the date",
            "subtitle text along the bottom",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=100,
        rules=(Rule("phrase", 10, _names_its_text),),
    )
)
