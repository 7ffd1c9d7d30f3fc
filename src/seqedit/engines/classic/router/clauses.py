"""Clause splitting: one instruction text → the clauses the router classifies one by one.

Split at sentence ends, newlines, ``;``, ``:``, " and then ", " but ", and at a comma or " and "
followed by an edit verb ("…, keeping the logo", "… and add a caption") or by a constraint ("…, the
same angle and background"). A text-label line
("caption: not pictured: my patience") is one clause whose text is everything after the label.
"""

from __future__ import annotations

import re

from seqedit.engines.classic.ops.parsing import TEXT_LABEL

_EDIT_VERBS = (
    r"add|adding|remove|removing|replace|replacing|put|place|change|changing|make|making|turn|give|convert|"
    r"apply|applying|render|swap|erase|delete|crop|zoom|mirror|flip|use|using|keep|keeping|maintain|"
    r"maintaining|preserve|preserving|ensure|ensuring|show|showing|draw|paint|generate|create|produce|"
    r"dress|relight|blur|isolate|cut|recolou?r|dye|write|label|caption|stylize|stylise|transform|retain|"
    r"retaining|leave|leaving|don't|do not|then|but|without"
)
_SPLITS = [
    re.compile(r"\n+"),
    re.compile(r"(?<=[.!?])\s+"),
    re.compile(r"\s*;\s*"),
    re.compile(r":(?!\d)\s*"),
    re.compile(r",?\s+and then\s+", re.I),
    re.compile(r",?\s+but\s+", re.I),
    re.compile(r",\s*(?:while\s+)?(?=(?:and\s+)?(?:" + _EDIT_VERBS + r")\b)", re.I),
    # a constraint after a comma is its own clause: "make it red, the same angle and background"
    re.compile(r",\s*(?=(?:with\s+|and\s+)?(?:the\s+)?(?:same|identical|consistent|unchanged)\b)", re.I),
    re.compile(r"\s+(?:and|while)\s+(?=(?:" + _EDIT_VERBS + r")\b(?!\s+(?:and|or)\b))", re.I),
]
_FILLER = re.compile(r"^(?:please|pls|thanks?|thank you|ok(?:ay)?|and|also|then|now)?[\s.!?,;:]*$", re.I)


def split_clauses(text: str) -> list[str]:
    """Split an instruction into clauses (see the module docstring)."""
    # a hard-wrapped sentence continues on the next line: join it back
    text = re.sub(r"(?<![.!?;:])[ \t]*\n[ \t]*(?=[a-z(])", " ", text or "")
    parts = [text]
    for i, rx in enumerate(_SPLITS):
        # a text-label line ("caption: not pictured: my patience") is split no further after the lines
        parts = [p for part in parts for p in ([part] if i > 0 and TEXT_LABEL.match(part) else rx.split(part))]
    out = []
    for p in parts:
        p = re.sub(r"^(?:and|then|also|so|but|while)\s+", "", p.strip(" \t,.;:-—–"), flags=re.I).strip()
        if p and not _FILLER.match(p) and re.search(r"[A-Za-z0-9]", p):
            out.append(p)
    return out
