"""One clause → ops: hard rules, phrase rules, then MiniLM similarity; low confidence is reported.

Misspelt colour names (one edit from a name of ≥ 6 letters: "burgandy") are corrected first. A
constraint (``ops/keep.py``) is ``keep`` and set bookkeeping is ``meta`` (``bookkeeping.py``). Then the
operations' own rules (``Operation.rules``, gathered by ``vocabulary.rules``): hard rules on the
content, then phrase rules for classes of phrasing that name an operation without its keyword (on the
content, then on the whole clause). Otherwise each operation scores its max prototype cosine plus
``KEYWORD_BOOST`` for a lexicon hit; the clause is reported, not executed, below ``MIN_CONFIDENCE`` or
when a ``generative`` runner-up is within ``GENERATIVE_MARGIN`` of a non-generative winner (a clause
that also names a generative thing is refused as ``generative`` instead: refusing is safe). The
winner's parameters come from its parser; companion rules add more ops from the same clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from seqedit.engines.classic.colors import NOT_PROMPT_COLORS
from seqedit.engines.classic.ops import OPERATIONS, UNRESOLVED, OpSpec, version
from seqedit.engines.classic.ops.keep import CONSTRAINT, CONSTRAINT_TAIL
from seqedit.engines.classic.router.bookkeeping import _is_bookkeeping, _only_subject, meta_content, strip_meta
from seqedit.engines.classic.router.vocabulary import (
    COLOR_NAMES,
    COLOR_RX,
    find_colors,
    lexicon,
    params,
    prototypes,
    rules,
)

# the operation that refuses: new content needs a generative engine
GENERATIVE = "generative"
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
def _prototype_matrix(_version: int) -> tuple[tuple[str, ...], np.ndarray]:
    from seqedit.engines.classic.embed import embed

    table = prototypes()
    labels = tuple(op for op, sents in table.items() for _ in sents)
    sents = [s for sents in table.values() for s in sents]
    return labels, embed(sents)


def scores(clause: str) -> dict[str, float]:
    """Per-operation score: max prototype cosine + ``KEYWORD_BOOST`` if the lexicon matches."""
    from seqedit.engines.classic.embed import embed_one

    labels, matrix = _prototype_matrix(version())
    sims = matrix @ embed_one(clause.lower())
    best: dict[str, float] = {}
    for label, sim in zip(labels, sims, strict=True):
        if sim > best.get(label, -1.0):
            best[label] = float(sim)
    for op, rx in lexicon().items():
        if rx.search(clause):
            best[op] = best.get(op, 0.0) + KEYWORD_BOOST
    return best


_TYPO = [(re.compile(r"\bonce[- ]view\b", re.I), "front view")]


def _rule(stage: str, t: str) -> str | None:
    """The operation of the first rule of ``stage`` that matches ``t``."""
    return next((op for op, rule in rules(stage) if rule.test(t)), None)


def _edit_distance_le1(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion, substitution or swap of neighbours."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [k for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) <= 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long_, strict=False)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


# English words one edit away from a colour name (same first letter, length >= 6): not misspellings
_NOT_COLOR_TYPOS = {"violent", "cheery", "copier", "copped", "sliver", "silted"}
_FUZZY_COLOR_NAMES = [c for c in COLOR_NAMES if len(c) >= 6 and c.isalpha()]


@lru_cache(maxsize=4096)
def _color_typo(word: str) -> str | None:
    """The colour name ``word`` misspells ('burgandy' → 'burgundy'), or None."""
    w = word.lower()
    if len(w) < 6 or w in _NOT_COLOR_TYPOS or w in NOT_PROMPT_COLORS or COLOR_RX.fullmatch(w):
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
    found, verdict, note = params(op, text if text is not None else clause, whole=_normalise(clause))
    if verdict == UNRESOLVED:
        return note
    return OpSpec(
        name=op,
        params=found,
        clause=clause,
        verdict=verdict or OPERATIONS[op].verdict,  # type: ignore[arg-type]
        confidence=round(min(1.0, confidence), 3),
        note=note,
    )


def classify_clause(clause: str, where: int = 0) -> tuple[list[OpSpec], Reported | None]:
    """Ops for one clause, or a ``Reported`` entry when the router will not guess."""
    text = _normalise(clause)
    if CONSTRAINT.search(text) or (CONSTRAINT_TAIL.search(text) and not find_colors(text)):
        return [OpSpec("keep", {}, clause, "supported", HARD_CONFIDENCE)], None
    content = text
    if _only_subject(text):
        return [OpSpec("meta", {}, clause, "supported", HARD_CONFIDENCE)], None
    if _is_bookkeeping(text):
        if not strip_meta(text):
            return [OpSpec("meta", {}, clause, "supported", HARD_CONFIDENCE)], None
        content = meta_content(text)

    hard = _rule("hard", content)
    if hard is None:
        hard = _rule("phrase", content)
        if hard is None and content != text:  # "lay the four shots out as a comic page" lost its "page"
            hard = _rule("phrase", text)
            content = text if hard is not None else content
    if hard is not None:
        primary, confidence = hard, HARD_CONFIDENCE
    else:
        sc = scores(content)
        ranked = sorted(sc.items(), key=lambda kv: -kv[1])
        (primary, confidence), (second, second_score) = ranked[0], ranked[1]
        gen = sc.get(GENERATIVE, 0.0)
        reason = ""
        named_generative = bool(lexicon()[GENERATIVE].search(content))
        refusal = primary == GENERATIVE and named_generative
        if confidence < MIN_CONFIDENCE and not refusal:
            reason = f"best match {primary} scores {confidence:.2f} < {MIN_CONFIDENCE}"
        elif primary != GENERATIVE and gen >= confidence - GENERATIVE_MARGIN:
            if named_generative:
                # a named generative element: refuse it (with any companions) rather than guess
                second, second_score, primary, confidence = primary, confidence, GENERATIVE, gen
            else:
                reason = f"{primary} {confidence:.2f} is too close to generative {gen:.2f}"
                second, second_score = GENERATIVE, gen
        if reason:
            return [], Reported(where, clause, primary, round(confidence, 3), second, round(second_score, 3), reason)
        if OPERATIONS[primary].bookkeeping:  # keep, meta: nothing to parse
            return [OpSpec(primary, {}, clause, "supported", confidence)], None

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
    expand = OPERATIONS[primary].expand
    ops = [first, *(expand(first, content) if expand is not None else [])]
    taken = {primary}
    for op, rule in rules("companion"):
        if op in taken or not rule.test(content):
            continue
        spec = _spec(op, clause, confidence, content)
        if isinstance(spec, str) or spec.verdict == "unsupported":
            continue
        ops.append(spec)
        taken.add(op)
    return ops, None
