"""What region a clause names ("the saucer", "her face", "the background"), read from its words alone.

The classic engine edits a region only when it has a mask for *that* region. ``find_target(clause)``
says which kind of region the words name:

* ``whole`` — nothing, or the picture itself ("make it brighter", "the whole photo");
* ``mask`` — a region the engine has a real mask for: ``hair``, ``face``, ``person``, ``clothes``
  (garment words), ``background``, ``sky``, or ``object`` (the product or object the photo is of: "the
  shoe", "the mug", "the car", a colourway part such as "the sole"). Whether that mask is good enough is
  decided at render time, on the photo (an object only when it is cut out cleanly: a plain backdrop or
  an alpha channel, never a saliency guess, never a person);
* ``named`` — any other part or object ("the saucer", "the helmet", "the spoon", "the left ear"): the
  engine has no mask for it, so the clause is refused unless a location tag says where it is
  (``LOCATION_HINT``).

Only words after a determiner or possessive count as a named region ("the", "her", "this" …), the way
edit requests name things; colour names, finishes and words about the edit itself ("colour", "shade",
"version") are not regions. This module reads text only: no masks, no images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from seqedit.engines.classic.colors import BLACK_AND_WHITE_RX, FINISH_WORDS, PART_RX, PROMPT_COLOR_RX

LOCATION_HINT = "add <bbox>x1 y1 x2 y2</bbox> or <point>x y</point> (0-1000 of the reference) after it to say where"

TargetKind = Literal["whole", "mask", "named"]


@dataclass(frozen=True)
class Target:
    """The region a clause names: ``kind``, the engine's mask name (``mask`` kind) and the user's words."""

    kind: TargetKind
    mask: str | None = None
    words: str = ""


WHOLE = Target("whole")

_DETERMINER = r"the|her|his|their|its|my|our|your|this|that|these|those"
_WORD = re.compile(r"[a-z][a-z'-]*")

# words after a determiner that name no region: the edit itself, amounts, tonal ranges
_NOT_REGION = {
    *"same other rest way colour color colours colors shade shades tone tones tonal hue hues finish look looks version "
    "versions variant variants variation variations edition editions option options colourway colourways colorway "
    "colorways palette scheme brightness contrast saturation exposure balance white-balance vibrance sharpness "
    "noise grain light lighting amount bit touch lot little much more less slightly very really whole entire full "
    "overall new old original current existing main one ones kind sort type pic same-colour brighter darker "
    "lighter dimmer punchier sharper softer warmer cooler deeper paler richer stronger higher lower crisper clearer "
    "cleaner smoother bigger larger smaller brighter-looking shadows "
    "highlights midtones mid-tones darks lights blacks whites and or a an to in into with of for as on at by from "
    "instead so but just only too also please be is are was were look like should would could can will become "
    "come out get got make made turn set give keep it them".split(),
    *FINISH_WORDS,
}
_WHOLE_WORDS = set(
    "photo photos image images picture pictures pic pics shot shots scene frame frames everything composition "
    "photograph photographs canvas".split()
)
_MASKS: dict[str, str] = {
    **dict.fromkeys("hair hairs haircut locks fringe bangs".split(), "hair"),
    **dict.fromkeys("face faces complexion".split(), "face"),
    **dict.fromkeys(
        "person man woman girl boy model lady guy people men women girls boys kid child astronaut figure".split(),
        "person",
    ),
    **dict.fromkeys(
        "clothes clothing outfit outfits garment garments dress dresses shirt shirts t-shirt tee top jacket jackets "
        "coat coats hoodie hoodies sweater sweaters jumper jumpers pants trousers jeans skirt skirts suit suits "
        "blouse blouses scarf cardigan vest uniform spacesuit overalls gown robe sweatshirt".split(),
        "clothes",
    ),
    **dict.fromkeys("background backgrounds backdrop backdrops bg surroundings".split(), "background"),
    **dict.fromkeys("sky skies".split(), "sky"),
    **dict.fromkeys(
        "subject product products object objects item items thing shoe shoes sneaker sneakers trainer trainers boot "
        "boots bag bags handbag handbags backpack purse car cars mug mugs cup cups bottle bottles kettle chair chairs "
        "sofa couch lamp watch headphones phone vase jar toy teddy guitar bike bicycle motorcycle "
        "cat dog kitten puppy".split(),
        "object",
    ),
}


_STOP_VERBS = set(
    "had has have been being dyed painted done changed turned go goes went pls plz please thanks now here there "
    "which who that what when where while if than then ever".split()
)


def _phrase(words: list[str]) -> list[str]:
    """The words of the noun phrase right after a determiner (up to four, stopping at a non-noun)."""
    phrase: list[str] = []
    for w in words[:4]:
        if w in _NOT_REGION or w in _DETERMINERS or w in _STOP_VERBS:
            break
        phrase.append(w)
    return phrase


_DETERMINERS = set(_DETERMINER.split("|"))


def _known(word: str) -> str | None:
    if word in _MASKS:
        return _MASKS[word]
    if any(rx.fullmatch(word) for rx in PART_RX.values()):
        return "object"  # a colourway part of the product (sole, laces, logo)
    return None


def _classify(phrase: list[str]) -> Target:
    """A known region word in the phrase (the last one: "the suede sneakers") names its mask; a lone
    picture word ("the photo") the whole; anything else ("the saucer", "the left ear") a named part."""
    known = [(w, m) for w in phrase if (m := _known(w)) is not None]
    if known:
        word, mask = known[-1]
        return Target("mask", mask, word)
    if any(w in _WHOLE_WORDS for w in phrase):
        return WHOLE  # "the photo crisper", "the whole image"
    return Target("named", None, " ".join(phrase[:2]))


def find_targets(clause: str) -> list[Target]:
    """Every region the clause names, in order (empty: none, the picture as a whole)."""
    text = BLACK_AND_WHITE_RX.sub(" ", clause.lower())
    text = PROMPT_COLOR_RX.sub(" ", text)
    words = _WORD.findall(text)
    out: list[Target] = []
    for i, w in enumerate(words):
        if w not in _DETERMINERS:
            continue
        phrase = _phrase(words[i + 1 :])
        if not phrase:
            continue
        target = _classify(phrase)
        if target.kind != "whole":
            out.append(Target(target.kind, target.mask, f"{w} {target.words}"))
    return out


def find_target(clause: str) -> Target:
    """The one region ``clause`` names: the first named part without a mask wins (refusing is safe),
    else the first region with a mask, else the whole picture."""
    found = find_targets(clause)
    named = [t for t in found if t.kind == "named"]
    if named:
        return named[0]
    return found[0] if found else WHOLE


def named_note(target: Target) -> str:
    """The one line that refuses an untagged part the engine has no mask for."""
    return f"the classic engine has no mask for '{target.words}'; {LOCATION_HINT}"
