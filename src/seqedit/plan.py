"""The planner: turn a prompt and ``max_images`` into exactly ``max_images`` panels.

Count lock: the output count is always ``max_images``. The prompt's declared count ("a series of
4", "Panels 1–4", "three covers") and its per-panel lines only shape the per-panel instructions; a
mismatch becomes a warning on the plan, never a shortfall.

Per-panel text comes from, in order of preference:
1. explicit panel lines: ``Panel k — …``, ``Panel k: …``, ``Image k: …``, ``k. …`` (also frame/shot/page);
2. an enumeration with one item per panel: "at ages 25, 45 and 65", "left view, front view and right
   view", "classic white …; navy + gold …";
3. nothing: every panel gets the shared instruction alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from seqedit.locations import protect, restore
from seqedit.request import EditRequest, resolve_seed
from seqedit.sizes import Size, default_size

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "single": 1,
    "pair": 2,
    "couple": 2,
    "trio": 3,
    "triptych": 3,
    "diptych": 2,
}
# a ratio ("4:5", "16:9", "1:1") is never a count
_NUM = r"((?<![\d:])\d{1,2}(?!\d|\s*:\s*\d)|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
_UNITS = (
    r"images?|panels?|pictures?|photos?|photographs?|shots?|frames?|covers?|variants?|variations?|"
    r"versions?|views?|pages?|illustrations?|renders?|colou?rways?|photoshoots?|storyboards?|"
    r"portraits?|scenes?|edits?|outputs?|posters?|looks?|options?|cards?|slides?|stills?|sketches?"
)
_COUNT_PATTERNS = [
    re.compile(r"\b(?:series|set|sequence|collection|batch|group|run|grid|sheet)\s+of\s+" + _NUM + r"\b", re.I),
    re.compile(r"\bpanels?\s+1\s*(?:-|–|—|to|through)\s*(\d{1,2})\b", re.I),
    re.compile(r"\b" + _NUM + r"\s+(?:[\w'-]+\s+){0,3}?(?:" + _UNITS + r")\b", re.I),
    re.compile(r"\ba\s+(pair|couple|trio|triptych|diptych)\b", re.I),
    # a count that opens an enumeration: "in 4 colors: red, blue, …", "4 art prints: 1. pencil …"
    re.compile(r"\b" + _NUM + r"\s+(?:[\w'-]+\s+){0,2}?[a-z'-]{2,}s\s*:(?!\d)", re.I),
]
_OF_THE_REFERENCES = re.compile(
    r"(?:\b(?:these|those)|\b(?:of|from|in|using|with|combine|merge|between|across)\s+(?:the|my|our|both|all))\s+$",
    re.I,
)
_PANEL_MARK = re.compile(
    r"(?:^|(?<=[\s.;]))(?:panel|image|frame|shot|picture|page|slide)\s*#?\s*(\d{1,2})\s*(?:[:—–)]|-{1,2}\s|\.\s)\s*",
    re.I,
)
_NUMBERED_LINE = re.compile(r"^\s*(\d{1,2})\s*[.)]\s+(.+?)\s*$")
_CONSTRAINT = re.compile(
    r"^\s*(?:keep|keeping|maintain|maintaining|preserve|preserving|ensure|ensuring|"
    r"same|consistent|retain|retaining|don't|do not|without|while keeping)\b",
    re.I,
)


@dataclass(frozen=True)
class Panel:
    index: int  # 1-based
    text: str  # the panel's own instruction ("" when it only has the shared one)
    source: str  # "panel-line" | "enumeration" | "shared"

    def instruction(self, shared: str) -> str:
        return " ".join(p for p in (shared.strip(), self.text.strip()) if p)


@dataclass(frozen=True)
class Plan:
    prompt: str
    shared: str
    panels: tuple[Panel, ...]
    declared_count: int | None
    seed: int
    size: Size
    output_format: str
    warnings: tuple[str, ...] = ()
    enumeration: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int:
        return len(self.panels)

    def instruction(self, index: int) -> str:
        """Shared + own instruction of panel ``index`` (1-based)."""
        return self.panels[index - 1].instruction(self.shared)

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "declared_count": self.declared_count,
            "shared": self.shared,
            "panels": [{"index": p.index, "text": p.text, "source": p.source} for p in self.panels],
            "seed": self.seed,
            "size": str(self.size),
            "output_format": self.output_format,
            "warnings": list(self.warnings),
        }


def make_plan(request: EditRequest, ref_sizes: list[tuple[int, int]] | None = None) -> Plan:
    """Plan ``request``. ``ref_sizes`` (width, height per reference) gives the default size."""
    n = request.max_images
    warnings: list[str] = []
    # a location tag ("<bbox>80, 560, 920, 980</bbox>") is one opaque token while the prompt is
    # counted and split: its numbers are no count, its commas no list
    prompt, tags = protect(request.prompt)
    declared = declared_count(request.prompt)

    shared, lines = split_panel_lines(prompt)
    enumeration: tuple[str, ...] = ()
    texts: dict[int, str] = {}
    source = "shared"
    if lines:
        texts, source = dict(lines), "panel-line"
        if declared is None:
            declared = max(texts)
    else:
        target = declared if declared is not None else n
        found = find_enumeration(shared, target)
        if found is None and declared is not None and declared != n:
            found = find_enumeration(shared, n)
        if found is not None:
            enumeration, span = found
            shared = _remove_span(shared, span)
            texts = {i + 1: item for i, item in enumerate(enumeration)}
            source = "enumeration"
            if declared is None:
                declared = len(enumeration)

    if declared is not None and declared != n:
        warnings.append(
            f"the prompt asks for {declared} image{'s' if declared != 1 else ''} but max_images is {n}; "
            f"generating {n} (max_images decides the count and the price)"
        )
    extra = sorted(k for k in texts if k > n)
    if extra:
        warnings.append(f"panel text for panel(s) {', '.join(map(str, extra))} ignored: max_images is {n}")
    missing = [k for k in range(1, n + 1) if k not in texts] if texts else []
    if texts and missing:
        warnings.append(f"panel(s) {', '.join(map(str, missing))} have no own instruction; they use the shared one")

    panels = tuple(
        Panel(k, restore(texts.get(k, ""), tags), source if k in texts else "shared") for k in range(1, n + 1)
    )
    if request.size is not None:
        size = request.size
    elif ref_sizes:
        size = default_size(*ref_sizes[0], **({"pixels": request.pixels} if request.pixels else {}))
    else:
        size = default_size(1, 1, **({"pixels": request.pixels} if request.pixels else {}))
    return Plan(
        prompt=request.prompt,
        shared=restore(_tidy(shared), tags),
        panels=panels,
        declared_count=declared,
        seed=resolve_seed(request.seed),
        size=size,
        output_format=request.output_format,
        warnings=tuple(warnings),
        enumeration=tuple(restore(item, tags) for item in enumeration),
    )


def declared_count(prompt: str) -> int | None:
    """The number of images the prompt itself asks for, if it says one (1-15); location tags never count."""
    prompt = protect(prompt)[0]
    best: tuple[int, int] | None = None  # (position, value): the earliest statement wins
    for pattern in _COUNT_PATTERNS:
        for m in pattern.finditer(prompt):
            if _OF_THE_REFERENCES.search(prompt[max(0, m.start() - 40) : m.start()]):
                continue  # "a contact sheet of the three photos": the references' count, not the output's
            value = _number(m.group(1))
            if value is not None and 1 <= value <= 15 and (best is None or m.start() < best[0]):
                best = (m.start(), value)
    return None if best is None else best[1]


def _number(token: str) -> int | None:
    token = token.lower()
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)


def split_panel_lines(prompt: str) -> tuple[str, list[tuple[int, str]]]:
    """Split ``prompt`` into the shared text and ``[(k, panel k text), …]``.

    A panel's text ends at the end of its line, or at the next panel marker on the same line; lines
    after the last panel line go back to the shared text.
    """
    shared_parts: list[str] = []
    panels: list[tuple[int, str]] = []
    for line in prompt.splitlines():
        marks = list(_PANEL_MARK.finditer(line))
        if not marks and not _NUMBERED_LINE.match(line):
            marks = _inline_numbers(line)
        if marks:
            head = line[: marks[0].start()]
            if head.strip():
                shared_parts.append(head)
            texts = []
            for i, m in enumerate(marks):
                end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
                texts.append((int(m.group(1)), line[m.end() : end].strip(" \t-—–;,")))
            if len(texts) > 1 and not any(_SENTENCE_BREAK.search(t) for _, t in texts[:-1]):
                # one sentence per panel on this line: a sentence after the last one is shared
                k, last = texts[-1]
                cut = _SENTENCE_BREAK.search(last)
                if cut:
                    texts[-1] = (k, last[: cut.start()].strip())
                    shared_parts.append(last[cut.end() :])
            panels.extend(texts)
            continue
        num = _NUMBERED_LINE.match(line)
        if num:
            panels.append((int(num.group(1)), num.group(2).strip()))
            continue
        shared_parts.append(line)
    if len(panels) == 1 and panels[0][0] != 1:
        # a lone "image 3: …" is a reference to an input image, not a panel list
        return prompt, []
    seen: dict[int, str] = {}
    for k, text in panels:
        if 1 <= k <= 15 and k not in seen:
            seen[k] = text
    return "\n".join(shared_parts), sorted(seen.items())


_INLINE_NUMBER = re.compile(r"(?:^|(?<=[\s:;,]))(\d{1,2})[.)]\s+(?=\S)")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _inline_numbers(line: str) -> list[re.Match[str]]:
    """The marks of an inline numbered list after a colon, "…: 1. pencil 2. watercolor 3. oil" (1, 2, …; ≥ 2)."""
    marks: list[re.Match[str]] = []
    for m in _INLINE_NUMBER.finditer(line):
        if int(m.group(1)) == len(marks) + 1:
            marks.append(m)
    if len(marks) < 2 or not (
        line[: marks[0].start()].strip() == "" or line[: marks[0].start()].rstrip().endswith(":")
    ):
        return []
    return marks


_ITEM_SEP = re.compile(r"\s*(?:;|,\s*(?:and|or|&)\s+|,|\s+(?:and|or|&)\s+)\s*", re.I)
_NUMERIC_LIST = re.compile(
    r"\b(?P<noun>[a-z]+?)s?\s+(?P<items>\d{1,3}(?:\s*(?:,|;|,?\s*(?:and|or|&))\s*\d{1,3})+)\b", re.I
)


# phrases whose "and"/"&" joins one item, not two: "in black and white, in sepia, as a pencil sketch" is 3
_COMPOUNDS = re.compile(
    r"\b(?:black|b)\s*(?:and|&|'n'|n)\s*(?:white|w)\b|\bpen\s+(?:and|&)\s+ink\b|\bsalt\s+(?:and|&)\s+pepper\b|"
    r"\brock\s+(?:and|&|'n')\s+roll\b",
    re.I,
)
_JOINED = "\x01"  # stands in for the spaces inside a compound while the list is split (same length: spans hold)


def _join_compounds(text: str) -> str:
    return _COMPOUNDS.sub(lambda m: re.sub(r"\s", _JOINED, m.group(0)), text)


def find_enumeration(text: str, count: int) -> tuple[tuple[str, ...], tuple[int, int]] | None:
    """Find a list of exactly ``count`` items meant as one-per-panel, and its span in ``text``."""
    if count < 2:
        return None
    found = _find_enumeration(_join_compounds(text), count)
    if found is None:
        return None
    items, span = found
    return tuple(i.replace(_JOINED, " ") for i in items), span


def _find_enumeration(text: str, count: int) -> tuple[tuple[str, ...], tuple[int, int]] | None:
    best: tuple[float, tuple[str, ...], tuple[int, int]] | None = None
    for m in _NUMERIC_LIST.finditer(text):
        items = [i for i in _ITEM_SEP.split(m.group("items")) if i]
        if len(items) == count:
            noun = m.group("noun").lower()
            cand = (3.0, tuple(f"{noun} {i}" for i in items), m.span())
            best = max(best, cand, key=lambda c: c[0]) if best else cand
    for m in _RATIO_LIST.finditer(text):
        items = _RATIO.findall(m.group("items"))
        if len(items) == count:
            noun = (m.group("noun") or "").lower()
            unit = f" {noun[:-1]}" if noun else ""
            cand = (3.0, tuple(f"{i}{unit}" for i in items), m.span())
            best = max(best, cand, key=lambda c: c[0]) if best else cand
    for m in _QUOTED_LIST.finditer(text):
        items = [q for pair in _QUOTED.findall(m.group("items")) for q in pair if q]
        if len(items) == count:
            noun = m.group("noun").lower().rstrip("s")
            cand = (3.0, tuple(f"{noun} '{i}'" for i in items), (m.start("items"), m.end("items")))
            best = max(best, cand, key=lambda c: c[0]) if best else cand
    for start, end, body, after_prep in _segments(text):
        items = [i.strip(" .\t") for i in _ITEM_SEP.split(body) if i.strip(" .\t")]
        items = _share_noun(items)
        if len(items) != count or any(len(i.split()) > 8 for i in items):
            continue
        if _CONSTRAINT.match(body):
            continue
        score = 0.5
        if text[max(0, start - 2) : start].strip().endswith(":"):
            score += 2
        if ";" in body:
            score += 1
        lasts = {i.split()[-1].lower().rstrip("s") for i in items}
        if len(lasts) == 1 and len(items[0].split()) > 1:
            score += 2  # "left view, front view, right view"
        if any(len(i.split()) > 5 for i in items):
            score -= 1
        if after_prep and all(len(i.split()) <= 3 for i in items):
            score += 1  # "… in pencil sketch, watercolor, oil painting and pop art"
        cand = (score, tuple(items), (start, end))
        if best is None or cand[0] > best[0]:
            best = cand
    if best is None or best[0] < 1.0:
        return None
    return best[1], best[2]


_RATIO = re.compile(r"(?<![\d:])\d{1,2}:\d{1,2}(?![\d:])")
_RATIO_LIST = re.compile(
    r"(?P<items>(?<![\d:])\d{1,2}:\d{1,2}(?:\s*(?:,|;|,?\s*(?:and|or|&))\s*\d{1,2}:\d{1,2})+)(?![\d:])"
    r"(?:\s+(?:aspect\s+)?(?P<noun>[a-z]{3,}s)\b)?",
    re.I,
)
_QUOTED = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"|“([^”\n]+)”")
_QUOTED_LIST = re.compile(
    r"\b(?P<noun>captions?|titles?|texts?|labels?|headlines?|taglines?|words?)\s+"
    r"(?P<items>(?:'[^'\n]+'|\"[^\"\n]+\"|“[^”\n]+”)(?:\s*(?:,|;|,?\s*(?:and|or|&))\s*(?:'[^'\n]+'|\"[^\"\n]+\"|“[^”\n]+”))+)",
    re.I,
)
# a parameter noun after the last item is shared by all: "white, grey and beige backgrounds"
_PARAM_NOUNS = re.compile(
    r"(?:backgrounds|backdrops|looks|styles|crops|colou?rs|colou?rways|finishes|tones|grades|filters|effects|"
    r"frames|borders|captions|versions)",
    re.I,
)


def _share_noun(items: list[str]) -> list[str]:
    """ "white", "grey", "beige backgrounds" → "white background", "grey background", "beige background"."""
    if len(items) < 2:
        return items
    words = items[-1].split()
    if len(words) < 2 or not _PARAM_NOUNS.fullmatch(words[-1]) or any(len(i.split()) > 3 for i in items[:-1]):
        return items
    noun = words[-1][:-1]
    if any(i.split()[-1].lower().rstrip("s") == noun.lower() for i in items[:-1]):
        return items
    return [f"{i} {noun}" for i in items[:-1]] + [" ".join([*words[:-1], noun])]


def _segments(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """Candidate list bodies: text after a colon up to the sentence end, and each sentence."""
    masked = re.sub(r"(?<=\d):(?=\d)", "\x00", text)  # a ratio's colon is not a list colon
    for m in re.finditer(r":\s*([^:\n]+?)(?=\s*(?:[.!?](?:\s|$)|\n|$))", masked):
        yield m.start(1), m.end(1), text[m.start(1) : m.end(1)], False
    for m in re.finditer(r"[^.!?\n:]+", masked):
        body = text[m.start() : m.end()]
        # only the tail after a verb-ish lead-in: "… in pencil sketch, watercolor and oil"
        tail = re.search(
            r"(?:\b(?:in|as|with|into|at|from|showing|depicting|for|on|onto|against|apply|applying)\s+)"
            r"([^,;]+(?:[,;].+))$",
            body,
            re.I,
        )
        if tail:
            yield m.start() + tail.start(1), m.start() + tail.end(1), tail.group(1), True


def _remove_span(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + text[span[1] :]


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n", text)
    text = re.sub(r"\s+([.,;:])", r"\1", text)
    text = re.sub(r"[:,;]+([.!?])", r"\1", text)
    return text.strip()
