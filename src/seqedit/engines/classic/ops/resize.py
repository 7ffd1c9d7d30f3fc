"""``resize``: upscale or resize the picture by Lanczos resampling to the requested output size.

"Upscale it", "increase the resolution", "resize to 2048x1536". The output size is the request's
size (``--size``); a clause cannot choose another one, so a clause naming a different size is
refused, and an upscale whose output is not larger than the picture is refused at render. Always
``approximate``: resampling adds no detail (it is not super-resolution).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import cv2
import numpy as np

from seqedit.engines.base import Unsupported
from seqedit.engines.classic.arrays import WORK_PIXELS, work_scale
from seqedit.engines.classic.ops.registry import UNRESOLVED, Operation, Params, Rule, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

NOTE = "Lanczos resampling to the requested size adds no detail"
_THING = r"(?:it|this|everything|(?:the |this |my )?(?:whole )?(?:photo|image|picture|pic|shot|frame))"
_NAMED = re.compile(
    r"\bup-?scal\w*|\bup-?sampl\w*|\bup-?res\b|super[- ]?resolution|"
    r"\b(?:increase|raise|boost|higher|more) (?:the )?(?:image |output )?resolution|\bhigher[- ]res\b|"
    r"\b(?:resize|enlarge|scale up|rescale) (?:" + _THING + r"|to \d)|\bmake " + _THING + r" (?:bigger|larger)\b",
    re.I,
)
_SIZE = re.compile(r"\b(\d{2,5})\s*[x×*]\s*(\d{2,5})\b")


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    if not re.search(
        r"up-?scal|up-?sampl|up-?res|resolution|enlarge|bigger|larger|scale up|resiz|rescal", clause, re.I
    ):
        # only the similarity model brought it here ("enhance the image"): resampling is not what it asks
        return {}, UNRESOLVED, "no resize or upscale named"
    m = _SIZE.search(clause)
    kind = (
        "upscale"
        if re.search(r"up-?scal|up-?sampl|up-?res|resolution|enlarge|bigger|larger|scale up", clause, re.I)
        else "resize"
    )
    if m:
        return {"kind": kind, "size": f"{m.group(1)}x{m.group(2)}"}, "approximate", NOTE
    return {"kind": kind}, "approximate", NOTE


def forms() -> list[Params]:
    return [{"kind": "upscale"}, {"kind": "resize"}, {"kind": "resize", "size": "96x96"}]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    w, h = plan.size.width, plan.size.height
    clause = plan.instruction(k)
    if params.get("size") and params["size"] != f"{w}x{h}":
        raise Unsupported(
            f"resize: the output size is the request's size ({w}x{h}, set with --size), not {params['size']}",
            clause=clause,
        )
    s = work_scale(w, h, max(WORK_PIXELS, p.img.shape[0] * p.img.shape[1]))
    ww, hh = max(1, round(w * s)), max(1, round(h * s))
    ih, iw = p.img.shape[:2]
    if params.get("kind") == "upscale" and ww * hh <= iw * ih:
        raise Unsupported(
            f"upscale: the requested output ({w}x{h}) is not larger than the picture ({iw}x{ih}); "
            "ask for a larger size (--size)",
            clause=clause,
        )
    if (ww, hh) == (iw, ih):
        raise Unsupported(f"resize: the picture is already {w}x{h}, the requested size", clause=clause)
    f = max(ww / iw, hh / ih)  # keep the picture's aspect: the engine's cover-fit crops to the size at the end
    ww, hh = max(ww, round(iw * f)), max(hh, round(ih * f))
    out = cv2.resize(p.img, (ww, hh), interpolation=cv2.INTER_LANCZOS4)
    p.img = np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
    if p.alpha is not None:
        p.alpha = np.clip(cv2.resize(p.alpha, (ww, hh), interpolation=cv2.INTER_LANCZOS4), 0.0, 1.0)


register(
    Operation(
        name="resize",
        verdict="approximate",
        schema="kind: 'upscale'|'resize'; size?: 'WxH' (must be the request's size) — Lanczos resampling to "
        "the output size; adds no detail",
        lexicon=r"\bup-?scal|\bresolution\b|\bresize\b|\benlarge\b",
        prototypes=("upscale", "higher resolution", "resize"),
        parse=parse,
        forms=forms,
        render=render,
        order=125,  # last: after the layout (120)
        rank=1040,
        moves=True,
        rules=(Rule("hard", 65, lambda t: bool(_NAMED.search(t))),),
    )
)
