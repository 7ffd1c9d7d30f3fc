"""``generative``: anything that needs new content. Always ``unsupported`` in the classic engine.

Hairstyles, ages, poses, expressions, outfits, face swaps, added objects or people, new places, new
story beats and true left/right/back/side views. Hard rules catch a named side view, an age, a
hairstyle and a face swap before the similarity model; phrase rules catch a person put somewhere doing
something and a physical thing added to the picture. A story clause next to a look or a style is
approximated by the plan policy (``router/policy.py``), not here.
"""

from __future__ import annotations

import re

from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register

WHAT: KindTable = [
    (
        "face_swap",
        r"face ?-?swap|swap (?:his|her|their|the|our|my) faces?|(?:his|her|my|their) face (?:onto|on)|"
        r"replace (?:the|his|her) face|put (?:his|her|my) face",
    ),
    (
        "hairstyle",
        r"hair ?style|haircut|hair ?cut|hairdo|\bbob\b|braids?|braided|ponytail|bangs|updo|dreadlocks?|"
        r"mohawk|buzz ?cut|pixie|shaved head|\bbald|(?:curly|straight|wavy|long|short|shoulder-length|"
        r"spiky|slicked[- ]back) hair|\bperm\b|\bafro\b|cornrows|new hair",
    ),
    (
        "age",
        r"\bages?\b|\baged\b|\bat (?:the age of )?\d{1,3}\b(?![:%x×\d])|years? old|\d{1,3}[- ]years?[- ]old|"
        r"\bolder\b|\byounger\b|elderly|old (?:man|woman|lady|age)|wrinkl|as a (?:child|kid|baby|toddler|teen|"
        r"teenager|grown)|toddler|grown[- ]up|grow(?:s|ing)? up|childhood|in (?:his|her|their) \d0s|"
        r"when (?:he|she|they) (?:was|were|is)|de-?age|ag(?:e)?ing|as an adult|senior|retire|"
        r"in (?:his|her|their) (?:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)",
    ),
    (
        "view",
        r"\b(?:left|right|back|rear|side|profile|top|overhead|three[- ]quarters?|3/4|underside|bottom)"
        r"[- ](?:view|angle|profile|shot)|\bprofile\b|(?:seen|viewed|shot|shown|photographed) from|"
        r"from behind|from the (?:back|side)|rear of|back of (?:the|her|his)|turn(?:ed)? around|other side|"
        r"360|turnaround|bird'?s[- ]eye|from (?:the )?(?:sole|underneath|bottom|below) up|from underneath",
    ),
    (
        "pose",
        r"\bpos(?:e|es|ing)\b|\bsit(?:s|ting)?\b|\bstand(?:s|ing)?\b|kneel|lying|lie down|\bjump|dancing|\bdance|"
        r"arms? (?:raised|crossed|up|folded|out)|hands? on|\brun(?:s|ning)?\b|waving|\bwave\b|\bhug|\bkiss|"
        r"holding hands|cross-legged|lean(?:s|ing)?\b|crouch|squat|stretch",
    ),
    (
        "expression",
        r"\bsmil|laugh|frown|\bcry|crying|\bsad\b|angry|surprised|shocked|\bwink|\bgrin|expression|"
        r"tears|scream|pout|happy face|serious face",
    ),
    (
        "outfit",
        r"outfit|wearing|dressed|dress (?:him|her|them|me)|tuxedo|gown|costume|uniform|clothes|clothing|"
        r"put (?:him|her|them) in (?:a|an)|change (?:his|her|their) (?:shirt|clothes|jacket)",
    ),
    (
        "person",
        r"add (?:a|an|another|one more|some)? ?(?:second )?(?:person|man|woman|child|kid|friend|boyfriend|"
        r"girlfriend|people|crowd|family)|second person|crowd of|another person|someone",
    ),
    (
        "object",
        r"sunglasses|glasses|\bhat\b|\bcap\b|necklace|earrings|holding|figurine|\b3d\b|\btoy\b|"
        r"(?:add|put) (?:a|an|some)\b(?! (?:[\w-]+ ){0,2}(?:caption|lower[- ]third|title|border|frame|text|label|"
        r"headline|"
        r"light|glow|rim|vignette|grade|filter|gradient|backdrop|background|tint|shadow|blur|logo|"
        r"tagline|subtitle|polaroid|edge|mat|grid|crop))|\bwith a (?:dog|cat|car|bike|balloon|cup)",
    ),
    (
        "story",
        r"\bstor(?:y|ies)\b|\blife\b|\blives\b|daily|routine|adventure|journey|\bmeet|\bdate\b|wedding|"
        r"romance|\blove\b|day in the|chapter|\bthen\b|happens|\btale\b|narrative|episode",
    ),
    (
        "scene",
        r"\b(?:beach|forest|mountain|paris|tokyo|london|new york|office|kitchen|(?:outer|in|into) space\b|moon\b|"
        r"jungle|desert|cafe|café|restaurant|park\b|garden|underwater|snow|castle|walking through|"
        r"exploring|travel|in front of|(?:night |street |flea |farmers'? )?market|bazaar|festival|concert|"
        r"stadium|nightclub|airport)",
    ),
]
# the kinds a story/life clause names: approximated by the plan policy next to a look or a style
STORY_WHAT = {"story"}
# adding a physical object ("put a hat on him"), not a caption, a frame or a grade
OBJECT_ADD = dict(WHAT)["object"]

NOTES = {
    "hairstyle": "a new hairstyle needs a generative engine (hair colour alone can be approximated)",
    "age": "changing age needs a generative engine",
    "pose": "a new pose needs a generative engine",
    "view": "a true new viewpoint needs a generative engine",
    "face_swap": "face swap needs a generative engine",
    "scene": "a new place needs a generative engine",
    "story": "new story beats need a generative engine",
    "object": "adding objects needs a generative engine",
    "expression": "a new expression needs a generative engine",
    "outfit": "a new outfit needs a generative engine",
    "person": "adding people needs a generative engine",
}


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    what = first(WHAT, clause) or "scene"
    if what in ("story", "scene") and re.search(r"\b(?:dress|t-?shirt|shirt|jacket|coat|suit|jeans)\b", clause, re.I):
        what = "outfit"
    return {"what": what}, "unsupported", NOTES.get(what, "needs new content: a generative engine")


# ---- hard rules: a named side view, an age, a hairstyle, a face swap

_SIDE_VIEW = re.compile(
    r"\b(?:left|right|back|rear|side|profile|three[- ]quarters?|3/4|top)[- ](?:side )?(?:view|angle)\b",
    re.I,
)
_SEEN_FROM = re.compile(
    r"^(?!.*\b(?:light|lit|lighting|lamp|glow|shadows?|sun)\b).*(?:"
    r"\bprofile (?:shot|view|angle)|\bin profile\b|\bside profile|from behind|"
    r"from (?:the|her|his|its|their) (?:left|right|back|rear) side|"
    r"(?:seen|viewed|shot|shown|photographed) from (?:the )?(?:side|back|behind|rear|above|below|"
    r"sole|underneath|bottom))",
    re.I,
)
_AGE_FIRST = re.compile(r"^\s*(?:at\s+)?ages?\s+\d{1,3}\b|\bat (?:the )?ages? (?:of )?\d{1,3}|\bages \d", re.I)
_HAIRSTYLE = re.compile(r"hair ?style|haircut|hairdo", re.I)
_FACE_SWAP = re.compile(
    r"face ?-?swap|swap (?:his|her|their|the) faces?|"
    r"\b(?:his|her|my|their|the) face (?:onto|on) (?:his|her|my|their|the|a|an)\b",
    re.I,
)
_AGE = re.compile(
    r"\bat (?:the )?age (?:of )?\d|\b\d{1,3}[- ]years?[- ]old\b|\byears old\b|"
    r"\bin (?:his|her|their) (?:\d0s|twenties|thirties|forties|fifties|sixties|seventies|"
    r"eighties|nineties)|\bas an? (?:old|elderly|grown|older|younger) (?:man|woman|lady|adult|"
    r"person)|\bas a (?:child|kid|baby|toddler|teenager)\b",
    re.I,
)

# ---- phrase rules

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
_ADDED_THING = (
    r"\b(?:add|put|place|hang|stick|insert|include)\s+(?:in\s+)?(?:a|an|some|two|three|four|\d+)\s+"
    r"(?:[\w'-]+\s+){0,3}?(?:signs?|billboards?|posters?|lamps?|lanterns?|plants?|trees?|cars?|people|"
    r"persons?|man|woman|child|kids?|dogs?|cats?|birds?|balloons?|flowers?|chairs?|tables?|boxes|"
    r"bottles?|cups?|hats?|umbrellas?|buildings?|clouds?)\b"
)


def _placed_in_scene(t: str) -> bool:
    m = _PLACED.search(t)
    return bool(m) and m.group(2).lower() not in _ING_NOT_ACTION and not _RENDERABLE_PLACE.search(m.group(1))


register(
    Operation(
        name="generative",
        rank=120,
        verdict="unsupported",
        schema="what: 'hairstyle'|'age'|'pose'|'view'|'face_swap'|'scene'|'story'|'object'|'expression'|"
        "'outfit'|'person' — needs new content: a generative engine",
        lexicon=alternatives(WHAT),
        prototypes=(
            "give her a different hairstyle",
            "him at age 65",
            "make her smile",
            "change his pose to sitting",
            "dress her in a red evening gown",
            "the girl riding a bike",
            "add a dog next to him",
            "turn the character into a 3D figurine",
            "draw a new scene with the same character",
            "the back of the character",
            "the two of them on a date",
            "a story of her life",
            "put a hat on him",
            "swap the faces of the two people",
            "show her as a little child",
        ),
        parse=parse,
        accumulates=True,
        rules=(
            Rule("hard", 10, lambda t: bool(_SIDE_VIEW.search(t))),
            Rule("hard", 30, lambda t: bool(_SEEN_FROM.search(t))),
            Rule("hard", 50, lambda t: bool(_AGE_FIRST.search(t))),
            Rule("hard", 60, lambda t: bool(_HAIRSTYLE.search(t))),
            Rule("hard", 70, lambda t: bool(_FACE_SWAP.search(t))),
            Rule("hard", 80, lambda t: bool(_AGE.search(t))),
            # a person put somewhere doing something: a new scene
            Rule("phrase", 90, _placed_in_scene),
            # a physical thing added ("add a neon sign that reads 'OPEN'"): new content, even when a word
            # in it ("neon") also names a grade
            Rule("phrase", 100, lambda t: bool(re.search(_ADDED_THING, t, re.I))),
        ),
    )
)
