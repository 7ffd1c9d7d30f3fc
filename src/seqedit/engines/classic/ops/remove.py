"""``remove``: inpaint thin defects (text, watermarks, scratches, dust); larger objects need new content.

Removing text already in the picture (subtitles, burned-in captions) is ``remove`` by a phrase rule.
One clause can name several defects ("remove the text and the dust"): each becomes its own op.
Removing a named thin object (wires, a stray hair) is ``approximate``; any other object is
``unsupported``. The renderer refuses a mask too large to inpaint honestly, and a request whose
defect it cannot find ("found no scratches …", naming the thin lines it kept as scene structure or
as too faint to tell from the picture's own lines); lines it kept beside the ones it repaired are
warnings.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from seqedit.engines.base import Unsupported
from seqedit.engines.classic import inpaint
from seqedit.engines.classic.ops.parsing import KindTable, first, kinds
from seqedit.engines.classic.ops.registry import Operation, OpSpec, Params, Rule, register
from seqedit.engines.classic.panel import GENERATIVE_HINT

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

WHAT: KindTable = [
    ("watermark", r"watermark|(?:date|time) ?stamp|stamp|logo overlay|\blogo\b"),
    ("scratches", r"scratch|crease|tear|crack|fold lines?|scuff"),
    ("dust", r"\bdust|specks?|flecks?|spots|blemish|noise|lint"),
    ("text", r"\btext|writing|words|letters|caption|subtitles?|graffiti|signature|lettering|sign\b"),
]
_THIN = re.compile(r"wires?|power ?lines?|cables?|strings?|threads?|hairs?\b|stray hair|poles?|lines\b", re.I)

LEXICON = (
    r"\bremove|\berase|delete|get rid|clean (?:up|off|the)|inpaint|retouch|take (?:\w+ ){0,3}out|"
    r"get (?:\w+ ){0,3}out of|out of (?:the )?(?:picture|shot|frame|photo|image)|take (?:\w+ ){0,3}off|"
    r"\bheal|repair|restore|fix the (?:scratch|crack|tear|dust|spot)|"
    r"\blose the|without the|scrub|wipe"
)

# text already in the picture, taken away: "lose the subtitles", "the burned-in captions"
_EXISTING_TEXT = (
    r"\b(?:subtitles?|captions?|text|writing|words|letter(?:s|ing)|watermarks?|signature|graffiti|"
    r"(?:date|time) ?stamps?|credits|title cards?)\b"
)
_TAKE_AWAY = (
    r"\b(?:remove|erase|delete|get rid|take (?:\w+ ){0,3}(?:out|off)|lose the|without (?:the|any)|scrub|"
    r"wipe|clean (?:off|up)|strip (?:out|off|away)|ditch|drop the)\b"
)
_BURNED_IN = r"\b(?:burn(?:ed|t)|baked|hard-?coded|stamped|printed)[- ]?(?:in(?:to)?|on(?:to)?)\b|\bhard-?subs?\b"


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    what = first(WHAT, clause)
    if what is None:
        if _THIN.search(clause):
            return {"what": "object"}, "approximate", "thin objects only: inpainted"
        return {"what": "object"}, "unsupported", "removing large objects needs a generative engine"
    return {"what": what}, None, ""


def forms() -> list[Params]:
    return [{"what": w} for w in (*kinds(WHAT), "object")]


def expand(first_op: OpSpec, content: str) -> list[OpSpec]:
    """Every other defect the clause names, as its own supported op."""
    return [
        replace(first_op, params={"what": what}, verdict="supported", note="")
        for what, rx in WHAT
        if what != first_op.params.get("what") and re.search(rx, content, re.I)
    ]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    what = params.get("what", "text")
    notes: tuple[str, ...] = ()
    try:
        if what in ("scratches", "scratch"):
            report = inpaint.find_scratches(p.img)
            mask, notes = report.mask, report.notes
        else:
            mask = inpaint.defect_mask(p.img, what)
    except ValueError:
        raise Unsupported(
            f"removing {what}: only thin defects (text, watermarks, scratches, dust) can be removed; {GENERATIVE_HINT}",
            clause=str(what),
        ) from None
    if not (mask > 0.5).any():  # an unchanged picture is not a removal: say what was (not) found
        seen = f" ({'; '.join(notes)})" if notes else ""
        raise Unsupported(
            f"removing {what}: found no {what} it can tell from the picture itself{seen}", clause=str(what)
        )
    p.warnings.extend(notes)
    refusal = inpaint.removal_verdict(mask)
    if refusal is not None:
        raise Unsupported(f"removing {what}: {refusal}; {GENERATIVE_HINT}", clause=str(what))
    p.img, warns = inpaint.inpaint(p.img, mask)
    p.warnings.extend(warns)


register(
    Operation(
        name="remove",
        rank=110,
        verdict="supported",
        schema="what: 'text'|'watermark'|'scratches'|'dust'|'object' — inpaint thin defects "
        "(object: unsupported unless thin)",
        lexicon=LEXICON,
        prototypes=(
            "remove the text from the image",
            "erase the watermark",
            "get rid of the scratches",
            "delete the writing on the sign",
            "clean up dust and spots on the old photo",
            "remove the wires in the sky",
            "retouch out the blemishes",
            "wipe the lettering off the wall",
            "take the people out of the background",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=10,
        expand=expand,
        rules=(
            Rule(
                "phrase",
                20,
                lambda t: (
                    bool(re.search(_EXISTING_TEXT, t, re.I))
                    and bool(re.search(_TAKE_AWAY, t, re.I) or re.search(_BURNED_IN, t, re.I))
                ),
            ),
        ),
    )
)
