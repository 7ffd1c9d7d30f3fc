"""One clause → ops: hard rules, phrase rules, then MiniLM similarity; low confidence is reported.

Misspelt colour names (one edit from a name of ≥ 6 letters: "burgandy") are corrected first. Hard
rules next (``_HARD``), then phrase rules (``_PHRASE_RULES``) for classes of phrasing that name an
operation without its keyword. Otherwise each operation scores its max prototype cosine plus
``KEYWORD_BOOST`` for a lexicon hit; the clause is reported, not executed, below ``MIN_CONFIDENCE`` or
when a ``generative`` runner-up is within ``GENERATIVE_MARGIN`` of a non-generative winner. Strong
names elsewhere in the clause add companion ops (``_COMPANIONS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from seqedit.engines.classic.colors import NOT_PROMPT_COLORS
from seqedit.engines.classic.router.bookkeeping import (
    _KEEP,
    _KEEP_TAIL,
    _is_bookkeeping,
    _only_subject,
    meta_content,
    strip_meta,
)
from seqedit.engines.classic.router.clauses import _TEXT_LABEL
from seqedit.engines.classic.router.vocabulary import (
    _BW,
    _COLOR_NAMES,
    _COLOR_RX,
    _GENERATIVE,
    _LEX,
    _LOOK,
    _NEWSSTAND,
    _REMOVE,
    _SIDE_BY_SIDE,
    _TRIM,
    _UNRESOLVED,
    PROTOTYPES,
    _first,
    _is_colorway_line,
    _params,
    find_colors,
)
from seqedit.engines.classic.spec import OPERATIONS, OpSpec

MIN_CONFIDENCE = 0.45
GENERATIVE_MARGIN = 0.05
KEYWORD_BOOST = 0.15
HARD_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Reported:
    """A clause the router would not act on: too unsure, or too close to a generative reading."""

    where: int  # 0 = the shared instruction, k = panel k's own text
    clause: str
    guess: str
    confidence: float
    runner_up: str
    runner_up_score: float
    reason: str


@lru_cache(maxsize=1)
def _prototype_matrix() -> tuple[tuple[str, ...], np.ndarray]:
    from seqedit.engines.classic.embed import embed

    labels = tuple(op for op, sents in PROTOTYPES.items() for _ in sents)
    sents = [s for sents in PROTOTYPES.values() for s in sents]
    return labels, embed(sents)


def scores(clause: str) -> dict[str, float]:
    """Per-operation score: max prototype cosine + ``KEYWORD_BOOST`` if the lexicon matches."""
    from seqedit.engines.classic.embed import embed_one

    labels, matrix = _prototype_matrix()
    sims = matrix @ embed_one(clause.lower())
    best: dict[str, float] = {}
    for label, sim in zip(labels, sims):
        if sim > best.get(label, -1.0):
            best[label] = float(sim)
    for op, rx in _LEX.items():
        if rx.search(clause):
            best[op] = best.get(op, 0.0) + KEYWORD_BOOST
    return best


_HARD: list[tuple[str, re.Pattern[str]]] = [
    (
        "generative",
        re.compile(
            r"\b(?:left|right|back|rear|side|profile|three[- ]quarters?|3/4|top)[- ](?:side )?"
            r"(?:view|angle)\b",
            re.I,
        ),
    ),
    (
        "framing",
        re.compile(
            r"(?<!at )\b\d{1,2}\s*:\s*\d{1,2}\b(?!\s*[ap]\.?m)(?!.*\b(?:grid|storyboard|cover|"
            r"caption|border|frame)\b)",
            re.I,
        ),
    ),
    (
        "generative",
        re.compile(
            r"^(?!.*\b(?:light|lit|lighting|lamp|glow|shadows?|sun)\b).*(?:"
            r"\bprofile (?:shot|view|angle)|\bin profile\b|\bside profile|from behind|"
            r"from (?:the|her|his|its|their) (?:left|right|back|rear) side|"
            r"(?:seen|viewed|shot|shown|photographed) from (?:the )?(?:side|back|behind|rear|above|below|"
            r"sole|underneath|bottom))",
            re.I,
        ),
    ),
    ("framing", re.compile(r"\b(?:front|frontal)[- ]view\b", re.I)),
    ("generative", re.compile(r"^\s*(?:at\s+)?ages?\s+\d{1,3}\b|\bat (?:the )?ages? (?:of )?\d{1,3}|\bages \d", re.I)),
    ("generative", re.compile(r"hair ?style|haircut|hairdo", re.I)),
    (
        "generative",
        re.compile(
            r"face ?-?swap|swap (?:his|her|their|the) faces?|"
            r"\b(?:his|her|my|their|the) face (?:onto|on) (?:his|her|my|their|the|a|an)\b",
            re.I,
        ),
    ),
    (
        "generative",
        re.compile(
            r"\bat (?:the )?age (?:of )?\d|\b\d{1,3}[- ]years?[- ]old\b|\byears old\b|"
            r"\bin (?:his|her|their) (?:\d0s|twenties|thirties|forties|fifties|sixties|seventies|"
            r"eighties|nineties)|\bas an? (?:old|elderly|grown|older|younger) (?:man|woman|lady|adult|"
            r"person)|\bas a (?:child|kid|baby|toddler|teenager)\b",
            re.I,
        ),
    ),
]
_COMPANIONS: list[tuple[str, re.Pattern[str]]] = [
    (
        "look",
        re.compile(
            r"cyber-?punk|\bneon\b|\bnoir\b|golden[- ]hour|vintage|retro|black[- ]and[- ]white|"
            r"monochrome|sepia",
            re.I,
        ),
    ),
    (
        "style",
        re.compile(
            r"manga|anime|watercolou?r|pencil sketch|oil paint|pop[- ]art|cartoon|comic[- ]book|"
            r"comic style|comic strip",
            re.I,
        ),
    ),
    ("layout", re.compile(r"storyboards?|comic(?:[- ]book)? page|\bgrid\b|collage|side[- ]by[- ]side", re.I)),
    (
        "background",
        re.compile(
            r"\b(?:in|into|on|against|through) (?:a|an|the)? ?(?:[\w-]+ ){0,2}"
            r"(?:city|skyline|street|metropolis|studio)\b",
            re.I,
        ),
    ),
    (
        "time_of_day",
        re.compile(
            r"\bat (?:night|sunset|dawn|dusk|noon|midnight|sunrise)\b|after dark|"
            r"as the sun (?:comes up|rises|sets|goes down)",
            re.I,
        ),
    ),
]
_TYPO = [(re.compile(r"\bonce[- ]view\b", re.I), "front view")]

# ---- phrase rules: whole classes of phrasing that name their operation without a keyword

_QUOTE_OPEN = r"[\"“'‘«]"
_OBJECT_ADD = dict(_GENERATIVE)["object"]
_EXISTING_TEXT = (
    r"\b(?:subtitles?|captions?|text|writing|words|letter(?:s|ing)|watermarks?|signature|graffiti|"
    r"(?:date|time) ?stamps?|credits|title cards?)\b"
)
_TAKE_AWAY = (
    r"\b(?:remove|erase|delete|get rid|take (?:\w+ ){0,3}(?:out|off)|lose the|without (?:the|any)|scrub|"
    r"wipe|clean (?:off|up)|strip (?:out|off|away)|ditch|drop the)\b"
)
_BURNED_IN = r"\b(?:burn(?:ed|t)|baked|hard-?coded|stamped|printed)[- ]?(?:in(?:to)?|on(?:to)?)\b|\bhard-?subs?\b"
_HAIR_ETC = r"\b(?:hair|beard|fringe|bangs|mo?ustache|nails?|hedge|bush|grass|lawn|tree)\b"
_PLAIN_COLOR = (
    r"\b(?:solid|plain|flat|pure|just|only|uniform|simple|nothing but)\s+(?:an?\s+)?"
    r"(?:" + _COLOR_RX.pattern + r")(?=\s*(?:$|[,.;!]|there\b|behind\b|background|backdrop|bg\b|wall|"
    r"instead\b|colou?r\b|everywhere|all around|around|in the back))"
)
_BACKDROP_PLACE = r"\bbehind\b|background|backdrop|\bbg\b|scenery|surroundings|\bsetting\b|\bthere\b|\bwall\b"
_BACKDROP_SWAP = (
    r"\b(?:against|in front of)\s+(?:an?|the|some)?\s*(?:[\w'-]+\s+){0,4}?[\w'-]+\s+"
    r"(?:instead of|rather than|in place of)\s+(?:the|an?|that|this|those|these|his|her|their|our|my|its)\b"
)
# "put them at a crowded night market eating street food": a person placed somewhere, doing something
_PLACED = re.compile(
    r"\b(?:put|place|set|drop|show|have|take|send)\s+(?:him|her|them|us|me|the\s+(?:[\w-]+\s+)?"
    r"(?:couple|family|kids|children|two|three|group|friends|pair|girls?|boys?|man|men|woman|women|"
    r"people|dog|cat|characters?))\s+(?:at|in|inside|into|on)\s+(?:an?|the|some)\s+"
    r"((?:[\w'-]+\s+){0,4}?)(\w+ing)\b",
    re.I,
)
_ING_NOT_ACTION = {
    "showing",
    "featuring",
    "depicting",
    "matching",
    "using",
    "keeping",
    "including",
    "lighting",
    "setting",
    "building",
    "morning",
    "evening",
    "ceiling",
    "clothing",
    "painting",
    "drawing",
    "something",
    "nothing",
    "everything",
    "anything",
    "thing",
    "ring",
    "king",
    "spring",
    "string",
    "wing",
    "ending",
    "background",
    "styling",
    "framing",
    "colouring",
    "coloring",
    "wedding",
}
_RENDERABLE_PLACE = re.compile(
    r"background|backdrop|\bwall\b|studio|sweep|\bgrid\b|collage|layout|storyboard|"
    r"frame|border|polaroid|style|\blight|glow|shadow|colou?r|filter|grade|\btone",
    re.I,
)


_ARRANGED = (
    _SIDE_BY_SIDE + r"|comic(?:[- ]book)? page|manga page|\b(?:beside|next to|alongside) (?:each other|one another)\b"
)
_COLORED_FRAME = (
    r"(?:" + _COLOR_RX.pattern + r")(?:\s+[\w-]+){0,2}?\s+(?:passe-?partout|mat(?:\s?board)?|mount|"
    r"border|frame)\b"
)
_FRAMED_THINGS = r"\b(?:glasses|spectacles|sunglasses|bike|bicycle|door|window|bed|mirror frame|car)\b"


_ADDED_THING = (
    r"\b(?:add|put|place|hang|stick|insert|include)\s+(?:in\s+)?(?:a|an|some|two|three|four|\d+)\s+"
    r"(?:[\w'-]+\s+){0,3}?(?:signs?|billboards?|posters?|lamps?|lanterns?|plants?|trees?|cars?|people|"
    r"persons?|man|woman|child|kids?|dogs?|cats?|birds?|balloons?|flowers?|chairs?|tables?|boxes|"
    r"bottles?|cups?|hats?|umbrellas?|buildings?|clouds?)\b"
)


def _placed_in_scene(t: str) -> bool:
    m = _PLACED.search(t)
    return bool(m) and m.group(2).lower() not in _ING_NOT_ACTION and not _RENDERABLE_PLACE.search(m.group(1))


def _color_finish_look(t: str) -> bool:
    """'a brushed metallic gold look': a colour (and finish) called a look is a recolour, not a grade."""
    return (
        _first(_LOOK, t) is None
        and re.search(
            r"(?:" + _COLOR_RX.pattern + r")(?:\s+[\w-]+){0,2}?\s+(?:look|finish|sheen|effect|paint ?job|coating)\b",
            _BW.sub(" ", t),
            re.I,
        )
        is not None
    )


_PHRASE_RULES: list[tuple[str, Any]] = [
    # a caption named by its text: "that reads '…'", "a lower-third saying '…'", "caption: …"
    (
        "caption",
        lambda t: (
            (
                bool(_TEXT_LABEL.match(t))
                or bool(
                    re.search(
                        r"\b(?:reads?|reading|says?|saying)\s*:?\s*" + _QUOTE_OPEN + r"|"
                        r"lower[- ]thirds?\b.*" + _QUOTE_OPEN,
                        t,
                        re.I,
                    )
                )
            )
            and not _LEX["remove"].search(t)
            and not re.search(_OBJECT_ADD, t, re.I)
        ),
    ),
    # text already in the picture, taken away: "lose the subtitles", "the burned-in captions"
    (
        "remove",
        lambda t: (
            bool(re.search(_EXISTING_TEXT, t, re.I))
            and bool(re.search(_TAKE_AWAY, t, re.I) or re.search(_BURNED_IN, t, re.I))
        ),
    ),
    # versions shown as one comparison, side by side, or on one comic page: a layout, whatever else it names
    ("layout", lambda t: bool(re.search(_ARRANGED, t, re.I))),
    # a coloured frame around the picture: "a black passe-partout", "a thin white border"
    ("frame", lambda t: bool(re.search(_COLORED_FRAME, t, re.I)) and not re.search(_FRAMED_THINGS, t, re.I)),
    # seen on a newsstand / magazine rack: a magazine cover
    ("cover", lambda t: bool(re.search(_NEWSSTAND, t, re.I))),
    # cutting away part of the picture
    ("framing", lambda t: bool(re.search(_TRIM, t, re.I)) and not re.search(_HAIR_ETC, t, re.I)),
    # the backdrop becomes one plain colour: "just have solid beige there", "plain grey behind him"
    ("background", lambda t: bool(re.search(_PLAIN_COLOR, t, re.I) and re.search(_BACKDROP_PLACE, t, re.I))),
    # one backdrop for another: "standing against a busy street instead of the garden"
    ("background", lambda t: bool(re.search(_BACKDROP_SWAP, t, re.I))),
    # a person put somewhere doing something: a new scene
    ("generative", _placed_in_scene),
    # a physical thing added to the picture ("add a neon sign that reads 'OPEN'"): new content, even when
    # a word in it ("neon") also names a grade
    ("generative", lambda t: bool(re.search(_ADDED_THING, t, re.I))),
    # a colour (+ finish) called a look/finish: a recolour
    ("recolor", _color_finish_look),
]


def _phrase_rule(t: str) -> str | None:
    return next((op for op, rule in _PHRASE_RULES if rule(t)), None)


def _edit_distance_le1(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion, substitution or swap of neighbours."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [k for k, (x, y) in enumerate(zip(a, b)) if x != y]
        return len(diff) <= 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long_)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


# English words one edit away from a colour name (same first letter, length >= 6): not misspellings
_NOT_COLOR_TYPOS = {"violent", "cheery", "copier", "copped", "sliver", "silted"}
_FUZZY_COLOR_NAMES = [c for c in _COLOR_NAMES if len(c) >= 6 and c.isalpha()]


@lru_cache(maxsize=4096)
def _color_typo(word: str) -> str | None:
    """The colour name ``word`` misspells ('burgandy' → 'burgundy'), or None."""
    w = word.lower()
    if len(w) < 6 or w in _NOT_COLOR_TYPOS or w in NOT_PROMPT_COLORS or _COLOR_RX.fullmatch(w):
        return None
    hits = [c for c in _FUZZY_COLOR_NAMES if c[0] == w[0] and _edit_distance_le1(w, c)]
    return hits[0] if len(hits) == 1 else None


def _fix_color_typos(text: str) -> str:
    return re.sub(r"\b[A-Za-z]{6,}\b", lambda m: _color_typo(m.group(0)) or m.group(0), text)


def _normalise(clause: str) -> str:
    for rx, sub in _TYPO:
        clause = rx.sub(sub, clause)
    return _fix_color_typos(clause)


def _spec(op: str, clause: str, confidence: float, text: str | None = None) -> OpSpec | str:
    """The OpSpec for ``op``, or the reason its parameters could not be found."""
    params, verdict, note = _params(op, text if text is not None else clause, whole=_normalise(clause))
    if verdict == _UNRESOLVED:
        return note
    return OpSpec(
        name=op,
        params=params,
        clause=clause,
        verdict=verdict or OPERATIONS[op][0],  # type: ignore[arg-type]
        confidence=round(min(1.0, confidence), 3),
        note=note,
    )


def classify_clause(clause: str, where: int = 0) -> tuple[list[OpSpec], Reported | None]:
    """Ops for one clause, or a ``Reported`` entry when the router will not guess."""
    text = _normalise(clause)
    if _KEEP.search(text) or (_KEEP_TAIL.search(text) and not find_colors(text)):
        return [OpSpec("keep", {}, clause, "supported", HARD_CONFIDENCE)], None
    content = text
    if _only_subject(text):
        return [OpSpec("meta", {}, clause, "supported", HARD_CONFIDENCE)], None
    if _is_bookkeeping(text):
        if not strip_meta(text):
            return [OpSpec("meta", {}, clause, "supported", HARD_CONFIDENCE)], None
        content = meta_content(text)

    hard = next((op for op, rx in _HARD if rx.search(content)), None)
    if hard is None and _is_colorway_line(content):
        hard = "recolor"
    if hard is None:
        hard = _phrase_rule(content)
        if hard is None and content != text:  # "lay the four shots out as a comic page" lost its "page"
            hard = _phrase_rule(text)
            content = text if hard is not None else content
    if hard is not None:
        primary, confidence = hard, HARD_CONFIDENCE
    else:
        sc = scores(content)
        ranked = sorted(sc.items(), key=lambda kv: -kv[1])
        (primary, confidence), (second, second_score) = ranked[0], ranked[1]
        gen = sc.get("generative", 0.0)
        reason = ""
        refusal = primary == "generative" and bool(_LEX["generative"].search(content))
        if confidence < MIN_CONFIDENCE and not refusal:
            reason = f"best match {primary} scores {confidence:.2f} < {MIN_CONFIDENCE}"
        elif primary != "generative" and gen >= confidence - GENERATIVE_MARGIN:
            if _LEX["generative"].search(content):
                # a named generative element: refuse it (with any companions) rather than guess
                second, second_score, primary, confidence = primary, confidence, "generative", gen
            else:
                reason = f"{primary} {confidence:.2f} is too close to generative {gen:.2f}"
                second, second_score = "generative", gen
        if reason:
            return [], Reported(where, clause, primary, round(confidence, 3), second, round(second_score, 3), reason)
        if primary == "meta":
            return [OpSpec("meta", {}, clause, "supported", confidence)], None
        if primary == "keep":
            return [OpSpec("keep", {}, clause, "supported", confidence)], None

    first = _spec(primary, clause, confidence, content)
    if isinstance(first, str):
        return [], Reported(
            where,
            clause,
            primary,
            round(confidence, 3),
            primary,
            round(confidence, 3),
            f"reads like {primary} but {first}",
        )
    ops = [first]
    if primary == "remove":
        for what, rx in _REMOVE:
            if what != first.params.get("what") and re.search(rx, content, re.I):
                ops.append(replace(first, params={"what": what}, verdict="supported", note=""))
    taken = {primary}
    for op, rx in _COMPANIONS:
        if op in taken or not rx.search(content):
            continue
        spec = _spec(op, clause, confidence, content)
        if isinstance(spec, str) or spec.verdict == "unsupported":
            continue
        ops.append(spec)
        taken.add(op)
    return ops, None
