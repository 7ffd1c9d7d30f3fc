"""``background``: replace or remove the backdrop behind the subject.

Kinds: studio, gradient, procedural city, a plain colour, another reference, blur, remove (an alpha
cut-out; onto white for JPEG). A plain colour "there"/behind/as the backdrop, or "against X instead
of Y", is a background by a phrase rule. A setting with no procedural kind (a beach, an office) is
``unsupported``: it needs a generative engine. "In a city", "on a street" elsewhere in a clause add a
background companion.

A plain white, black or named grey is exact (``background.plain_rgb``: "on pure white" is 255,255,255 in
PNG output). The subject is ``MaskSet.subject()``; a degenerate one (no clear subject, a cut-out that
would keep the cat's two eyes) refuses the clause in one line, exit 3.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.base import EngineError
from seqedit.engines.classic import background
from seqedit.engines.classic.colors import PROMPT_COLOR_NAMES, PROMPT_COLOR_RX
from seqedit.engines.classic.ops.parsing import KindTable, find_colors, first, kinds
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register
from seqedit.engines.classic.panel import usable

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

KINDS: KindTable = [
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

_COLOR = PROMPT_COLOR_RX.pattern
# the backdrop becomes one plain colour: "just have solid beige there", "plain grey behind him"
_PLAIN_COLOR = (
    r"\b(?:solid|plain|flat|pure|just|only|uniform|simple|nothing but)\s+(?:an?\s+)?"
    r"(?:" + _COLOR + r")(?=\s*(?:$|[,.;!]|there\b|behind\b|background|backdrop|bg\b|wall|"
    r"instead\b|colou?r\b|everywhere|all around|around|in the back))"
)
_BACKDROP_PLACE = r"\bbehind\b|background|backdrop|\bbg\b|scenery|surroundings|\bsetting\b|\bthere\b|\bwall\b"
# one backdrop for another: "standing against a busy street instead of the garden"
_BACKDROP_SWAP = (
    r"\b(?:against|in front of)\s+(?:an?|the|some)?\s*(?:[\w'-]+\s+){0,4}?[\w'-]+\s+"
    r"(?:instead of|rather than|in place of)\s+(?:the|an?|that|this|those|these|his|her|their|our|my|its)\b"
)
_COMPANION = re.compile(
    r"\b(?:in|into|on|against|through) (?:a|an|the)? ?(?:[\w-]+ ){0,2}(?:city|skyline|street|metropolis|studio)\b",
    re.I,
)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    t = clause
    kind = first(KINDS, t)
    colors = find_colors(t)
    if (
        kind in (None, "studio", "remove")
        and colors
        and re.search(r"onto|on (?:a|an)?|against|background|backdrop|wall|behind", t, re.I)
    ):
        return {"kind": "color", "color": colors[0][1]}, None, ""
    if kind is None:
        return {}, "unsupported", "no procedural backdrop for this setting: needs a generative engine"
    p: Params = {"kind": kind}
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


def forms() -> list[Params]:
    out: list[Params] = []
    for kind in kinds(KINDS):
        out += [{"kind": kind, "ref": r} for r in (0, 1)] if kind == "reference" else [{"kind": kind}]
    out += [{"kind": "color", "color": c} for c in PROMPT_COLOR_NAMES]
    return out


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    kind = params.get("kind", "studio")
    subject = usable(p.ref.masks.subject(), "the subject to keep in front of a new background", p)
    if kind == "remove":
        rgb, alpha = background.remove_background(p.img, subject.mask)
        if plan.output_format == "jpeg":
            p.img = background.replace_background(p.img, subject.mask, "color", color="white", seed=plan.seed)
            p.warnings.append("background removed onto white: JPEG has no transparency (use png or webp)")
        else:
            p.img, p.alpha = rgb, alpha
        return
    reference = None
    if kind == "reference":
        index = int(params.get("ref", 1 if len(refs) > 1 else 0))
        if not 0 <= index < len(refs):
            raise EngineError(f"background from reference {index + 1}: only {len(refs)} reference(s) given", code=1400)
        reference = refs[index].img
    p.img = background.replace_background(
        p.img, subject.mask, kind, color=params.get("color"), reference=reference, seed=plan.seed
    )


register(
    Operation(
        name="background",
        rank=10,
        verdict="supported",
        schema="kind: 'studio'|'gradient'|'city'|'color'|'remove'|'reference'|'blur'; color?: str; "
        "ref?: int (0-based reference index) — replace or remove the backdrop behind the subject",
        lexicon=r"background|backdrop|\bbg\b|behind (?:her|him|them|it|the)|surroundings|setting|"
        r"cut (?:\w+ )?out|transparent|isolate|green ?screen|skyline|seamless|sweep|studio|"
        r"(?:on|against|onto) (?:a |an )?(?:[\w-]+ ){0,3}(?:wall|backdrop|background|white|sweep)|"
        r"\bon (?:pure |plain |solid )?(?:white|black|gr[ae]y)\s*$",
        prototypes=(
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
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=30,
        rules=(
            Rule(
                "phrase",
                70,
                lambda t: bool(re.search(_PLAIN_COLOR, t, re.I) and re.search(_BACKDROP_PLACE, t, re.I)),
            ),
            Rule("phrase", 80, lambda t: bool(re.search(_BACKDROP_SWAP, t, re.I))),
            Rule("companion", 40, lambda t: bool(_COMPANION.search(t))),
        ),
    )
)
