"""``rotate``: quarter turns (90°, 180°, 270°) and small straightening angles (≤ 20°, corners filled).

"Rotate 90°", "rotate it counter-clockwise", "turn the photo upside down", "rotate 3 degrees to the
left". A quarter turn is ``supported`` (exact; the aspect changes, so it ``moves`` and the engine
crops to the requested size at the end, as for a framing); a small angle is ``approximate``: the
corners the turn uncovers are filled by reflecting the edges, nothing new is painted. Other angles
(say 45°) are refused: too much of the picture would be made up. "Straighten" without an angle is
refused too (the classic engine does not find the horizon). Turning a subject in 3D ("rotate the
car to show its side") is not a picture rotation: that stays with ``generative``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import cv2
import numpy as np

from seqedit.engines.classic.masks import detect_faces
from seqedit.engines.classic.ops.registry import Operation, Params, Rule, register

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

MAX_SMALL = 20  # degrees a straightening may turn (corners filled)
_THING = r"(?:it|this|everything|(?:the |this |my )?(?:whole )?(?:photo|image|picture|pic|shot|frame|canvas))"
_DEG = r"(-?\d{1,3}(?:\.\d+)?)\s*(?:°|º|deg\b|degrees?\b)"
_NAMED = re.compile(
    r"\brotat\w* (?:" + _THING + r" )?(?:by )?" + r"-?\d{1,3}(?:\.\d+)?\s*(?:°|º|deg\b|degrees?\b)|"
    r"\brotat\w* " + _THING + r"(?:\s|$|[,.;])|\bturn " + _THING + r" (?:upside[- ]down|sideways|on its side|"
    r"(?:by )?\d{1,3}\s*(?:°|degrees?))|\b" + _THING + r" upside[- ]down\b|^\s*upside[- ]down\s*$|"
    r"\b(?:straighten|level)(?: out)? (?:" + _THING + r"|the horizon)\b|\b(?:quarter|half)[- ]turn\b|"
    r"\brotat\w* (?:\w+ )?(?:clockwise|counter-?clockwise|anti-?clockwise|to the (?:left|right))",
    re.I,
)
_CCW = re.compile(r"counter-?clockwise|anti-?clockwise|\bccw\b|to the left|\bleft\b", re.I)
ANGLES = (90, 180, 270, 3, -3, 20)  # the contract test's forms (clockwise degrees)


def parse(clause: str, whole: str) -> tuple[Params, str | None, str]:
    t = clause
    m = re.search(_DEG, t, re.I)
    if m:
        angle = float(m.group(1))
    elif re.search(r"upside[- ]down|half[- ]turn|\b180\b", t, re.I):
        angle = 180.0
    elif re.search(r"straighten|level", t, re.I):
        return {"angle": 0}, "unsupported", "straightening needs an angle (e.g. 'rotate 3° clockwise')"
    else:
        angle = 90.0  # "rotate it", "a quarter turn", "sideways"
    if _CCW.search(t):
        angle = -angle
    angle = ((angle + 180.0) % 360.0) - 180.0  # (-180, 180]
    if angle == -180.0:
        angle = 180.0
    if abs(angle) < 0.5:
        return {"angle": 0}, "unsupported", "a rotation by 0° changes nothing"
    if float(angle).is_integer() and int(angle) % 90 == 0:
        cw = int(angle) % 360
        return {"angle": cw}, None, ""
    if abs(angle) <= MAX_SMALL:
        return {"angle": round(angle, 1)}, "approximate", "corners uncovered by the turn are filled from the edges"
    return (
        {"angle": round(angle, 1)},
        "unsupported",
        (
            f"a rotation by {abs(angle):g}° would leave large corners to invent (quarter turns and up to "
            f"{MAX_SMALL}° are supported)"
        ),
    )


def rotate(img: np.ndarray, angle: float) -> np.ndarray:
    """``img`` turned ``angle`` degrees clockwise: quarter turns exactly, others with reflected corners."""
    if float(angle).is_integer() and int(angle) % 90 == 0:
        return np.ascontiguousarray(np.rot90(img, k=-(int(angle) // 90) % 4))
    if abs(angle) > MAX_SMALL:
        raise ValueError(f"rotation by {angle}° is not a small angle")
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -float(angle), 1.0)  # OpenCV: positive = counter-clockwise
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT101)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def forms() -> list[Params]:
    return [{"angle": a} for a in ANGLES]


def render(p: Panel, params: Params, plan: Plan, k: int, refs: list[Ref]) -> None:
    p.img = rotate(p.img, float(params.get("angle", 90)))
    p.faces = [(f.x, f.y, f.w, f.h) for f in detect_faces(p.img)]  # where the faces are now


register(
    Operation(
        name="rotate",
        verdict="supported",
        schema="angle: clockwise degrees — 90|180|270 exact; |angle| ≤ 20 approximate (corners filled); "
        "other angles refused",
        lexicon=r"\brotat\w* (?:it|the (?:photo|image|picture))|upside[- ]down|\bclockwise|\bstraighten",
        prototypes=(
            "rotate 90 degrees",
            "rotate clockwise",
            "upside down",
            "rotate by 3 degrees",
        ),
        parse=parse,
        forms=forms,
        render=render,
        order=55,  # before framing (60): a crop applies to the turned picture
        rank=1020,
        moves=True,
        rules=(Rule("hard", 25, lambda t: bool(_NAMED.search(t))),),
    )
)
