"""``framing``: close-up, medium, wide, crop, aspect ratio, mirror (text-aware) of the picture.

A ``W:H`` ratio and a "front view" are framing by hard rules; trimming empty space or an edge is a
crop by a phrase rule. "Front view" (and the typo "once view") is ``medium``, ``approximate``: the
reference as it is, assuming it faces the camera. Wide framing is ``approximate`` (border extension,
nothing new painted); a rotation is ``unsupported``. The ``variation`` kind is never parsed: the
engine adds it (with an ``index``) to vary a panel that came out the same as an earlier one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from seqedit.engines.base import EngineError
from seqedit.engines.classic import framing
from seqedit.engines.classic.masks import detect_faces, keyed_mask
from seqedit.engines.classic.ops.parsing import KindTable, alternatives, first, kinds
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register
from seqedit.engines.classic.panel import face_boxes, mask_box

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

# cutting away part of the picture: "trim off the empty space on the left", "cut away the dead space"
TRIM = (
    r"\b(?:trim|cut|chop)(?:ping|med|s)? (?:off |away |down )?(?:(?:the|some|that|all the|a bit of) )?"
    r"(?:(?:empty|dead|blank|extra|negative|unused|wasted|excess) (?:space|room|area|margins?)|edges\b|"
    r"margins?\b|(?:left|right|top|bottom) (?:side|edge|strip|part|third|half)\b|"
    r"(?:left|right|top|bottom)\b(?=\s*(?:off|away|$|[,.;])))"
)
KINDS: KindTable = [
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
    ("crop", r"\bcrop|reframe|re-frame|recompose|" + TRIM),
]
ASPECTS = ("1:1", "16:9", "9:16", "4:5", "3:2", "21:9")  # the contract test's aspect forms
_RATIO = re.compile(
    r"(?<!at )\b\d{1,2}\s*:\s*\d{1,2}\b(?!\s*[ap]\.?m)(?!.*\b(?:grid|storyboard|cover|caption|border|frame)\b)",
    re.I,
)
_FRONT_VIEW = re.compile(r"\b(?:front|frontal)[- ]view\b", re.I)
_HAIR_ETC = r"\b(?:hair|beard|fringe|bangs|mo?ustache|nails?|hedge|bush|grass|lawn|tree)\b"


def aspect(text: str) -> str | None:
    """The ``W:H`` a clause names: a ratio, or a format ('square' 1:1, 'widescreen' 16:9, 'story' 9:16)."""
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


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    t = clause
    if re.search(r"\brotat|\btilt|\bdegrees?\b|upside", t, re.I):
        return {"kind": "rotate"}, "unsupported", "rotation is not in the classic vocabulary"
    kind = first(KINDS, t)
    if kind is None:
        return {}, UNRESOLVED, "no framing kind named"
    p: Params = {"kind": kind}
    if kind == "aspect":
        p["aspect"] = aspect(t) or "1:1"
    if re.search(r"front view|frontal", t, re.I):
        return p, "approximate", "front view = the reference as it is (assumes a front-facing reference)"
    if kind == "wide":
        return p, "approximate", "wide framing extends the borders; nothing new is painted"
    return p, None, ""


def forms() -> list[Params]:
    out: list[Params] = []
    for kind in kinds(KINDS):
        aspects = ASPECTS if kind == "aspect" else (None,)
        out += [{"kind": kind, **({"aspect": a} if a else {})} for a in aspects]
    return [*out, {"kind": "variation", "index": 3}]  # not parsed: the engine's set variation


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    subject = p.ref.masks.subject() if not p.moved else None
    box = mask_box(subject.mask) if subject is not None and subject.usable else None
    mask, plain = None, False
    if params.get("kind") == "aspect" and not p.moved:  # keep the subject; extend a plain backdrop
        keyed = p.ref.masks.cached("fit:keyed", lambda: keyed_mask(p.ref.img))
        if keyed is not None and keyed.usable:
            mask, plain = keyed.mask, True
        elif subject is not None and subject.usable:
            mask = subject.mask
    try:
        p.img, warns = framing.reframe(
            p.img,
            params.get("kind", "medium"),
            face_boxes=face_boxes(p),
            subject_box=box,
            aspect=params.get("aspect"),
            index=int(params.get("index", 1)),
            subject_mask=mask,
            plain=plain,
        )
    except ValueError as exc:
        raise EngineError(f"framing: {exc}", code=1400) from None
    p.warnings.extend(warns)
    if params.get("kind") == "aspect" and params.get("aspect"):
        a, (w, h) = str(params["aspect"]), (plan.size.width, plan.size.height)
        if abs(framing.parse_aspect(a) / (w / h) - 1) > framing.ASPECT_SAME:
            p.warnings.append(
                f"aspect {a}: every panel of this set is {w}×{h}, so the {a} crop is fitted to that size again; "
                f"ask for a {a} --size to get {a} panels"
            )
    p.faces = [(f.x, f.y, f.w, f.h) for f in detect_faces(p.img)]  # while the pixels are still a photo


register(
    Operation(
        name="framing",
        rank=60,
        verdict="supported",
        schema="kind: 'closeup'|'medium'|'wide'|'crop'|'aspect'|'mirror'|'variation'; aspect?: 'W:H'; "
        "index?: int (variation) — reframe "
        "(wide is approximate: border extension; mirror refuses to flip detected text silently)",
        lexicon=alternatives(KINDS) + r"|framing|\bzoom|\bshot\b",
        prototypes=(
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
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=60,
        moves=True,
        rules=(
            Rule("hard", 20, lambda t: bool(_RATIO.search(t))),
            Rule("hard", 40, lambda t: bool(_FRONT_VIEW.search(t))),
            # cutting away part of the picture (not a haircut or a hedge trim)
            Rule("phrase", 60, lambda t: bool(re.search(TRIM, t, re.I)) and not re.search(_HAIR_ETC, t, re.I)),
        ),
    )
)
