"""Set bookkeeping clauses (``meta``) and the bookkeeping wrapper around content.

(A constraint clause, "keeping …", "maintain …", is ``keep``: its patterns are in ``ops/keep.py``.) A
clause that is only set bookkeeping ("generate a series of 4 edited images from the source photo") is ``meta``; when
bookkeeping wraps content ("… 4 different hairstyle images for this girl") ``meta_content`` strips the
wrapper and the content is classified. Vague counts ("a couple of", "several"), units like
options/alternatives/takes and request filler ("can I get", "… would be great") count as wrapper.
"""

from __future__ import annotations

import re

_SUBJECT_NOUNS = (
    r"character|characters|girl|girls|boy|boys|man|men|woman|women|person|people|model|models|"
    r"product|products|shoe|shoes|sneakers?|subject|subjects|individuals?|couple|kid|child|cat|dog|"
    r"portrait|photo|photos|image|images|picture|pictures|reference|references|source|lady|guy|"
    r"figure|item|object|scene|car|bag|one|ones"
)
_NUMBER = (
    r"(?<![:x×])\b(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|several|multiple|a (?:couple|handful|pair|number|bunch) of|a few)\b(?!\s*[:x×]\s*\d)"
)
_UNIT = (
    r"images?|panels?|pictures?|photos?|photographs?|outputs?|versions?|variants?|variations?|results?|"
    r"frames?|shots?|edits?|renders?|illustrations?|pages?|stills?|portraits?|options?|alternatives?|takes|"
    r"iterations?|drafts?|mock-?ups?|concepts?"
)
# the wrapper of a bookkeeping sentence, removed piece by piece
_WRAPPER = [
    re.compile(r"\b(?:of|for|showing|depicting|with) the same [\w-]+\b", re.I),  # "of the same street"
    re.compile(r"\(?\s*\b(?:panels?|images?)\s*\d+\s*(?:-|–|—|to|through)\s*\d+\s*\)?", re.I),  # (Panels 1–4)
    re.compile(
        r"^(?:please\s+)?(?:can you\s+|could you\s+|(?:can|could|may) (?:i|we) (?:get|have|see)\s+|"
        r"i (?:need|want|would like|would love)\s+|i'd (?:like|love)\s+|"
        r"give me\s+|let's\s+|we need\s+)?(?:generate|create|make|produce|render|output|give|return|"
        r"build|design|do|need|want|show|depict|picture|present)?\b",
        re.I,
    ),
    re.compile(
        r"\b(?:a|an|one|the)?\s*(?:series|set|sequence|collection|batch|group|grid|sheet|total|pair|couple)"
        r"\s+of\b",
        re.I,
    ),
    re.compile(
        r"\b(?:based on|from|using|of|for|with|per|depicting|showing|featuring|starring)\s+"
        r"(?:the|this|these|that|those|my|our|her|his|their|each|every|all|both|two|three|four|\d+)?\s*"
        r"(?:[\w'-]+\s+){0,2}?(?:" + _SUBJECT_NOUNS + r")\b(?!')",
        re.I,
    ),  # "for this girl"
    # request filler around a count: "… would be great", "say four", "pls"
    re.compile(
        r"\b(?:would|will|'d) be (?:great|nice|good|lovely|ideal|perfect|awesome|helpful|fine)\b|"
        r"\bsay\b(?=\s+" + _NUMBER + r")|\b(?:please|pls|plz|thanks|thank you|maybe|perhaps|ideally|"
        r"roughly|about|around)\b",
        re.I,
    ),
    re.compile(_NUMBER + r"|\b(?:some|a few)\b", re.I),
    re.compile(r"\b(?:" + _UNIT + r")\b", re.I),
]
_ADJECTIVES = re.compile(
    r"\b(?:edited|new|different|separate|distinct|numbered|final|consistent|coherent|"
    r"matching|high[- ]quality|total|each|every|per|one)\b",
    re.I,
)
_STOP_WORD = re.compile(
    r"(?:uploaded|source|reference|original|input|given|provided|attached|above|following|"
    r"these|this|those|that|them|it|the|a|an|of|from|for|in|on|at|to|with|and|based|please|"
    r"total|me|us|as|by|all|across|each|same|—|–|-)",
    re.I,
)
_SUBJECT_WORD = re.compile(_SUBJECT_NOUNS, re.I)
_BOOKKEEPING = re.compile(
    r"\b(?:series|set|sequence|collection|batch)\s+of\b|"
    + _NUMBER
    + r"\s+(?:[\w'-]+\s+){0,3}?(?:"
    + _UNIT
    + r")\b|\b(?:based on|from|using) (?:the|this|these|my)\s+(?:[\w'-]+\s+){0,2}?(?:"
    + _SUBJECT_NOUNS
    + r")\b|^(?:generate|create|produce)\b",
    re.I,
)


def _words(text: str) -> list[str]:
    return re.sub(r"[\s,.;:()!?+&]+", " ", text).split()


def strip_meta(clause: str) -> str:
    """What is left of ``clause`` once set bookkeeping and stop words are removed ('' = bookkeeping only)."""
    rest = meta_content(clause)
    rest = _ADJECTIVES.sub(" ", rest)
    return " ".join(w for w in _words(rest) if not (_STOP_WORD.fullmatch(w) or _SUBJECT_WORD.fullmatch(w)))


def _only_subject(clause: str) -> bool:
    """True for a leftover like 'This dog at' (an enumeration was lifted out of the sentence)."""
    return all(_STOP_WORD.fullmatch(w) or _SUBJECT_WORD.fullmatch(w) for w in _words(clause))


def meta_content(clause: str) -> str:
    """``clause`` without its bookkeeping wrapper, other words kept ('a different hairstyle')."""
    rest = clause
    for rx in _WRAPPER:
        rest = rx.sub(" ", rest)
    return re.sub(r"\s+", " ", rest).strip(" ,.;:")


def _is_bookkeeping(clause: str) -> bool:
    return bool(_BOOKKEEPING.search(clause))
