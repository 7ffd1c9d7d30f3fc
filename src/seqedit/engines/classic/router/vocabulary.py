"""The router's per-operation vocabulary: parameter tables, parameter parsing, lexicon and prototypes.

Colour phrases come from ``colors.py`` (the engine's one colour vocabulary). ``params(op, text)``
reads an operation's parameters by regex (colour phrases by part, finish, style/look/time/lighting/
framing/frame/background kinds, quoted caption text, ``W:H`` aspect) with a verdict override and its
note; ``LEXICON`` (keyword boost) and ``PROTOTYPES`` (MiniLM nearest-prototype sentences) feed the
classifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from seqedit.engines.classic.colors import (
    BLACK_AND_WHITE_RX,
    FINISH_RX,
    FINISH_WORDS,
    PART_RX,
    PROMPT_COLOR_NAMES,
    PROMPT_COLOR_RX,
    colorway_phrases,
    prompt_colors,
)
from seqedit.engines.classic.router.bookkeeping import _KEEP
from seqedit.engines.classic.router.clauses import _TEXT_LABEL

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
    r"total|full|tonal|two[- ]tone|version|variant|edition|finish|" + "|".join(_FINISH) + r")\b",
    re.I,
)


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
    (
        "ink",
        r"\bink(?:ed|ing)?\b|pen (?:and ink|outlines?|drawing)|line[- ]?art|linework|outlines? only|"
        r"colou?ring[- ]book",
    ),
    ("pencil", r"pencil|sketch|charcoal|graphite|crayon|drawn|drawing|doodle|hatching"),
    ("oil", r"\boil\b|impressionis|van gogh|monet|painterly|brush ?strokes?|canvas|impasto|painting|painted"),
]
_STYLE_UNKNOWN = r"pixel[- ]art|8[- ]bit|low[- ]poly|claymation|clay|lego|ukiyo|mosaic|stained glass|cubis|origami"
_LOOK = [
    ("cyberpunk", r"cyber-?punk|neon|blade runner|synthwave|vaporwave|futuristic glow"),
    ("golden_hour", r"golden[- ]hour|golden (?:glow|light|sun)"),
    ("noir", r"\bnoir\b|detective|1940s|forties|hard[- ]boiled"),
    (
        "bw",
        r"black[- ]and[- ]white|\bb\s*&\s*w\b|\bb/w\b|monochrom|gr[ae]yscale|desaturat|(?:drain|strip|remov|suck|tak)\w* (?:\w+ ){0,2}colou?rs?\b(?! (?:of|from) the)|"
        r"colou?rless|no colou?r|without colou?r|silver gelatin",
    ),
    (
        "vintage",
        r"vintage|retro|kodak|film stock|analog(?:ue)?|old film|sepia|faded|70s|seventies|80s|eighties|"
        r"lomo|expired film|old photo|yellowed|nostalgi|snapshot|aged photo",
    ),
    (
        "cold",
        r"\bcold\b|\bcool(?:er)? (?:tones?|colou?rs?|grade|look|blue|palette|cast)|icy|wintry|winter|frosty|blue tones?|teal tones?|chilly",
    ),
    ("warm", r"\bwarm|honey|amber|cozy|cosy|sun-?kissed|toasty"),
]
# "night market", "nightclub", "night bus": night names a kind of place or thing, not the hour
_NIGHT_THINGS = (
    r"markets?|bazaars?|clubs?|clubbing|life|bus(?:es)?|trains?|shifts?|schools?|stands?|owls?|"
    r"caps?|gowns?|dress(?:es)?|wear|mode|vision|lights?|stalls?|spots?|porters?|watch(?:man)?|"
    r"guards?|classes?|creams?"
)
_TIME = [
    (
        "dawn",
        r"\bdawn\b|sunrise|first light|daybreak|early morning light|sun (?:comes|is coming|rises) up|"
        r"sun (?:is )?rising|rising sun",
    ),
    ("dusk", r"\bdusk\b|twilight|blue hour|sun goes down|\bevening\b|nightfall"),
    ("sunset", r"sunset|sundown|setting sun|sun (?:is )?setting"),
    (
        "night",
        r"\bnight(?![- ]?(?:"
        + _NIGHT_THINGS
        + r")\b)|midnight|after dark|moonlight|moonlit|starry|nocturnal|\bdark out",
    ),
    ("afternoon", r"afternoon"),
    ("noon", r"\bnoon\b|midday|mid-day|overhead sun|high sun"),
    ("morning", r"morning|\bam\b|breakfast time"),
]
_LIGHTING = [
    ("rim", r"\brim\b|edge[- ]light|halo|outline glow|kicker"),
    ("backlit", r"backlit|back-?light|from behind|silhouett|contre-?jour"),
    ("studio", r"studio light|softbox|three[- ]point|key light|beauty dish"),
    (
        "dramatic",
        r"dramatic|chiaroscuro|hard light|harsh|spotlight|candle|rembrandt|moody light|single (?:lamp|bulb)|"
        r"deep shadows|strong (?:shadows?|light)",
    ),
    ("soft", r"\bsoft|diffuse|window|gentle|even light|overcast|flattering"),
]
_SIDE = [("left", r"\bleft\b"), ("right", r"\bright\b"), ("top", r"\babove\b|\boverhead\b|\btop\b")]
# cutting away part of the picture: "trim off the empty space on the left", "cut away the dead space"
_TRIM = (
    r"\b(?:trim|cut|chop)(?:ping|med|s)? (?:off |away |down )?(?:(?:the|some|that|all the|a bit of) )?"
    r"(?:(?:empty|dead|blank|extra|negative|unused|wasted|excess) (?:space|room|area|margins?)|edges\b|"
    r"margins?\b|(?:left|right|top|bottom) (?:side|edge|strip|part|third|half)\b|"
    r"(?:left|right|top|bottom)\b(?=\s*(?:off|away|$|[,.;])))"
)
_FRAMING = [
    ("mirror", r"mirror|\bflip|faces? the other way|other direction|reverse[ds]?\b|horizontally"),
    (
        "aspect",
        r"\b\d{1,2}\s*[:×]\s*\d{1,2}\b|square|instagram|portrait orientation|landscape orientation|"
        r"vertical format|\bvertical\b|widescreen|banner|story format|reel|aspect",
    ),
    (
        "closeup",
        r"close[- ]?up|close in|\btight|headshot|zoom(?:ed)? in|closer|detail shot|head and shoulders|face only|"
        r"macro|punch in|fills? the (?:frame|picture|image)|only the face",
    ),
    ("medium", r"\bmedium|waist[- ]?up|half[- ]body|mid[- ]shot|from the waist|knees? up|front view|frontal"),
    (
        "wide",
        r"\bwide|zoom(?:ed)? out|pull(?:ed)? back|full[- ]body|whole (?:room|scene|body|thing)|establishing|"
        r"head to toe|more of the",
    ),
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
    (
        "comic_page",
        r"comic(?:[- ]book)? (?:page|strip)|graphic novel|manga page|page (?:of|from) a (?:comic|manga)|"
        r"panels on a page|page (?:of|with) panels",
    ),
    (
        "side_by_side",
        _SIDE_BY_SIDE + r"|next to each other|beside each other|\bpair\b|left and right halves|"
        r"one on the left(?:,| and) (?:one|the other) on the right",
    ),
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
    (
        "reference",
        r"(?:second|other|another|first|third|fourth|last|\d(?:st|nd|rd|th)) (?:photo|image|picture|"
        r"reference|shot)|(?:photo|image|picture|reference) (?:#\s*)?\d",
    ),
    ("blur", r"\bblur|bokeh|out of focus|defocus|shallow depth|soft focus"),
    ("gradient", r"gradient|ombr[eé]|fade from"),
    ("city", r"\bcity|street|skyline|urban|downtown|metropolis|skyscrapers?|cyberpunk"),
    ("studio", r"studio|seamless|sweep|plain|neutral|clean backdrop|simple backdrop|paper backdrop|infinity cove"),
    (
        "remove",
        r"transparent|cut(?:ting)? (?:\w+ )?out|isolate|remove (?:the )?(?:background|backdrop|bg)|"
        r"no (?:background|backdrop)|without (?:a |the |any )?(?:background|backdrop)|alpha|\bpng\b|"
        r"knock out|green ?screen|surroundings|delete (?:the )?(?:background|backdrop)",
    ),
]
_ORDINALS = {"first": 0, "second": 1, "other": 1, "another": 1, "third": 2, "fourth": 3, "last": -1}
_GENERATIVE = [
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
        r"(?:add|put) (?:a|an|some)\b(?! (?:[\w-]+ ){0,2}(?:caption|lower[- ]third|title|border|frame|text|label|headline|"
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
    m = re.search(r"[\"“”«]([^\"“”«»]+)[\"“”»]", text) or re.search(r"(?<![A-Za-z])['‘]([^'‘’]+)['’](?![A-Za-z])", text)
    if m:
        return m.group(1).strip()
    m = _TEXT_LABEL.match(text)
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


def _position(text: str) -> str | None:
    return _first(
        [
            ("top", r"\btop\b|above|header|over the"),
            (
                "bottom",
                r"bottom|below|underneath|beneath|footer|"
                r"under\b",
            ),
        ],
        text,
    )


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
        if re.search(
            r"\b(?:dress|shirt|t-shirt|jacket|coat|hoodie|sweater|jumper|pants|trousers|jeans|skirt|"
            r"suit|blouse|outfit|scarf|clothes)\b",
            t,
            re.I,
        ):
            p["target"] = "clothes"
        if not p.get("colors"):
            if re.search(
                r"colou?rways?|colou?r (?:variants?|versions?|options?|variations?)|different colou?rs",
                whole or t,
                re.I,
            ):
                return p, "approximate", "no colour named: the engine picks distinct colourways"
            return p, _UNRESOLVED, "no colour named"
        return p, None, ""
    if op == "background":
        kind = _first(_BACKGROUND, t)
        colors = find_colors(t)
        if (
            kind in (None, "studio", "remove")
            and colors
            and re.search(r"onto|on (?:a|an)?|against|background|backdrop|wall|behind", t, re.I)
        ):
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
            return (
                {"style": what.group(0).lower() if what else None},
                "unsupported",
                "no such style in the classic engine",
            )
        return {"style": style}, None, ""
    if op == "look":
        look = _first(_LOOK, t)
        if look is None:
            return {}, _UNRESOLVED, "no known colour grade named"
        return {"look": look}, None, ""
    if op == "time_of_day":
        when = _first(_TIME, t)
        return (
            ({"time": when} if when else {}),
            (None if when else _UNRESOLVED),
            "grade and sky tint, not a relit scene" if when else "time of day not recognised",
        )
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
    + _COLOR_RX.pattern
    + r")|(?:"
    + _COLOR_RX.pattern
    + r").*\b(?:instead|finish|colou?r(?:ed)?|"
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
    "cover": r"magazine|\bcover|vogue|masthead|editorial|front page|an issue of|photo ?shoots?|"
    + _NEWSSTAND
    + r"|glossy mag|cover lines|\bglossy\b",
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
    "recolor": [
        "change the colour of the shoe to navy blue",
        "make the jacket red",
        "recolor the car matte black",
        "the same product in a different colorway",
        "dye her hair platinum blonde",
        "white upper with a black logo and a gum sole",
        "turn the sofa fabric teal",
        "a version of the sneaker in pastel colours",
        "repaint the walls of the house light grey",
        "available in several colour options",
        "her coat in a darker shade of blue",
    ],
    "background": [
        "replace the background with a studio backdrop",
        "remove the background",
        "put the subject on a white background",
        "change the backdrop to a city street",
        "make the background transparent",
        "blur the background behind the person",
        "use the other photo as the background",
        "cut out the product",
        "a clean grey backdrop",
        "separate the person from the scene behind her",
        "put him in front of a plain wall",
    ],
    "style": [
        "turn the photo into a pencil sketch",
        "make it look like a watercolor painting",
        "cartoon style",
        "oil painting version",
        "pop art style poster",
        "black and white manga with screentones",
        "render it as a comic book illustration",
        "hand-drawn ink line art",
        "paint it like van gogh",
    ],
    "look": [
        "give it a cyberpunk neon colour grade",
        "vintage film look",
        "film noir mood",
        "warm golden hour tones",
        "cold blue winter colour grading",
        "make it black and white",
        "a retro faded film filter",
        "moody cinematic colour grade",
        "warm cozy colour tones",
    ],
    "time_of_day": [
        "make it night time",
        "same scene at sunset",
        "change the time of day to morning",
        "show it at dusk",
        "the street at noon",
        "at dawn with early light",
        "in the afternoon",
        "late at night under street lamps",
    ],
    "lighting": [
        "relight the portrait from the left",
        "add a blue rim light",
        "dramatic studio lighting",
        "soft window light on her face",
        "backlit by the sun",
        "a spotlight from above",
        "light the face with a softbox",
        "moody low-key lighting with hard shadows",
    ],
    "framing": [
        "close-up of the face",
        "wide shot",
        "crop to a headshot",
        "zoom in on the product",
        "mirror the image horizontally",
        "crop to 4:5 portrait",
        "medium shot from the waist up",
        "full body shot",
        "a tighter crop",
        "flip the picture so he looks to the left",
        "a close-up of her face and eyes",
        "zoom out to show more of the scene around her",
    ],
    "frame": [
        "add a white polaroid frame",
        "add a thin border",
        "put a wooden picture frame around it",
        "film strip frame",
        "rounded corners",
        "a black frame around the photo",
    ],
    "caption": [
        "add a caption at the bottom",
        "put the title text on top",
        "write the product name under it",
        "add the text 'hello' in bold letters",
        "a label with the date",
        "subtitle text along the bottom",
    ],
    "cover": [
        "make it a magazine cover with headlines",
        "fashion magazine cover with a masthead",
        "Vogue style cover",
        "magazine photoshoot for the models",
        "an editorial magazine spread cover",
        "cover of a glossy magazine with cover lines",
    ],
    "layout": [
        "combine the two images side by side",
        "arrange them in a storyboard",
        "make a collage of all photos",
        "lay the panels out as a comic page",
        "a grid of the pictures",
        "a film storyboard sheet",
        "put the photos next to each other",
        "a contact sheet of the shots",
        "show the original and the edit next to each other as a comparison",
    ],
    "remove": [
        "remove the text from the image",
        "erase the watermark",
        "get rid of the scratches",
        "delete the writing on the sign",
        "clean up dust and spots on the old photo",
        "remove the wires in the sky",
        "retouch out the blemishes",
        "wipe the lettering off the wall",
        "take the people out of the background",
    ],
    "generative": [
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
    ],
    "keep": [
        "keep the logo the same",
        "maintain the same lighting and angle",
        "preserve her identity",
        "ensure consistent proportions",
        "do not change the face",
        "everything else stays the same",
        "same shoe model in all panels",
        "keeping the background untouched",
    ],
    "meta": [
        "generate a series of 4 images",
        "create three pictures from the reference photo",
        "make 2 edited images based on the source",
        "a set of five outputs",
        "from the uploaded photos",
        "for this character",
    ],
}
