"""``style``: re-render the picture (pencil, ink, manga, comic, pop art, cartoon, watercolour, oil).

"In the style of image 2", "match the colours of the second photo", "use the palette of image 3"
are ``style: reference`` with verdict ``approximate`` (a phrase rule). With the style network
installed (``stylenet``: Magenta's arbitrary stylization on onnxruntime) the reference's brushwork,
texture and palette are re-rendered onto the panel at up to 672 px (384 px tiles) and carried to full size
along the photo's edges; without it only its colours and tones are transferred (Lab statistics and a
lightness histogram match, ``styles.transfer_colours``) and the panel warns. Either way the note says
what is copied and what is not. A reference number beyond the images given is a request error.

A named style the classic engine does not have (pixel art, claymation, …) is ``style`` with verdict
``unsupported``. A strong style name elsewhere in a clause adds a style companion ("manga storyboards"
→ style + layout). A style is a renderable setting for a story clause (see ``router/policy.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.base import EngineError
from seqedit.engines.classic import stylenet, styles
from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first, kinds
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register
from seqedit.engines.classic.panel import face_boxes

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

STYLES: KindTable = [
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
UNKNOWN = r"pixel[- ]art|8[- ]bit|low[- ]poly|claymation|clay|lego|ukiyo|mosaic|stained glass|cubis|origami"
_COMPANION = re.compile(
    r"manga|anime|watercolou?r|pencil sketch|oil paint|pop[- ]art|cartoon|comic[- ]book|comic style|comic strip",
    re.I,
)


_ORDINALS = {"first": 0, "second": 1, "other": 1, "another": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
_REF = (
    r"(?:the\s+)?(?:(?:first|second|third|fourth|fifth|last|other|another)\s+"
    r"(?:photo|image|picture|reference|shot|one)|(?:photo|image|picture|reference|img)\s*#?\s*\d)"
)
_WHICH = re.compile(r"(first|second|third|fourth|fifth|last|other|another)\s+\w+|#?\s*(\d)", re.I)
_ASPECT = r"(?:colou?r\s+)?(?:style|look|colou?rs?|palette|tones?|tonality|mood|grade|grading|scheme|feel)"
_FROM_REFERENCE = re.compile(
    r"\bthe\s+" + _ASPECT + r"\s+(?:of|from|in)\s+" + _REF + "|"
    r"\b(?:match(?:ing)?|copy(?:ing)?|borrow(?:ing)?|take|use|apply|transfer(?:ring)?)\s+"
    + _ASPECT
    + r"\s+(?:of|from)\s+"
    + _REF
    + "|"
    r"\b(?:same|similar)\s+(?:colou?r\s+)?(?:style|look|palette|tones?|grade|grading|mood)\s+(?:as|to)\s+" + _REF + "|"
    r"\b(?:styled?|graded?|colou?r(?:ed)?|toned?|looks?)\s+(?:(?:it|this|them|the\s+\w+)\s+)?(?:like|after)\s+" + _REF,
    re.I,
)
REFERENCE_NOTE = (
    "colour and tone transfer from reference {n} (Lab statistics and a lightness histogram match); "
    "its brushwork, texture and content are not copied"
)
NETWORK_NOTE = (
    "texture, brushwork and palette of reference {n} from a neural style network (Magenta's arbitrary "
    "stylization) at up to 672 px, sharpened along the photo's edges: strokes are broad, faces are kept closer "
    "to the photo, the reference's content is not copied"
)


def reference_index(clause: str) -> int | None:
    """0-based index of the reference a "style of image N" clause names (-1 = the last), or None."""
    m = _FROM_REFERENCE.search(clause)
    if m is None:
        return None
    found = list(_WHICH.finditer(m.group(0)))  # the reference is the phrase's last ordinal or number
    if not found:
        return 1
    which = found[-1]
    if which.group(2):
        return max(0, int(which.group(2)) - 1)
    return _ORDINALS.get(which.group(1).lower(), 1)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    ref = reference_index(clause)
    if ref is not None:
        note = NETWORK_NOTE if stylenet.available() else REFERENCE_NOTE
        return {"style": "reference", "ref": ref}, "approximate", note.format(n="last" if ref < 0 else ref + 1)
    style = first(STYLES, clause)
    if style is None or re.search(UNKNOWN, clause, re.I):
        what = re.search(UNKNOWN, clause, re.I)
        return {"style": what.group(0).lower() if what else None}, "unsupported", "no such style in the classic engine"
    return {"style": style}, None, ""


def forms() -> list[Params]:
    return [{"style": s} for s in kinds(STYLES)] + [{"style": "reference", "ref": r} for r in (0, 1, -1)]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    if params.get("style") == "reference":
        index = int(params.get("ref", 1))
        if not -len(refs) <= index < len(refs):
            raise EngineError(f"style of reference {index + 1}: only {len(refs)} reference(s) given", code=1400)
        p.img, warning = styles.from_reference(p.img, refs[index].img, face_boxes(p))
        if warning and warning not in p.warnings:
            p.warnings.append(warning)
        return
    p.img = styles.stylize(p.img, params.get("style", "pencil"), plan.seed, face_boxes(p))


register(
    Operation(
        name="style",
        rank=20,
        verdict="supported",
        schema="style: 'pencil'|'ink'|'manga'|'comic'|'popart'|'cartoon'|'watercolor'|'oil'|'reference'; "
        "ref?: int (0-based reference index, -1 = last; reference only) — re-render, or take a reference's "
        "colours (approximate)",
        lexicon=alternatives(STYLES) + "|" + UNKNOWN + r"|\bstyle\b|illustrat|art\b",
        prototypes=(
            "turn the photo into a pencil sketch",
            "make it look like a watercolor painting",
            "cartoon style",
            "oil painting version",
            "pop art style poster",
            "black and white manga with screentones",
            "render it as a comic book illustration",
            "hand-drawn ink line art",
            "paint it like van gogh",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=80,
        story_setting=True,
        rules=(
            Rule("phrase", 15, lambda t: bool(_FROM_REFERENCE.search(t))),
            Rule("companion", 20, lambda t: bool(_COMPANION.search(t))),
        ),
    )
)
