"""Parameter-parsing helpers the operations share: kind tables, quoted text, the text-label syntax.

A kind table is a list of (value, regex) pairs tried in order; ``first`` returns the first value whose
regex matches (case-insensitive), also on the text with hyphens between letters read as spaces
("blade-runner" reads "blade runner"). ``kinds`` lists a table's values (the forms an op can emit).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from seqedit.engines.classic.colors import prompt_colors

KindTable = list[tuple[str, str]]

# colour phrases of the prompt vocabulary in a text, as (position, phrase)
find_colors = prompt_colors

# "caption: <text>" / "title: <text>": the rest of the line is the text itself (not split into clauses)
# quoted text: "…", “…”, «…», and '…' / ‘…’ not inside a word (so "don't" is no quote)
DOUBLE_QUOTED = re.compile(r"[\"“”«]([^\"“”«»]+)[\"“”»]")
SINGLE_QUOTED = re.compile(r"(?<![A-Za-z])['‘]([^'‘’]+)['’](?![A-Za-z])")
QUOTED = re.compile(f"{DOUBLE_QUOTED.pattern}|{SINGLE_QUOTED.pattern}")  # either, in text order

TEXT_LABEL = re.compile(
    r"^\s*(?:(?:add|put|with)\s+(?:an?\s+|the\s+)?)?(?:caption|subtitle|title|headline|tagline|"
    r"slogan|label|lower[- ]third|text)\s*:\s*(?=\S)",
    re.I,
)


def first(table: Iterable[tuple[str, str]], text: str) -> str | None:
    """The first value of ``table`` whose regex matches ``text``."""
    spaced = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text)  # "blade-runner" also reads "blade runner"
    for value, rx in table:
        if re.search(rx, text, re.I) or (spaced != text and re.search(rx, spaced, re.I)):
            return value
    return None


def kinds(table: KindTable) -> list[str]:
    """The values of a kind table, in order."""
    return [value for value, _ in table]


def alternatives(table: KindTable) -> str:
    """One regex matching any entry of ``table`` (for a lexicon)."""
    return "|".join(rx for _, rx in table)


def quoted(text: str) -> str | None:
    """The text a caption or title names: quoted, after a label, after 'reading'/'saying', or in capitals."""
    m = DOUBLE_QUOTED.search(text) or SINGLE_QUOTED.search(text)
    if m:
        return m.group(1).strip()
    m = TEXT_LABEL.match(text)
    if m:
        return text[m.end() :].strip(" .\"'") or None
    m = re.search(
        r"\b(?:reading|saying|says|titled|entitled|called|with the (?:words?|text|title))\s+(.+)$", text, re.I
    )
    if m:
        return m.group(1).strip(" .\"'")
    m = re.search(
        r"\b(?:text|tagline|slogan|caption|words?|title|label|headline)\s+(?!(?:at|on|in|to|that|with|of|"
        r"the|a|an|for|here|bar|strip|reading|saying|says)\b)(.+?)(?:\s+(?:below|above|under|underneath|"
        r"beneath|on|at|in|across|along|over)\b.*)?$",
        text,
    )
    if m:
        return m.group(1).strip(" .\"'")
    m = re.search(r"\b([A-Z][A-Z0-9!&' -]{2,}[A-Z0-9!])\b", text)
    return m.group(1).strip() if m else None
