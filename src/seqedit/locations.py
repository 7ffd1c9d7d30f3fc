"""Seedream's location tags inside a prompt: ``<bbox>x1 y1 x2 y2</bbox>`` and ``<point>x y</point>``.

Coordinates are on a 0–1000 scale relative to the reference image a panel is made from (0 0 is the
top-left corner, 1000 1000 the bottom-right), the convention of the hosted model. A tag says *where*
the clause it sits in applies ("recolour the saucer <bbox>80 560 920 980</bbox>"). Numbers may be
separated by spaces or commas. A malformed tag is bad input (``RequestError`` on ``prompt``), never a
guess: a box needs four numbers with x1 < x2 and y1 < y2, a point two, each within 0–1000.

This module is core: it knows nothing of masks. Engines turn a ``Location`` into a region of their
own reference (``Location.pixels(width, height)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from seqedit.errors import RequestError

SCALE = 1000
LIMIT = "a <bbox> is four numbers x1 y1 x2 y2 and a <point> two numbers x y, each 0-1000, with x1 < x2 and y1 < y2"

_TAG = re.compile(r"<\s*(bbox|point)\s*>(.*?)<\s*/\s*\1\s*>", re.I | re.S)
_OPEN = re.compile(r"<\s*/?\s*(?:bbox|point)\s*>", re.I)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Location:
    """A box (``x1 y1 x2 y2``) or a point (``x y``) on the 0–1000 scale."""

    kind: Literal["bbox", "point"]
    coords: tuple[float, ...]

    def pixels(self, width: int, height: int) -> tuple[float, ...]:
        """The coordinates in pixels of a ``width`` × ``height`` image (x values scale by width)."""
        return tuple(v * (width if i % 2 == 0 else height) / SCALE for i, v in enumerate(self.coords))

    def tag(self) -> str:
        """The tag as a user would write it (integers where exact)."""
        nums = " ".join(str(int(v)) if float(v).is_integer() else f"{v:g}" for v in self.coords)
        return f"<{self.kind}>{nums}</{self.kind}>"


def _parse(kind: str, body: str) -> Location:
    parts = [p for p in re.split(r"[\s,]+", body.strip()) if p]
    want = 4 if kind == "bbox" else 2
    if len(parts) != want or not all(_NUMBER.match(p) for p in parts):
        raise RequestError("prompt", LIMIT, f"<{kind}>{body}</{kind}> needs {want} numbers")
    values = tuple(float(p) for p in parts)
    if any(v < 0 or v > SCALE for v in values):
        raise RequestError("prompt", LIMIT, f"<{kind}>{body}</{kind}> has a number outside 0-{SCALE}")
    if kind == "bbox" and not (values[0] < values[2] and values[1] < values[3]):
        raise RequestError("prompt", LIMIT, f"<bbox>{body}</bbox> needs x1 < x2 and y1 < y2")
    return Location("bbox" if kind == "bbox" else "point", values)


def find_locations(text: str) -> list[tuple[tuple[int, int], Location]]:
    """Every tag in ``text`` with its span, in order. Raises ``RequestError`` on a malformed or unclosed tag."""
    out: list[tuple[tuple[int, int], Location]] = []
    for m in _TAG.finditer(text):
        out.append(((m.start(), m.end()), _parse(m.group(1).lower(), m.group(2))))
    rest = _TAG.sub(" ", text)
    stray = _OPEN.search(rest)
    if stray:
        raise RequestError("prompt", LIMIT, f"'{stray.group(0)}' is not closed or not opened")
    return out


def strip_locations(text: str) -> tuple[str, list[Location]]:
    """``text`` without its tags (spaces tidied) and the tags' locations, in order."""
    found = find_locations(text)
    if not found:
        return text, []
    clean = _TAG.sub(" ", text)
    clean = re.sub(r"[ \t]+([,.;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", clean)).strip()
    return clean, [loc for _, loc in found]


def check_prompt(prompt: str) -> None:
    """Validate every tag in ``prompt`` (the request layer calls this so a bad tag is a 400, not a failed task)."""
    find_locations(prompt)


# One private-use character stands for each tag while a text is split and counted: it is no letter,
# digit, comma or space, so no splitting, counting or enumeration pattern can see inside a tag.
_PLACEHOLDER_BASE = 0xE000
_PLACEHOLDER = re.compile("[\ue000-\ue0ff]")
MAX_TAGS = 256  # tags one text can protect (a prompt is at most 10,000 characters)


def protect(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with each tag replaced by one placeholder character, and the tags' texts in order.

    ``restore(protect(t)[0], protect(t)[1]) == t``. Raises ``RequestError`` on a malformed tag, or on
    more than ``MAX_TAGS`` tags.
    """
    text = _PLACEHOLDER.sub(" ", text)  # the user's own private-use characters are no placeholders
    found = find_locations(text)
    if not found:
        return text, ()
    if len(found) > MAX_TAGS:
        raise RequestError("prompt", f"at most {MAX_TAGS} location tags", f"{len(found)} location tags")
    parts: list[str] = []
    tags: list[str] = []
    last = 0
    for i, ((start, end), _) in enumerate(found):
        parts.append(text[last:start])
        parts.append(chr(_PLACEHOLDER_BASE + i))
        tags.append(text[start:end])
        last = end
    parts.append(text[last:])
    return "".join(parts), tuple(tags)


def restore(text: str, tags: tuple[str, ...]) -> str:
    """Put the tags ``protect`` took out back into (a piece of) the protected text."""
    if not tags:
        return text

    def put(m: re.Match[str]) -> str:
        i = ord(m.group(0)) - _PLACEHOLDER_BASE
        return tags[i] if i < len(tags) else " "

    return _PLACEHOLDER.sub(put, text)
