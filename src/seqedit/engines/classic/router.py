"""The instruction router of the classic engine: plan text → ``OpSpec`` lists with honest verdicts.

``route(plan)`` reads ``plan.shared`` and every ``plan.panels[k].text`` and returns a ``RoutedPlan``:
the ops of the shared instruction, the own ops of each panel, each panel's effective ops (shared +
own; an own op replaces a shared op of the same name, except ``keep`` and ``generative`` which
accumulate) and the clauses it would not guess at (``reported``).

How one text becomes ops:

1. **Clauses.** Split at sentence ends, newlines, ``;``, ``:``, " and then ", " but ", and at a comma
   or " and " followed by an edit verb ("…, keeping the logo", "… and add a caption"). Commas inside
   colour compounds ("classic white + black swoosh, gum sole") are not split points; a text-label line
   ("caption: not pictured: my patience") is one clause whose text is everything after the label.
2. **Bookkeeping.** A constraint clause ("keeping …", "maintain …", "ensure consistent …") is ``keep``.
   A clause that is only set bookkeeping ("generate a series of 4 edited images from the source
   photo") is ``meta``; when bookkeeping wraps content ("… 4 different hairstyle images for this
   girl") the wrapper is stripped and the content is classified. Vague counts ("a couple of", "a
   handful of", "several") and units like options/alternatives/takes count too, and request filler
   ("can I get", "… would be great", "say four") is part of the wrapper.
3. **Classification.** Misspelt colour names (one edit from a name of ≥ 6 letters: "burgandy") are
   corrected first. Hard rules next (a named side view, an age, a hairstyle, a face swap, a
   colour-only colourway line), then phrase rules (``_PHRASE_RULES``) for classes of phrasing that
   name an operation without its keyword: quoted text that a caption "reads" / a "caption:" label →
   caption; removing text already in the picture (subtitles, burned-in captions) → remove;
   diptych/triptych/before-after, side by side or on one comic page → layout; a coloured
   passe-partout/border → frame; newsstand/magazine rack → cover; trimming empty space or an
   edge → framing crop; a plain colour "there"/behind/as the backdrop, or "against X instead of Y" →
   background; a person put at/in a place doing something, or a physical thing added ("add a neon
   sign") → generative; "<colour> … look/finish"
   with no known grade → recolor. Otherwise MiniLM nearest-prototype similarity per operation (max
   cosine over 6-10 prototype sentences) plus ``KEYWORD_BOOST`` for a lexicon hit. The clause is
   **reported, not executed** when the best score is below ``MIN_CONFIDENCE`` or a ``generative``
   runner-up is within ``GENERATIVE_MARGIN`` of a non-generative winner (when the clause also names
   a generative thing, "her smile", it is refused as ``generative`` instead: refusing is safe). A
   ``generative`` winner backed by a lexicon hit is refused even below the threshold.
4. **Params** come out by regex for the winner (colour phrases by part, finish, style/look/time/
   lighting/framing/frame/background kinds, quoted caption text, ``W:H`` aspect). Strong names
   elsewhere in the clause add companion ops ("cyberpunk-style city" → look + background;
   "manga storyboards" → style + layout).

Verdict policy (the default verdicts are ``spec.OPERATIONS``):

* ``generative`` is always ``unsupported``: hairstyles, ages, poses, expressions, outfits, face swaps,
  added objects or people, new places, new story beats, and true left/right/back/side views.
* "front view" (and the page's typo "once view") is ``framing`` ``medium``, ``approximate``: the
  reference as it is, assuming it faces the camera.
* A **story/life** clause becomes ``approximate`` when the same panel (own or shared ops) also has a
  renderable setting, i.e. a ``look`` or a ``style``: the story op is dropped and each panel gets a
  varied framing (medium, close-up, mirror, wide, …) of the cut-out references, with the look, style
  and background. No new actions or places. Without a look or style it stays ``unsupported``.
* Magazine **photoshoots** are ``cover``, ``approximate`` (covers from the given photos, no new poses);
  a plain magazine cover is ``supported``.
* ``layout`` storyboard and comic_page are ``approximate`` (panels are re-crops of the references:
  no new story beats); grid and side_by_side are ``supported``.
* Hair recolour, wide framing and thin-object removal are ``approximate``; removing larger objects
  and a background with no procedural kind (a beach, an office) are ``unsupported``; an unknown
  style name is ``style`` with verdict ``unsupported``.
* A shared "change only the colorway per panel" with no colour becomes ``meta`` (hint ``recolor``)
  when every panel with its own text carries its own recolour.
* A clause that reads like an op but names none of its parameters ("add a caption" without text,
  "recolour it" without a colour) is reported, not run with made-up values.
* ``RoutedPlan.verdict(k)``: the worst verdict of panel k's effective ops; a reported clause lowers
  it to at least ``approximate``; a panel with nothing renderable is ``unsupported`` (an unchanged
  source is never an answer).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Iterable

import numpy as np

from seqedit.engines.classic.colors import (BLACK_AND_WHITE_RX, FINISH_RX, FINISH_WORDS, NOT_PROMPT_COLORS,
                                           PART_RX, PROMPT_COLOR_NAMES,
                                           PROMPT_COLOR_RX, colorway_phrases, prompt_colors)
from seqedit.engines.classic.spec import OPERATIONS, OpSpec, VerdictKind
from seqedit.plan import Plan

__all__ = ["route", "route_text", "classify_clause", "split_clauses", "RoutedPlan", "Reported",
           "MIN_CONFIDENCE", "GENERATIVE_MARGIN", "KEYWORD_BOOST"]

MIN_CONFIDENCE = 0.45
GENERATIVE_MARGIN = 0.05
KEYWORD_BOOST = 0.15
HARD_CONFIDENCE = 0.95
FRAMING_CYCLE = ("medium", "closeup", "mirror", "wide")
_ACCUMULATE = {"keep", "generative"}
_RANK: dict[str, int] = {"supported": 0, "approximate": 1, "unsupported": 2}


# --------------------------------------------------------------------------- result types

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


@dataclass(frozen=True)
class RoutedPlan:
    shared: list[OpSpec]
    panels: list[list[OpSpec]]  # panels[k-1] = panel k's own ops
    effective: list[list[OpSpec]]  # effective[k-1] = what panel k runs (meta left out)
    reported: list[Reported] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.panels)

    def ops(self, index: int) -> list[OpSpec]:
        """Effective ops of panel ``index`` (1-based)."""
        return self.effective[index - 1]

    def renderable(self, index: int) -> list[OpSpec]:
        """Panel ``index``'s ops that change pixels (not ``keep``/``meta``)."""
        return [o for o in self.ops(index) if o.name not in ("keep", "meta")]

    def verdict(self, index: int) -> VerdictKind:
        """Worst verdict among panel ``index``'s effective ops.

        A reported clause counts as approximate; a panel with nothing renderable is unsupported
        (an unchanged source is never an answer).
        """
        if not self.renderable(index):
            return "unsupported"
        worst = max((_RANK[o.verdict] for o in self.ops(index)), default=0)
        if any(r.where in (0, index) for r in self.reported):
            worst = max(worst, _RANK["approximate"])
        return _verdict_of(worst)

    @property
    def overall(self) -> VerdictKind:
        return _verdict_of(max((_RANK[self.verdict(k)] for k in range(1, self.count + 1)), default=0))

    def unsupported(self) -> list[OpSpec]:
        """Distinct unsupported ops over all panels, in order of appearance."""
        seen: dict[tuple[str, str], OpSpec] = {}
        for ops in self.effective:
            for o in ops:
                if o.verdict == "unsupported":
                    seen.setdefault((o.name, o.clause), o)
        return list(seen.values())

    def notes(self) -> list[str]:
        """Human-readable notes for every approximate or unsupported op and every reported clause."""
        out: list[str] = []
        for ops in [self.shared, *self.panels]:
            for o in ops:
                if o.verdict != "supported" and o.note:
                    line = f"{o.name} ({o.verdict}): {o.note} — “{o.clause}”"
                    if line not in out:
                        out.append(line)
        for r in self.reported:
            out.append(f"not understood ({r.reason}): “{r.clause}”")
        return out

    def to_dict(self) -> dict[str, Any]:
        def enc(o: OpSpec) -> dict[str, Any]:
            return {"name": o.name, "params": o.params, "clause": o.clause, "verdict": o.verdict,
                    "confidence": round(o.confidence, 3), "note": o.note}
        return {
            "shared": [enc(o) for o in self.shared],
            "panels": [[enc(o) for o in ops] for ops in self.panels],
            "effective": [[enc(o) for o in ops] for ops in self.effective],
            "reported": [asdict(r) for r in self.reported],
            "overall": self.overall,
        }


def _verdict_of(rank: int) -> VerdictKind:
    return ("supported", "approximate", "unsupported")[rank]  # type: ignore[return-value]


# --------------------------------------------------------------------------- clause splitting

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
    re.compile(r"\s+(?:and|while)\s+(?=(?:" + _EDIT_VERBS + r")\b(?!\s+(?:and|or)\b))", re.I),
]
_FILLER = re.compile(r"^(?:please|pls|thanks?|thank you|ok(?:ay)?|and|also|then|now)?[\s.!?,;:]*$", re.I)
# "caption: <text>" / "title: <text>": the rest of the line is the text itself, not more clauses
_TEXT_LABEL = re.compile(r"^\s*(?:(?:add|put|with)\s+(?:an?\s+|the\s+)?)?(?:caption|subtitle|title|headline|tagline|"
                         r"slogan|label|lower[- ]third|text)\s*:\s*(?=\S)", re.I)


def split_clauses(text: str) -> list[str]:
    """Split an instruction into clauses (see the module docstring)."""
    # a hard-wrapped sentence continues on the next line: join it back
    text = re.sub(r"(?<![.!?;:])[ \t]*\n[ \t]*(?=[a-z(])", " ", text or "")
    parts = [text]
    for i, rx in enumerate(_SPLITS):
        # a text-label line ("caption: not pictured: my patience") is split no further after the lines
        parts = [p for part in parts
                 for p in ([part] if i > 0 and _TEXT_LABEL.match(part) else rx.split(part))]
    out = []
    for p in parts:
        p = re.sub(r"^(?:and|then|also|so|but|while)\s+", "", p.strip(" \t,.;:-—–"), flags=re.I).strip()
        if p and not _FILLER.match(p) and re.search(r"[A-Za-z0-9]", p):
            out.append(p)
    return out


# --------------------------------------------------------------------------- bookkeeping: keep / meta

_KEEP = re.compile(
    r"^(?:(?:and|while|but|also|please)\s+)?(?:keep|keeping|maintain|maintaining|preserve|preserving|"
    r"ensure|ensuring|retain|retaining|same|identical|consistent|consistently|unchanged|"
    r"leav(?:e|ing) (?:[\w'-]+ ){0,4}?(?:as (?:it|is)|alone|untouched|unchanged|intact|the same)|"
    r"don't|do not|never|without (?:changing|altering|touching)|no (?:changes?|change) to|"
    r"nothing else)\b|^(?:with\s+)?(?:the|this|that|an?)\s+(?:same|identical|unchanged)(?:\s+[\w'-]+){0,2}"
    r"(?:\s+(?:in|across|for|throughout|on) (?:every|each|all)\b.*)?$",
    re.I)
_KEEP_TAIL = re.compile(r"\b(?:unchanged|untouched|intact|as (?:it is|is)|the same|stays? the same|identical|"
                        r"consistent)\s*[.!]?$", re.I)
_SUBJECT_NOUNS = (r"character|characters|girl|girls|boy|boys|man|men|woman|women|person|people|model|models|"
                  r"product|products|shoe|shoes|sneakers?|subject|subjects|individuals?|couple|kid|child|cat|dog|"
                  r"portrait|photo|photos|image|images|picture|pictures|reference|references|source|lady|guy|"
                  r"figure|item|object|scene|car|bag|one|ones")
_NUMBER = (r"(?<![:x×])\b(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
           r"fourteen|fifteen|several|multiple|a (?:couple|handful|pair|number|bunch) of|a few)\b(?!\s*[:x×]\s*\d)")
_UNIT = (r"images?|panels?|pictures?|photos?|photographs?|outputs?|versions?|variants?|variations?|results?|"
         r"frames?|shots?|edits?|renders?|illustrations?|pages?|stills?|portraits?|options?|alternatives?|takes|"
         r"iterations?|drafts?|mock-?ups?|concepts?")
# the wrapper of a bookkeeping sentence, removed piece by piece
_WRAPPER = [
    re.compile(r"\b(?:of|for|showing|depicting|with) the same [\w-]+\b", re.I),  # "of the same street"
    re.compile(r"\(?\s*\b(?:panels?|images?)\s*\d+\s*(?:-|–|—|to|through)\s*\d+\s*\)?", re.I),  # (Panels 1–4)
    re.compile(r"^(?:please\s+)?(?:can you\s+|could you\s+|(?:can|could|may) (?:i|we) (?:get|have|see)\s+|"
               r"i (?:need|want|would like|would love)\s+|i'd (?:like|love)\s+|"
               r"give me\s+|let's\s+|we need\s+)?(?:generate|create|make|produce|render|output|give|return|"
               r"build|design|do|need|want|show|depict|picture|present)?\b", re.I),
    re.compile(r"\b(?:a|an|one|the)?\s*(?:series|set|sequence|collection|batch|group|grid|sheet|total|pair|couple)"
               r"\s+of\b", re.I),
    re.compile(r"\b(?:based on|from|using|of|for|with|per|depicting|showing|featuring|starring)\s+"
               r"(?:the|this|these|that|those|my|our|her|his|their|each|every|all|both|two|three|four|\d+)?\s*"
               r"(?:[\w'-]+\s+){0,2}?(?:" + _SUBJECT_NOUNS + r")\b(?!')", re.I),  # "for this girl"
    # request filler around a count: "… would be great", "say four", "pls"
    re.compile(r"\b(?:would|will|'d) be (?:great|nice|good|lovely|ideal|perfect|awesome|helpful|fine)\b|"
               r"\bsay\b(?=\s+" + _NUMBER + r")|\b(?:please|pls|plz|thanks|thank you|maybe|perhaps|ideally|"
               r"roughly|about|around)\b", re.I),
    re.compile(_NUMBER + r"|\b(?:some|a few)\b", re.I),
    re.compile(r"\b(?:" + _UNIT + r")\b", re.I),
]
_ADJECTIVES = re.compile(r"\b(?:edited|new|different|separate|distinct|numbered|final|consistent|coherent|"
                         r"matching|high[- ]quality|total|each|every|per|one)\b", re.I)
_STOP_WORD = re.compile(r"(?:uploaded|source|reference|original|input|given|provided|attached|above|following|"
                        r"these|this|those|that|them|it|the|a|an|of|from|for|in|on|at|to|with|and|based|please|"
                        r"total|me|us|as|by|all|across|each|same|—|–|-)", re.I)
_SUBJECT_WORD = re.compile(_SUBJECT_NOUNS, re.I)
_BOOKKEEPING = re.compile(
    r"\b(?:series|set|sequence|collection|batch)\s+of\b|" + _NUMBER + r"\s+(?:[\w'-]+\s+){0,3}?(?:" + _UNIT
    + r")\b|\b(?:based on|from|using) (?:the|this|these|my)\s+(?:[\w'-]+\s+){0,2}?(?:" + _SUBJECT_NOUNS
    + r")\b|^(?:generate|create|produce)\b", re.I)


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


# --------------------------------------------------------------------------- colours

# the router's colour vocabulary is ``colors``' prompt vocabulary
_COLOR_NAMES = PROMPT_COLOR_NAMES
_COLOR_RX = PROMPT_COLOR_RX
_FINISH = FINISH_WORDS
_FINISH_RX = FINISH_RX
_BW = BLACK_AND_WHITE_RX
find_colors = prompt_colors


def colorway(text: str) -> dict[str, Any]:
    """'matte red + white outsole' → {'colors': {'primary': 'red', 'sole': 'white'}, 'finish': 'matte'}."""
    colors = colorway_phrases(text)
    params: dict[str, Any] = {"colors": colors} if colors else {}
    m = _FINISH_RX.search(text)
    if m:
        params["finish"] = _FINISH[m.group(1).lower()]
    return params


_COLOR_ONLY_NOISE = re.compile(
    r"\b(?:classic|leather|suede|canvas|mesh|knit|fabric|velvet|nubuck|rubber|patent|colou?rways?|colou?rs?|in|a|an|the|with|and|plus|upper|body|main|base|shell|all|"
    r"total|full|tonal|two[- ]tone|version|variant|edition|finish|" + "|".join(_FINISH) + r")\b", re.I)


def _is_colorway_line(text: str) -> bool:
    """True when the text is only colours, parts and finishes ('forest green + gum sole')."""
    if not find_colors(text):
        return False
    rest = _COLOR_RX.sub(" ", _BW.sub(" ", text))
    for rx in PART_RX.values():
        rest = rx.sub(" ", rest)
    rest = _COLOR_ONLY_NOISE.sub(" ", rest)
    return not re.sub(r"[\s+,/&().;:—–-]+", "", rest)


# --------------------------------------------------------------------------- per-op params

def _first(table: Iterable[tuple[str, str]], text: str) -> str | None:
    spaced = re.sub(r"(?<=[A-Za-z])-(?=[A-Za-z])", " ", text)  # "blade-runner" also reads "blade runner"
    for value, rx in table:
        if re.search(rx, text, re.I) or (spaced != text and re.search(rx, spaced, re.I)):
            return value
    return None


_STYLE = [
    ("popart", r"pop[- ]?art|warhol|silk-?screen|lichtenstein"),
    ("manga", r"manga|anime|screentone|japanese comic"),
    ("watercolor", r"watercolou?r|aquarelle|\bwash(?:es)?\b"),
    ("comic", r"comic|ben[- ]day|graphic novel|superhero"),
    ("cartoon", r"cartoon|\btoon|cel[- ]shad|animated|kids'? show|children'?s (?:book|show)|disney"),
    ("ink", r"\bink(?:ed|ing)?\b|pen (?:and ink|outlines?|drawing)|line[- ]?art|linework|outlines? only|"
            r"colou?ring[- ]book"),
    ("pencil", r"pencil|sketch|charcoal|graphite|crayon|drawn|drawing|doodle|hatching"),
    ("oil", r"\boil\b|impressionis|van gogh|monet|painterly|brush ?strokes?|canvas|impasto|painting|painted"),
]
_STYLE_UNKNOWN = r"pixel[- ]art|8[- ]bit|low[- ]poly|claymation|clay|lego|ukiyo|mosaic|stained glass|cubis|origami"
_LOOK = [
    ("cyberpunk", r"cyber-?punk|neon|blade runner|synthwave|vaporwave|futuristic glow"),
    ("golden_hour", r"golden[- ]hour|golden (?:glow|light|sun)"),
    ("noir", r"\bnoir\b|detective|1940s|forties|hard[- ]boiled"),
    ("bw", r"black[- ]and[- ]white|\bb\s*&\s*w\b|\bb/w\b|monochrom|gr[ae]yscale|desaturat|(?:drain|strip|remov|suck|tak)\w* (?:\w+ ){0,2}colou?rs?\b(?! (?:of|from) the)|"
           r"colou?rless|no colou?r|without colou?r|silver gelatin"),
    ("vintage", r"vintage|retro|kodak|film stock|analog(?:ue)?|old film|sepia|faded|70s|seventies|80s|eighties|"
                r"lomo|expired film|old photo|yellowed|nostalgi|snapshot|aged photo"),
    ("cold", r"\bcold\b|\bcool(?:er)? (?:tones?|colou?rs?|grade|look|blue|palette|cast)|icy|wintry|winter|frosty|blue tones?|teal tones?|chilly"),
    ("warm", r"\bwarm|honey|amber|cozy|cosy|sun-?kissed|toasty"),
]
# "night market", "nightclub", "night bus": night names a kind of place or thing, not the hour
_NIGHT_THINGS = (r"markets?|bazaars?|clubs?|clubbing|life|bus(?:es)?|trains?|shifts?|schools?|stands?|owls?|"
                 r"caps?|gowns?|dress(?:es)?|wear|mode|vision|lights?|stalls?|spots?|porters?|watch(?:man)?|"
                 r"guards?|classes?|creams?")
_TIME = [
    ("dawn", r"\bdawn\b|sunrise|first light|daybreak|early morning light|sun (?:comes|is coming|rises) up|"
             r"sun (?:is )?rising|rising sun"),
    ("dusk", r"\bdusk\b|twilight|blue hour|sun goes down|\bevening\b|nightfall"),
    ("sunset", r"sunset|sundown|setting sun|sun (?:is )?setting"),
    ("night", r"\bnight(?![- ]?(?:" + _NIGHT_THINGS + r")\b)|midnight|after dark|moonlight|moonlit|starry|nocturnal|\bdark out"),
    ("afternoon", r"afternoon"),
    ("noon", r"\bnoon\b|midday|mid-day|overhead sun|high sun"),
    ("morning", r"morning|\bam\b|breakfast time"),
]
_LIGHTING = [
    ("rim", r"\brim\b|edge[- ]light|halo|outline glow|kicker"),
    ("backlit", r"backlit|back-?light|from behind|silhouett|contre-?jour"),
    ("studio", r"studio light|softbox|three[- ]point|key light|beauty dish"),
    ("dramatic", r"dramatic|chiaroscuro|hard light|harsh|spotlight|candle|rembrandt|moody light|single (?:lamp|bulb)|"
                 r"deep shadows|strong (?:shadows?|light)"),
    ("soft", r"\bsoft|diffuse|window|gentle|even light|overcast|flattering"),
]
_SIDE = [("left", r"\bleft\b"), ("right", r"\bright\b"), ("top", r"\babove\b|\boverhead\b|\btop\b")]
# cutting away part of the picture: "trim off the empty space on the left", "cut away the dead space"
_TRIM = (r"\b(?:trim|cut|chop)(?:ping|med|s)? (?:off |away |down )?(?:(?:the|some|that|all the|a bit of) )?"
         r"(?:(?:empty|dead|blank|extra|negative|unused|wasted|excess) (?:space|room|area|margins?)|edges\b|"
         r"margins?\b|(?:left|right|top|bottom) (?:side|edge|strip|part|third|half)\b|"
         r"(?:left|right|top|bottom)\b(?=\s*(?:off|away|$|[,.;])))")
_FRAMING = [
    ("mirror", r"mirror|\bflip|faces? the other way|other direction|reverse[ds]?\b|horizontally"),
    ("aspect", r"\b\d{1,2}\s*[:×]\s*\d{1,2}\b|square|instagram|portrait orientation|landscape orientation|"
               r"vertical format|\bvertical\b|widescreen|banner|story format|reel|aspect"),
    ("closeup", r"close[- ]?up|close in|\btight|headshot|zoom(?:ed)? in|closer|detail shot|head and shoulders|face only|"
                r"macro|punch in|fills? the (?:frame|picture|image)|only the face"),
    ("medium", r"\bmedium|waist[- ]?up|half[- ]body|mid[- ]shot|from the waist|knees? up|front view|frontal"),
    ("wide", r"\bwide|zoom(?:ed)? out|pull(?:ed)? back|full[- ]body|whole (?:room|scene|body|thing)|establishing|"
             r"head to toe|more of the"),
    ("crop", r"\bcrop|reframe|re-frame|recompose|" + _TRIM),
]
_FRAME = [
    ("polaroid", r"polaroid|instant[- ](?:camera|film|print|photo)|instax|thick white bottom"),
    ("film", r"film[- ]?strip|sprocket|35 ?mm|film (?:frame|border|edges?)|negative"),
    ("rounded", r"rounded|round(?:ed)? corners|corners"),
    ("border", r"border|frame|edge|mat\b|passe-?partout|outline"),
]
# two (or three) images shown as one comparison: diptych, triptych, before/after, side by side
_COMPARISON = r"\b(?:dipt|tript)ychs?\b|\bbefore\s*(?:[-/|]\s*)?(?:(?:and|&|vs\.?|versus)\s*-?\s*)?after\b"
_SIDE_BY_SIDE = _COMPARISON + r"|side[- ]by[- ]side"
_LAYOUT = [
    ("storyboard", r"storyboards?|story ?board|director'?s board|shot board"),
    ("comic_page", r"comic(?:[- ]book)? (?:page|strip)|graphic novel|manga page|page (?:of|from) a (?:comic|manga)|"
                   r"panels on a page|page (?:of|with) panels"),
    ("side_by_side", _SIDE_BY_SIDE + r"|next to each other|beside each other|\bpair\b|left and right halves|"
                     r"one on the left(?:,| and) (?:one|the other) on the right"),
    ("grid", r"\bgrid|\d\s*[x×]\s*\d|contact sheet|collage|mosaic|tiles?d?\b|montage"),
]
_REMOVE = [
    ("watermark", r"watermark|(?:date|time) ?stamp|stamp|logo overlay|\blogo\b"),
    ("scratches", r"scratch|crease|tear|crack|fold lines?|scuff"),
    ("dust", r"\bdust|specks?|flecks?|spots|blemish|noise|lint"),
    ("text", r"\btext|writing|words|letters|caption|subtitles?|graffiti|signature|lettering|sign\b"),
]
_THIN = re.compile(r"wires?|power ?lines?|cables?|strings?|threads?|hairs?\b|stray hair|poles?|lines\b", re.I)
_BACKGROUND = [
    ("reference", r"(?:second|other|another|first|third|fourth|last|\d(?:st|nd|rd|th)) (?:photo|image|picture|"
                  r"reference|shot)|(?:photo|image|picture|reference) (?:#\s*)?\d"),
    ("blur", r"\bblur|bokeh|out of focus|defocus|shallow depth|soft focus"),
    ("gradient", r"gradient|ombr[eé]|fade from"),
    ("city", r"\bcity|street|skyline|urban|downtown|metropolis|skyscrapers?|cyberpunk"),
    ("studio", r"studio|seamless|sweep|plain|neutral|clean backdrop|simple backdrop|paper backdrop|infinity cove"),
    ("remove", r"transparent|cut(?:ting)? (?:\w+ )?out|isolate|remove (?:the )?(?:background|backdrop|bg)|"
               r"no (?:background|backdrop)|without (?:a |the |any )?(?:background|backdrop)|alpha|\bpng\b|"
               r"knock out|green ?screen|surroundings|delete (?:the )?(?:background|backdrop)"),
]
_ORDINALS = {"first": 0, "second": 1, "other": 1, "another": 1, "third": 2, "fourth": 3, "last": -1}
_GENERATIVE = [
    ("face_swap", r"face ?-?swap|swap (?:his|her|their|the|our|my) faces?|(?:his|her|my|their) face (?:onto|on)|"
                  r"replace (?:the|his|her) face|put (?:his|her|my) face"),
    ("hairstyle", r"hair ?style|haircut|hair ?cut|hairdo|\bbob\b|braids?|braided|ponytail|bangs|updo|dreadlocks?|"
                  r"mohawk|buzz ?cut|pixie|shaved head|\bbald|(?:curly|straight|wavy|long|short|shoulder-length|"
                  r"spiky|slicked[- ]back) hair|\bperm\b|\bafro\b|cornrows|new hair"),
    ("age", r"\bages?\b|\baged\b|\bat (?:the age of )?\d{1,3}\b(?![:%x×\d])|years? old|\d{1,3}[- ]years?[- ]old|"
            r"\bolder\b|\byounger\b|elderly|old (?:man|woman|lady|age)|wrinkl|as a (?:child|kid|baby|toddler|teen|"
            r"teenager|grown)|toddler|grown[- ]up|grow(?:s|ing)? up|childhood|in (?:his|her|their) \d0s|"
            r"when (?:he|she|they) (?:was|were|is)|de-?age|ag(?:e)?ing|as an adult|senior|retire|"
            r"in (?:his|her|their) (?:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)"),
    ("view", r"\b(?:left|right|back|rear|side|profile|top|overhead|three[- ]quarters?|3/4|underside|bottom)"
             r"[- ](?:view|angle|profile|shot)|\bprofile\b|(?:seen|viewed|shot|shown|photographed) from|"
             r"from behind|from the (?:back|side)|rear of|back of (?:the|her|his)|turn(?:ed)? around|other side|"
             r"360|turnaround|bird'?s[- ]eye|from (?:the )?(?:sole|underneath|bottom|below) up|from underneath"),
    ("pose", r"\bpos(?:e|es|ing)\b|\bsit(?:s|ting)?\b|\bstand(?:s|ing)?\b|kneel|lying|lie down|\bjump|dancing|\bdance|"
             r"arms? (?:raised|crossed|up|folded|out)|hands? on|\brun(?:s|ning)?\b|waving|\bwave\b|\bhug|\bkiss|"
             r"holding hands|cross-legged|lean(?:s|ing)?\b|crouch|squat|stretch"),
    ("expression", r"\bsmil|laugh|frown|\bcry|crying|\bsad\b|angry|surprised|shocked|\bwink|\bgrin|expression|"
                   r"tears|scream|pout|happy face|serious face"),
    ("outfit", r"outfit|wearing|dressed|dress (?:him|her|them|me)|tuxedo|gown|costume|uniform|clothes|clothing|"
               r"put (?:him|her|them) in (?:a|an)|change (?:his|her|their) (?:shirt|clothes|jacket)"),
    ("person", r"add (?:a|an|another|one more|some)? ?(?:second )?(?:person|man|woman|child|kid|friend|boyfriend|"
               r"girlfriend|people|crowd|family)|second person|crowd of|another person|someone"),
    ("object", r"sunglasses|glasses|\bhat\b|\bcap\b|necklace|earrings|holding|figurine|\b3d\b|\btoy\b|"
               r"(?:add|put) (?:a|an|some)\b(?! (?:[\w-]+ ){0,2}(?:caption|lower[- ]third|title|border|frame|text|label|headline|"
               r"light|glow|rim|vignette|grade|filter|gradient|backdrop|background|tint|shadow|blur|logo|"
               r"tagline|subtitle|polaroid|edge|mat|grid|crop))|\bwith a (?:dog|cat|car|bike|balloon|cup)"),
    ("story", r"\bstor(?:y|ies)\b|\blife\b|\blives\b|daily|routine|adventure|journey|\bmeet|\bdate\b|wedding|"
              r"romance|\blove\b|day in the|chapter|\bthen\b|happens|\btale\b|narrative|episode"),
    ("scene", r"\b(?:beach|forest|mountain|paris|tokyo|london|new york|office|kitchen|(?:outer|in|into) space\b|moon\b|"
              r"jungle|desert|cafe|café|restaurant|park\b|garden|underwater|snow|castle|walking through|"
              r"exploring|travel|in front of|(?:night |street |flea |farmers'? )?market|bazaar|festival|concert|"
              r"stadium|nightclub|airport)"),
]
_STORY_WHAT = {"story"}


def _aspect(text: str) -> str | None:
    m = re.search(r"\b(\d{1,2})\s*[:×]\s*(\d{1,2})\b", text)
    if m:
        return f"{int(m.group(1))}:{int(m.group(2))}"
    if re.search(r"square|instagram(?! stor)", text, re.I):
        return "1:1"
    if re.search(r"widescreen|banner|cinema", text, re.I):
        return "16:9"
    if re.search(r"vertical|story format|reel|stories", text, re.I):
        return "9:16"
    if re.search(r"portrait orientation", text, re.I):
        return "4:5"
    return None


def _quoted(text: str) -> str | None:
    m = (re.search(r"[\"“”«]([^\"“”«»]+)[\"“”»]", text)
         or re.search(r"(?<![A-Za-z])['‘]([^'‘’]+)['’](?![A-Za-z])", text))
    if m:
        return m.group(1).strip()
    m = _TEXT_LABEL.match(text)
    if m:
        return text[m.end():].strip(" .\"'") or None
    m = re.search(r"\b(?:reading|saying|says|titled|entitled|called|with the (?:words?|text|title))\s+(.+)$", text, re.I)
    if m:
        return m.group(1).strip(" .\"'")
    m = re.search(r"\b(?:text|tagline|slogan|caption|words?|title|label|headline)\s+(?!(?:at|on|in|to|that|with|of|"
                  r"the|a|an|for|here|bar|strip|reading|saying|says)\b)(.+?)(?:\s+(?:below|above|under|underneath|"
                  r"beneath|on|at|in|across|along|over)\b.*)?$", text)
    if m:
        return m.group(1).strip(" .\"'")
    m = re.search(r"\b([A-Z][A-Z0-9!&' -]{2,}[A-Z0-9!])\b", text)
    return m.group(1).strip() if m else None


def _position(text: str) -> str | None:
    return _first([("top", r"\btop\b|above|header|over the"), ("bottom", r"bottom|below|underneath|beneath|footer|"
                                                                           r"under\b")], text)


_UNRESOLVED = "unresolved"  # the op fits but its parameters are missing: report the clause, run nothing


def _params(op: str, clause: str, whole: str | None = None) -> tuple[dict[str, Any], str | None, str]:
    """Params of ``op`` in ``clause``, and a verdict override with its note (None = the default).

    The override ``_UNRESOLVED`` means the clause reads like ``op`` but names none of its
    parameters ("add a label", "recolour it"): the router reports such a clause instead of guessing.
    ``whole`` is the full clause when ``clause`` is what is left of it once bookkeeping is stripped
    ("three colour options" → "colour"): a request for colour variants is read from the whole.
    """
    t = clause
    if op == "recolor":
        p = colorway(t)
        if re.search(r"\bhair\b|blonde|brunette|auburn|redhead", t, re.I):
            p["target"] = "hair"
            return p, "approximate", "hair colour is a wig-like approximation"
        if re.search(r"\b(?:dress|shirt|t-shirt|jacket|coat|hoodie|sweater|jumper|pants|trousers|jeans|skirt|"
                     r"suit|blouse|outfit|scarf|clothes)\b", t, re.I):
            p["target"] = "clothes"
        if not p.get("colors"):
            if re.search(r"colou?rways?|colou?r (?:variants?|versions?|options?|variations?)|different colou?rs",
                         whole or t, re.I):
                return p, "approximate", "no colour named: the engine picks distinct colourways"
            return p, _UNRESOLVED, "no colour named"
        return p, None, ""
    if op == "background":
        kind = _first(_BACKGROUND, t)
        colors = find_colors(t)
        if kind in (None, "studio", "remove") and colors and re.search(
                r"onto|on (?:a|an)?|against|background|backdrop|wall|behind", t, re.I):
            return {"kind": "color", "color": colors[0][1]}, None, ""
        if kind is None:
            return {}, "unsupported", "no procedural backdrop for this setting: needs a generative engine"
        p: dict[str, Any] = {"kind": kind}
        if kind == "reference":
            m = re.search(r"(?:photo|image|picture|reference) (?:#\s*)?(\d)", t, re.I)
            if m:
                p["ref"] = max(0, int(m.group(1)) - 1)
            else:
                word = re.search(r"\b(first|second|other|another|third|fourth|last)\b", t, re.I)
                p["ref"] = _ORDINALS.get(word.group(1).lower(), 1) if word else 1
        if kind == "city":
            return p, None, "procedural city backdrop (not a photographed place)"
        return p, None, ""
    if op == "style":
        style = _first(_STYLE, t)
        if style is None or re.search(_STYLE_UNKNOWN, t, re.I):
            what = re.search(_STYLE_UNKNOWN, t, re.I)
            return ({"style": what.group(0).lower() if what else None}, "unsupported",
                    "no such style in the classic engine")
        return {"style": style}, None, ""
    if op == "look":
        look = _first(_LOOK, t)
        if look is None:
            return {}, _UNRESOLVED, "no known colour grade named"
        return {"look": look}, None, ""
    if op == "time_of_day":
        when = _first(_TIME, t)
        return ({"time": when} if when else {}), (None if when else _UNRESOLVED), \
            "grade and sky tint, not a relit scene" if when else "time of day not recognised"
    if op == "lighting":
        p = {"kind": _first(_LIGHTING, t) or "soft"}
        side = _first(_SIDE, t)
        if side:
            p["side"] = side
        return p, None, "pseudo-3D relight"
    if op == "framing":
        if re.search(r"\brotat|\btilt|\bdegrees?\b|upside", t, re.I):
            return {"kind": "rotate"}, "unsupported", "rotation is not in the classic vocabulary"
        kind = _first(_FRAMING, t)
        if kind is None:
            return {}, _UNRESOLVED, "no framing kind named"
        p = {"kind": kind}
        if kind == "aspect":
            p["aspect"] = _aspect(t) or "1:1"
        if re.search(r"front view|frontal", t, re.I):
            return p, "approximate", "front view = the reference as it is (assumes a front-facing reference)"
        if kind == "wide":
            return p, "approximate", "wide framing extends the borders; nothing new is painted"
        return p, None, ""
    if op == "frame":
        p = {"kind": _first(_FRAME, t) or "border"}
        colors = find_colors(t)
        if colors:
            p["color"] = colors[0][1]
        return p, None, ""
    if op == "caption":
        p = {}
        text = _quoted(t)
        if text:
            p["text"] = text
        pos = _position(t)
        if pos:
            p["position"] = pos
        return p, (None if text else _UNRESOLVED), "" if text else "no caption text given"
    if op == "cover":
        p = {}
        title = _quoted(t)
        if title and not re.fullmatch(r"(?i)vogue|magazine", title):
            p["title"] = title
        if re.search(r"photo ?shoots?|shoots?\b|editorial spread", t, re.I):
            return p, "approximate", "covers from the given photos, varied by crop, grade and layout; no new poses"
        return p, None, ""
    if op == "layout":
        kind = _first(_LAYOUT, t) or ("grid" if re.search(r"arrange|combine|layout|together", t, re.I) else None)
        if kind is None:
            return {}, _UNRESOLVED, "no layout kind named"
        if kind in ("storyboard", "comic_page"):
            return {"kind": kind}, "approximate", "panels are re-crops of the references: no new story beats"
        return {"kind": kind}, None, ""
    if op == "remove":
        what = _first(_REMOVE, t)
        if what is None:
            if _THIN.search(t):
                return {"what": "object"}, "approximate", "thin objects only: inpainted"
            return {"what": "object"}, "unsupported", "removing large objects needs a generative engine"
        return {"what": what}, None, ""
    if op == "generative":
        what = _first(_GENERATIVE, t) or "scene"
        if what in ("story", "scene") and re.search(r"\b(?:dress|t-?shirt|shirt|jacket|coat|suit|jeans)\b", t, re.I):
            what = "outfit"
        return {"what": what}, "unsupported", _GEN_NOTES.get(what, "needs new content: a generative engine")
    return {}, None, ""


_GEN_NOTES = {
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

# --------------------------------------------------------------------------- lexicon and prototypes

_NEWSSTAND = r"news-?stands?|news ?agents?|magazine (?:rack|stand|shelf|shelves|aisle)|(?:on|at) (?:a |the )?kiosk"
LEXICON: dict[str, str] = {
    "recolor": r"colou?rways?|re-?colou?r|\bdye|\btint (?:the|her|his|it)|colou?r (?:change|variant|swap|version)|"
               r"\bin (?:a |an )?(?:" + _COLOR_RX.pattern + r")|"
               r"(?:make|paint|turn|switch|change|repaint|swap|give|should be|be|come in|instead)\b.*(?:"
               + _COLOR_RX.pattern + r")|(?:" + _COLOR_RX.pattern + r").*\b(?:instead|finish|colou?r(?:ed)?|"
               r"version|edition|variant)\b",
    "background": r"background|backdrop|\bbg\b|behind (?:her|him|them|it|the)|surroundings|setting|"
                  r"cut (?:\w+ )?out|transparent|isolate|green ?screen|skyline|seamless|sweep|studio|"
                  r"(?:on|against|onto) (?:a |an )?(?:[\w-]+ ){0,3}(?:wall|backdrop|background|white|sweep)|"
                  r"\bon (?:pure |plain |solid )?(?:white|black|gr[ae]y)\s*$",
    "style": "|".join(rx for _, rx in _STYLE) + "|" + _STYLE_UNKNOWN + r"|\bstyle\b|illustrat|art\b",
    "look": "|".join(rx for _, rx in _LOOK) + r"|grade|grading|\blook\b(?! like)|filter|\bmood|\bvibe|tones?\b|feel\b",
    "time_of_day": "|".join(rx for _, rx in _TIME) + r"|time of day|daytime|\bday\b",
    "lighting": r"lighting|\blit\b|\blight(?:s|ed)?\b|illuminat|lamp|relight|shadow|glow|"
                + "|".join(rx for _, rx in _LIGHTING[:4]),
    "framing": "|".join(rx for _, rx in _FRAMING) + r"|framing|\bzoom|\bshot\b",
    "frame": r"border|\bframe (?:it|around)|frame the (?:photo|image|picture|print)|(?:a|an|the|white|black|gold|thin|thick|wooden) frame\b(?! (?:from|of|in)\b)|"
             r"polaroid|instant[- ]camera|film[- ]?strip|sprocket|rounded|corners|\bedges?\b|surround",
    "caption": r"caption|subtitle|tagline|\blabel|\btext\b|\bwords?\b|write|lettering|headline|says|reading|"
               r"[\"“]|\btitle\b",
    "cover": r"magazine|\bcover|vogue|masthead|editorial|front page|an issue of|photo ?shoots?|" + _NEWSSTAND + r"|glossy mag|cover lines|\bglossy\b",
    "layout": "|".join(rx for _, rx in _LAYOUT) + r"|layout|arrange|combine|together|page",
    "remove": r"\bremove|\berase|delete|get rid|clean (?:up|off|the)|inpaint|retouch|take (?:\w+ ){0,3}out|"
              r"get (?:\w+ ){0,3}out of|out of (?:the )?(?:picture|shot|frame|photo|image)|take (?:\w+ ){0,3}off|"
              r"\bheal|repair|restore|fix the (?:scratch|crack|tear|dust|spot)|"
              r"\blose the|without the|scrub|wipe",
    "generative": "|".join(rx for _, rx in _GENERATIVE),
    "keep": _KEEP.pattern[1:] + r"|stay|unchanged|untouched|intact|must not|should not|same",
    "meta": r"generate|series of|set of|\boutputs?\b|\bper panel\b|numbered",
}
_LEX = {op: re.compile(rx, re.I) for op, rx in LEXICON.items()}

PROTOTYPES: dict[str, list[str]] = {
    "recolor": ["change the colour of the shoe to navy blue", "make the jacket red", "recolor the car matte black",
                "the same product in a different colorway", "dye her hair platinum blonde",
                "white upper with a black logo and a gum sole", "turn the sofa fabric teal",
                "a version of the sneaker in pastel colours", "repaint the walls of the house light grey",
                "available in several colour options", "her coat in a darker shade of blue"],
    "background": ["replace the background with a studio backdrop", "remove the background",
                   "put the subject on a white background", "change the backdrop to a city street",
                   "make the background transparent", "blur the background behind the person",
                   "use the other photo as the background", "cut out the product", "a clean grey backdrop",
                   "separate the person from the scene behind her", "put him in front of a plain wall"],
    "style": ["turn the photo into a pencil sketch", "make it look like a watercolor painting", "cartoon style",
              "oil painting version", "pop art style poster", "black and white manga with screentones",
              "render it as a comic book illustration", "hand-drawn ink line art", "paint it like van gogh"],
    "look": ["give it a cyberpunk neon colour grade", "vintage film look", "film noir mood",
             "warm golden hour tones", "cold blue winter colour grading", "make it black and white",
             "a retro faded film filter", "moody cinematic colour grade", "warm cozy colour tones"],
    "time_of_day": ["make it night time", "same scene at sunset", "change the time of day to morning",
                    "show it at dusk", "the street at noon", "at dawn with early light",
                    "in the afternoon", "late at night under street lamps"],
    "lighting": ["relight the portrait from the left", "add a blue rim light", "dramatic studio lighting",
                 "soft window light on her face", "backlit by the sun", "a spotlight from above",
                 "light the face with a softbox", "moody low-key lighting with hard shadows"],
    "framing": ["close-up of the face", "wide shot", "crop to a headshot", "zoom in on the product",
                "mirror the image horizontally", "crop to 4:5 portrait", "medium shot from the waist up",
                "full body shot", "a tighter crop", "flip the picture so he looks to the left",
                "a close-up of her face and eyes", "zoom out to show more of the scene around her"],
    "frame": ["add a white polaroid frame", "add a thin border", "put a wooden picture frame around it",
              "film strip frame", "rounded corners", "a black frame around the photo"],
    "caption": ["add a caption at the bottom", "put the title text on top", "write the product name under it",
                "add the text 'hello' in bold letters", "a label with the date", "subtitle text along the bottom"],
    "cover": ["make it a magazine cover with headlines", "fashion magazine cover with a masthead",
              "Vogue style cover", "magazine photoshoot for the models", "an editorial magazine spread cover",
              "cover of a glossy magazine with cover lines"],
    "layout": ["combine the two images side by side", "arrange them in a storyboard", "make a collage of all photos",
               "lay the panels out as a comic page", "a grid of the pictures", "a film storyboard sheet",
               "put the photos next to each other", "a contact sheet of the shots",
               "show the original and the edit next to each other as a comparison"],
    "remove": ["remove the text from the image", "erase the watermark", "get rid of the scratches",
               "delete the writing on the sign", "clean up dust and spots on the old photo",
               "remove the wires in the sky", "retouch out the blemishes",
               "wipe the lettering off the wall", "take the people out of the background"],
    "generative": ["give her a different hairstyle", "him at age 65", "make her smile",
                   "change his pose to sitting", "dress her in a red evening gown", "the girl riding a bike",
                   "add a dog next to him", "turn the character into a 3D figurine",
                   "draw a new scene with the same character", "the back of the character",
                   "the two of them on a date", "a story of her life", "put a hat on him",
                   "swap the faces of the two people", "show her as a little child"],
    "keep": ["keep the logo the same", "maintain the same lighting and angle", "preserve her identity",
             "ensure consistent proportions", "do not change the face", "everything else stays the same",
             "same shoe model in all panels", "keeping the background untouched"],
    "meta": ["generate a series of 4 images", "create three pictures from the reference photo",
             "make 2 edited images based on the source", "a set of five outputs",
             "from the uploaded photos", "for this character"],
}


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


# --------------------------------------------------------------------------- one clause

_HARD: list[tuple[str, re.Pattern[str]]] = [
    ("generative", re.compile(r"\b(?:left|right|back|rear|side|profile|three[- ]quarters?|3/4|top)[- ](?:side )?"
                              r"(?:view|angle)\b", re.I)),
    ("framing", re.compile(r"(?<!at )\b\d{1,2}\s*:\s*\d{1,2}\b(?!\s*[ap]\.?m)(?!.*\b(?:grid|storyboard|cover|"
                           r"caption|border|frame)\b)", re.I)),
    ("generative", re.compile(r"^(?!.*\b(?:light|lit|lighting|lamp|glow|shadows?|sun)\b).*(?:"
                              r"\bprofile (?:shot|view|angle)|\bin profile\b|\bside profile|from behind|"
                              r"from (?:the|her|his|its|their) (?:left|right|back|rear) side|"
                              r"(?:seen|viewed|shot|shown|photographed) from (?:the )?(?:side|back|behind|rear|above|below|"
                              r"sole|underneath|bottom))",
                              re.I)),
    ("framing", re.compile(r"\b(?:front|frontal)[- ]view\b", re.I)),
    ("generative", re.compile(r"^\s*(?:at\s+)?ages?\s+\d{1,3}\b|\bat (?:the )?ages? (?:of )?\d{1,3}|\bages \d", re.I)),
    ("generative", re.compile(r"hair ?style|haircut|hairdo", re.I)),
    ("generative", re.compile(r"face ?-?swap|swap (?:his|her|their|the) faces?|"
                              r"\b(?:his|her|my|their|the) face (?:onto|on) (?:his|her|my|their|the|a|an)\b", re.I)),
    ("generative", re.compile(r"\bat (?:the )?age (?:of )?\d|\b\d{1,3}[- ]years?[- ]old\b|\byears old\b|"
                              r"\bin (?:his|her|their) (?:\d0s|twenties|thirties|forties|fifties|sixties|seventies|"
                              r"eighties|nineties)|\bas an? (?:old|elderly|grown|older|younger) (?:man|woman|lady|adult|"
                              r"person)|\bas a (?:child|kid|baby|toddler|teenager)\b", re.I)),
]
_COMPANIONS: list[tuple[str, re.Pattern[str]]] = [
    ("look", re.compile(r"cyber-?punk|\bneon\b|\bnoir\b|golden[- ]hour|vintage|retro|black[- ]and[- ]white|"
                        r"monochrome|sepia", re.I)),
    ("style", re.compile(r"manga|anime|watercolou?r|pencil sketch|oil paint|pop[- ]art|cartoon|comic[- ]book|"
                         r"comic style|comic strip", re.I)),
    ("layout", re.compile(r"storyboards?|comic(?:[- ]book)? page|\bgrid\b|collage|side[- ]by[- ]side", re.I)),
    ("background", re.compile(r"\b(?:in|into|on|against|through) (?:a|an|the)? ?(?:[\w-]+ ){0,2}"
                              r"(?:city|skyline|street|metropolis|studio)\b", re.I)),
    ("time_of_day", re.compile(r"\bat (?:night|sunset|dawn|dusk|noon|midnight|sunrise)\b|after dark|"
                               r"as the sun (?:comes up|rises|sets|goes down)", re.I)),
]
_TYPO = [(re.compile(r"\bonce[- ]view\b", re.I), "front view")]

# ---- phrase rules: whole classes of phrasing that name their operation without a keyword

_QUOTE_OPEN = r"[\"“'‘«]"
_OBJECT_ADD = dict(_GENERATIVE)["object"]
_EXISTING_TEXT = (r"\b(?:subtitles?|captions?|text|writing|words|letter(?:s|ing)|watermarks?|signature|graffiti|"
                  r"(?:date|time) ?stamps?|credits|title cards?)\b")
_TAKE_AWAY = (r"\b(?:remove|erase|delete|get rid|take (?:\w+ ){0,3}(?:out|off)|lose the|without (?:the|any)|scrub|"
              r"wipe|clean (?:off|up)|strip (?:out|off|away)|ditch|drop the)\b")
_BURNED_IN = r"\b(?:burn(?:ed|t)|baked|hard-?coded|stamped|printed)[- ]?(?:in(?:to)?|on(?:to)?)\b|\bhard-?subs?\b"
_HAIR_ETC = r"\b(?:hair|beard|fringe|bangs|mo?ustache|nails?|hedge|bush|grass|lawn|tree)\b"
_PLAIN_COLOR = (r"\b(?:solid|plain|flat|pure|just|only|uniform|simple|nothing but)\s+(?:an?\s+)?"
                r"(?:" + _COLOR_RX.pattern + r")(?=\s*(?:$|[,.;!]|there\b|behind\b|background|backdrop|bg\b|wall|"
                r"instead\b|colou?r\b|everywhere|all around|around|in the back))")
_BACKDROP_PLACE = r"\bbehind\b|background|backdrop|\bbg\b|scenery|surroundings|\bsetting\b|\bthere\b|\bwall\b"
_BACKDROP_SWAP = (r"\b(?:against|in front of)\s+(?:an?|the|some)?\s*(?:[\w'-]+\s+){0,4}?[\w'-]+\s+"
                  r"(?:instead of|rather than|in place of)\s+(?:the|an?|that|this|those|these|his|her|their|our|my|its)\b")
# "put them at a crowded night market eating street food": a person placed somewhere, doing something
_PLACED = re.compile(r"\b(?:put|place|set|drop|show|have|take|send)\s+(?:him|her|them|us|me|the\s+(?:[\w-]+\s+)?"
                     r"(?:couple|family|kids|children|two|three|group|friends|pair|girls?|boys?|man|men|woman|women|"
                     r"people|dog|cat|characters?))\s+(?:at|in|inside|into|on)\s+(?:an?|the|some)\s+"
                     r"((?:[\w'-]+\s+){0,4}?)(\w+ing)\b", re.I)
_ING_NOT_ACTION = {"showing", "featuring", "depicting", "matching", "using", "keeping", "including", "lighting",
                   "setting", "building", "morning", "evening", "ceiling", "clothing", "painting", "drawing",
                   "something", "nothing", "everything", "anything", "thing", "ring", "king", "spring", "string",
                   "wing", "ending", "background", "styling", "framing", "colouring", "coloring", "wedding"}
_RENDERABLE_PLACE = re.compile(r"background|backdrop|\bwall\b|studio|sweep|\bgrid\b|collage|layout|storyboard|"
                               r"frame|border|polaroid|style|\blight|glow|shadow|colou?r|filter|grade|\btone", re.I)


_ARRANGED = _SIDE_BY_SIDE + r"|comic(?:[- ]book)? page|manga page|\b(?:beside|next to|alongside) (?:each other|one another)\b"
_COLORED_FRAME = (r"(?:" + _COLOR_RX.pattern + r")(?:\s+[\w-]+){0,2}?\s+(?:passe-?partout|mat(?:\s?board)?|mount|"
                  r"border|frame)\b")
_FRAMED_THINGS = r"\b(?:glasses|spectacles|sunglasses|bike|bicycle|door|window|bed|mirror frame|car)\b"


_ADDED_THING = (r"\b(?:add|put|place|hang|stick|insert|include)\s+(?:in\s+)?(?:a|an|some|two|three|four|\d+)\s+"
                r"(?:[\w'-]+\s+){0,3}?(?:signs?|billboards?|posters?|lamps?|lanterns?|plants?|trees?|cars?|people|"
                r"persons?|man|woman|child|kids?|dogs?|cats?|birds?|balloons?|flowers?|chairs?|tables?|boxes|"
                r"bottles?|cups?|hats?|umbrellas?|buildings?|clouds?)\b")


def _placed_in_scene(t: str) -> bool:
    m = _PLACED.search(t)
    return bool(m) and m.group(2).lower() not in _ING_NOT_ACTION and not _RENDERABLE_PLACE.search(m.group(1))


def _color_finish_look(t: str) -> bool:
    """'a brushed metallic gold look': a colour (and finish) called a look is a recolour, not a grade."""
    return (_first(_LOOK, t) is None and re.search(
        r"(?:" + _COLOR_RX.pattern + r")(?:\s+[\w-]+){0,2}?\s+(?:look|finish|sheen|effect|paint ?job|coating)\b",
        _BW.sub(" ", t), re.I) is not None)


_PHRASE_RULES: list[tuple[str, Any]] = [
    # a caption named by its text: "that reads '…'", "a lower-third saying '…'", "caption: …"
    ("caption", lambda t: (bool(_TEXT_LABEL.match(t))
                           or bool(re.search(r"\b(?:reads?|reading|says?|saying)\s*:?\s*" + _QUOTE_OPEN + r"|"
                                             r"lower[- ]thirds?\b.*" + _QUOTE_OPEN, t, re.I)))
                          and not _LEX["remove"].search(t) and not re.search(_OBJECT_ADD, t, re.I)),
    # text already in the picture, taken away: "lose the subtitles", "the burned-in captions"
    ("remove", lambda t: bool(re.search(_EXISTING_TEXT, t, re.I))
                         and bool(re.search(_TAKE_AWAY, t, re.I) or re.search(_BURNED_IN, t, re.I))),
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
        return len(diff) <= 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long_)) if x != y), len(short))
    return short[i:] == long_[i + 1:]


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
    return OpSpec(name=op, params=params, clause=clause, verdict=verdict or OPERATIONS[op][0],  # type: ignore[arg-type]
                  confidence=round(min(1.0, confidence), 3), note=note)


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
        return [], Reported(where, clause, primary, round(confidence, 3), primary, round(confidence, 3),
                            f"reads like {primary} but {first}")
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


# --------------------------------------------------------------------------- a whole plan

def route_text(text: str, where: int = 0) -> tuple[list[OpSpec], list[Reported]]:
    """Ops and reported clauses of one instruction text."""
    ops: list[OpSpec] = []
    reported: list[Reported] = []
    for clause in split_clauses(text):
        got, rep = classify_clause(clause, where)
        ops.extend(got)
        if rep is not None:
            reported.append(rep)
    return ops, reported


def route(plan: Plan) -> RoutedPlan:
    """Route every clause of ``plan`` (shared instruction and panel texts) to operations."""
    shared, reported = route_text(plan.shared, 0)
    own: list[list[OpSpec]] = []
    for panel in plan.panels:
        ops, rep = route_text(panel.text, panel.index) if panel.text.strip() else ([], [])
        own.append(ops)
        reported.extend(rep)
    shared = _demote_colorway_hint(shared, plan, own)
    shared, own, upgraded = _story_policy(shared, own)
    effective = [_merge([o for o in shared if not (up and _is_story(o))], ops) for ops, up in zip(own, upgraded)]
    return RoutedPlan(shared=shared, panels=own, effective=effective, reported=reported)


def _merge(shared: list[OpSpec], own: list[OpSpec]) -> list[OpSpec]:
    names = {o.name for o in own}
    out = [o for o in shared if o.name != "meta" and (o.name in _ACCUMULATE or o.name not in names)]
    out += [o for o in own if o.name != "meta"]
    return out


def _demote_colorway_hint(shared: list[OpSpec], plan: Plan, own: list[list[OpSpec]]) -> list[OpSpec]:
    """A shared colourless recolour ("change only the colorway per panel") is a hint when panels say the colours."""
    with_text = [ops for p, ops in zip(plan.panels, own) if p.text.strip()]
    if not with_text or not all(any(o.name == "recolor" and o.params.get("colors") for o in ops)
                                for ops in with_text):
        return shared
    return [replace(o, name="meta", params={"hint": "recolor"}, verdict="supported",
                    note="colours come from the panel lines")
            if o.name == "recolor" and not o.params.get("colors") else o for o in shared]


def _is_story(o: OpSpec) -> bool:
    return o.name == "generative" and o.params.get("what") in _STORY_WHAT


def _story_policy(shared: list[OpSpec], own: list[list[OpSpec]]
                  ) -> tuple[list[OpSpec], list[list[OpSpec]], list[bool]]:
    """Story/life + a look or style → approximate: varied framings of the references (see module doc).

    Returns the shared ops, the panels' own ops and, per panel, whether its story was approximated.
    """
    setting = {"look", "style"}
    shared_story = [o for o in shared if _is_story(o)]
    shared_setting = any(o.name in setting for o in shared)
    new_own: list[list[OpSpec]] = []
    upgraded: list[bool] = []
    for k, ops in enumerate(own):
        stories = [o for o in ops if _is_story(o)] + shared_story
        if not stories or not (shared_setting or any(o.name in setting for o in ops)):
            new_own.append(ops)
            upgraded.append(False)
            continue
        kept = [o for o in ops if not _is_story(o)]
        if not any(o.name == "framing" for o in kept):
            kept.append(OpSpec("framing", {"kind": FRAMING_CYCLE[k % len(FRAMING_CYCLE)]}, stories[0].clause,
                               "approximate", stories[0].confidence,
                               "story approximated: the references re-framed with the look/style; "
                               "no new actions or places"))
        new_own.append(kept)
        upgraded.append(True)
    if shared_story and all(upgraded):
        shared = [o for o in shared if not _is_story(o)]
    return shared, new_own, upgraded
