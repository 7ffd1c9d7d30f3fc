"""``recolor``: the subject (or a named part: hair, clothes) in new colours, keeping shading and texture.

Colour phrases come from ``colors.py`` (the engine's one colour vocabulary), read by part ("white
upper + gum sole"), with an optional finish. A clause that is only colours, parts and finishes
("forest green + gum sole") is a recolour by a hard rule; "<colour> … look/finish" with no known grade
is one by a phrase rule. Hair colour is ``approximate``; a colour-variants request with no colour named
is ``approximate`` (the engine picks distinct colourways); a recolour with no colour at all is reported.

Where: the op is ``located``, so the router reads the region the clause names ("the saucer <bbox>…
</bbox>", "her dress", "the mug") into ``target``/``where`` and the renderer recolours only that mask
(``regions.py``): a named part with no mask and no tag is refused at plan time, a mask that is not good
enough at render time. With no region named, a portrait's clothes or a product's colourway by part,
the product only when it is cleanly cut out (a plain backdrop or an alpha channel).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from seqedit.engines.base import Unsupported
from seqedit.engines.classic import recolor as recolouring
from seqedit.engines.classic.colors import (
    BLACK_AND_WHITE_RX,
    FINISH_RX,
    FINISH_WORDS,
    PART_RX,
    PROMPT_COLOR_NAMES,
    PROMPT_COLOR_RX,
    colorway_phrases,
)
from seqedit.engines.classic.ops import look
from seqedit.engines.classic.ops.parsing import find_colors, first
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register
from seqedit.engines.classic.regions import region

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan


def colorway(text: str) -> dict[str, Any]:
    """'matte red + white outsole' → {'colors': {'primary': 'red', 'sole': 'white'}, 'finish': 'matte'}."""
    colors = colorway_phrases(text)
    params: dict[str, Any] = {"colors": colors} if colors else {}
    m = FINISH_RX.search(text)
    if m:
        params["finish"] = FINISH_WORDS[m.group(1).lower()]
    return params


_COLOR_ONLY_NOISE = re.compile(
    r"\b(?:classic|leather|suede|canvas|mesh|knit|fabric|velvet|nubuck|rubber|patent|colou?rways?|colou?rs?|in|a|an|the|with|and|plus|upper|body|main|base|shell|all|"
    r"total|full|tonal|two[- ]tone|version|variant|edition|finish|" + "|".join(FINISH_WORDS) + r")\b",
    re.I,
)


def is_colorway_line(text: str) -> bool:
    """True when the text is only colours, parts and finishes ('forest green + gum sole')."""
    if not find_colors(text):
        return False
    rest = PROMPT_COLOR_RX.sub(" ", BLACK_AND_WHITE_RX.sub(" ", text))
    for rx in PART_RX.values():
        rest = rx.sub(" ", rest)
    rest = _COLOR_ONLY_NOISE.sub(" ", rest)
    return not re.sub(r"[\s+,/&().;:—–-]+", "", rest)


def _color_finish_look(t: str) -> bool:
    """'a brushed metallic gold look': a colour (and finish) called a look is a recolour, not a grade."""
    return (
        first(look.LOOKS, t) is None
        and re.search(
            r"(?:" + PROMPT_COLOR_RX.pattern + r")(?:\s+[\w-]+){0,2}?\s+"
            r"(?:look|finish|sheen|effect|paint ?job|coating)\b",
            BLACK_AND_WHITE_RX.sub(" ", t),
            re.I,
        )
        is not None
    )


_MAKE_THE_THING = re.compile(
    r"^(?:please\s+)?(?:make|paint|turn|colou?r|dye|recolou?r|change)\s+(?:the|her|his|its|their|this|that)\s+"
    r"(?:[\w'-]+\s+){0,3}?(?:(?:in|to|into)\s+)?(?:(?:a|an)\s+)?(?:(?:light|dark|deep|bright|pale)\s+)?"
    r"(?:" + PROMPT_COLOR_RX.pattern + r")(?:\s+(?:instead|please|too))?[\s.!]*$",
    re.I,
)
_NOT_A_THING = re.compile(
    r"\b(?:background|backdrop|photo|image|picture|scene|sky at|lighting|light|mood|style|look)\b", re.I
)


def _make_the_thing(t: str) -> bool:
    """'make the spoon gold', 'paint the rocket red': a named thing and a colour is a recolour (where it
    applies is the router's business: a tag, a mask, or a refusal)."""
    return not BLACK_AND_WHITE_RX.search(t) and not _NOT_A_THING.search(t) and _MAKE_THE_THING.search(t) is not None


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    t = clause
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
        return p, UNRESOLVED, "no colour named"
    return p, None, ""


def forms() -> list[Params]:
    out: list[Params] = [{"colors": {"primary": c}} for c in PROMPT_COLOR_NAMES]
    out += [
        {"colors": {"primary": "red"}, "target": t, "part": f"the {t}"}
        for t in ("object", "face", "person", "background", "sky")
    ]
    out.append(
        {
            "colors": {"primary": "red"},
            "target": "located",
            "where": ("bbox", (80.0, 560.0, 920.0, 980.0)),
            "part": "it",
        }
    )
    out.append({"colors": {"primary": "red"}, "target": "located", "where": ("point", (500.0, 500.0)), "part": "it"})
    for target in (None, "hair", "clothes"):
        for finish in (None, *sorted(set(FINISH_WORDS.values()))):
            params: Params = {"colors": {"primary": "pastel pink", "accent": "gold", "sole": "gum"}}
            params |= {"finish": finish} if finish else {}
            params |= {"target": target} if target else {}
            out.append(params)
    return out


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    colors = dict(params.get("colors") or {})
    if not colors:
        raise Unsupported("recolour without a colour: say which colour", clause="recolor")
    finish = params.get("finish")
    target = params.get("target")
    ms = p.ref.masks
    if target is None:  # no region named: her clothes on a portrait, else the product
        target = "clothes" if ms.faces() else "object"
        params = {**params, "target": target, "part": "the clothes" if target == "clothes" else "the subject"}
    if target in ("object", "subject"):
        # a product's colourway by part (upper, sole, accents), on a clean cut-out only (regions.py)
        subject = region(p, {**params, "target": "object", "keep_out": ()}, "recolour")
        allowed = region(p, {**params, "target": "object"}, "recolour")  # less any tagged keep
        assert subject is not None and allowed is not None
        parts = ms.cached("colorway_parts", lambda: recolouring.colorway_parts(p.ref.img, subject.mask, seed=plan.seed))
        before = p.img
        p.img, warns = recolouring.apply_colorway(p.img, parts, colors, finish)
        if allowed is not subject:
            p.img = (before + (p.img - before) * allowed.mask[..., None]).astype(np.float32, copy=False)
        p.warnings.extend(warns)
        return
    mask = region(p, params, "recolour")
    assert mask is not None
    primary = colors.get("primary") or next(iter(colors.values()))
    p.img = recolouring.recolor(p.img, mask.mask, primary, finish)


_COLOR = PROMPT_COLOR_RX.pattern
register(
    Operation(
        name="recolor",
        rank=0,
        verdict="supported",
        schema="colors: {'primary': str, 'accent'?: str, 'sole'?: str, 'trim'?: str}; finish?: "
        "'matte'|'glossy'|'metallic'; target?: 'object'|'hair'|'face'|'person'|'clothes'|'background'|'sky'|"
        "'located' (with where: ('bbox', (x1, y1, x2, y2)) | ('point', (x, y)), 0-1000) — recolour the "
        "subject (or the region the clause names) keeping shading and texture",
        lexicon=r"colou?rways?|re-?colou?r|\bdye|\btint (?:the|her|his|it)|colou?r (?:change|variant|swap|version)|"
        r"\bin (?:a |an )?(?:" + _COLOR + r")|"
        r"(?:make|paint|turn|switch|change|repaint|swap|give|should be|be|come in|instead)\b.*(?:"
        + _COLOR
        + r")|(?:"
        + _COLOR
        + r").*\b(?:instead|finish|colou?r(?:ed)?|"
        r"version|edition|variant)\b",
        prototypes=(
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
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=20,
        located=True,
        rules=(
            Rule("hard", 90, is_colorway_line),
            # a colour (+ finish) called a look/finish: a recolour
            Rule("phrase", 110, _color_finish_look),
            # "make the spoon gold": a named thing and a colour, and nothing else
            Rule("phrase", 105, _make_the_thing),
        ),
    )
)
