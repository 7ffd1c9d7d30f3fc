"""What a set is meant to be, read from its plan and the engine's verdicts: which figures apply to which panel.

Per panel: does it change the colours on purpose (a colourway, a grade), change the style on purpose (a
watercolour, a manga panel), or keep the subject where it is (edits whose geometry is the reference's:
colourways, grades, lighting)? The classic engine's verdicts name the operation of each clause; other
engines answer ``generate``, and then the panel's own words decide. A product or logo check applies when
the instruction names one (or marks a region with a ``<bbox>`` tag).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PIL import Image

from seqedit.engines.base import Verdict
from seqedit.plan import Plan

T = TypeVar("T")

# classic operations (engines/classic/ops) by what they do to the set
COLOUR_OPS = frozenset({"recolor", "adjust", "look", "lighting", "time_of_day", "invert", "style"})
STYLE_OPS = frozenset({"style", "generative"})
KEEP_OPS = frozenset({"recolor", "adjust", "look", "lighting", "time_of_day", "invert", "sharpen", "keep", "meta"})


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")", re.I)


STYLE_WORDS = _words(
    "style",
    "watercolou?r",
    "anime",
    "manga",
    "cartoon",
    "comic",
    "sketch",
    "drawing",
    "drawn",
    "paint",
    "oil ",
    "pixel art",
    "illustrat",
    "pop art",
    "line art",
    "clay",
    "low.poly",
    "ukiyo",
    "impressionis",
    "cyberpunk",
    "storyboard",
    "3d render",
    "vector art",
    "pencil",
    "charcoal",
)
COLOUR_WORDS = _words(
    "colou?r",
    "recolou?r",
    "tint",
    "grade",
    "graded",
    "hue",
    "palette",
    "warm",
    "cool",
    "sepia",
    "black and white",
    "monochrome",
    "gr[ae]yscale",
    "saturat",
    "desaturat",
    "vibrant",
    "pastel",
    "neon",
    "red",
    "blue",
    "green",
    "yellow",
    "orange",
    "purple",
    "violet",
    "pink",
    "navy",
    "gold",
    "silver",
    "brown",
    "white",
    "black",
    "teal",
    "beige",
    "cream",
    "grey",
    "gray",
    "night",
    "sunset",
    "golden hour",
    "lighting",
    "bright",
    "dark",
)
SCENE_WORDS = _words(
    "background",
    "scene",
    "crop",
    "zoom",
    "rotat",
    "pose",
    "angle",
    "view",
    "replace",
    "remove",
    "add ",
    "place",
    "wearing",
    "different",
    "caption",
    "text",
    "layout",
    "cover",
    "frame",
    "resiz",
    "flip",
    "mirror",
    "move",
    "close.up",
    "wide",
    "portrait of",
    "setting",
    "outfit",
    "holding",
)
PRODUCT_WORDS = _words("logo", "brand", "label", "product", "packag", "wordmark", "emblem", "badge", "trademark")


@dataclass(frozen=True)
class Intent:
    """What one panel's instruction asks for."""

    colour: bool  # colours change on purpose
    style: bool  # the rendering style changes on purpose
    keeps_subject: bool  # the subject stays where the reference has it (colourways, grades)


def intent(text: str, operations: Sequence[str]) -> Intent:
    """Read from the classic operations of the panel's clauses when there are any, else from its words."""
    ops = {op for op in operations if op and op != "generate"}
    if ops:
        return Intent(bool(ops & COLOUR_OPS), bool(ops & STYLE_OPS), ops <= KEEP_OPS)
    colour, style = bool(COLOUR_WORDS.search(text)), bool(STYLE_WORDS.search(text))
    return Intent(colour, style, colour and not style and not SCENE_WORDS.search(text))


@dataclass
class Context:
    """One set being measured: its plan, references and intents, the first delivered panel (the palette's
    baseline) and a memo for what metrics compute once per set (the reference's face, its edges)."""

    plan: Plan
    refs: list[Image.Image]
    intents: dict[int, Intent]
    product: bool  # the instruction names a product or logo (or marks a region)
    first: Image.Image | None = None
    memo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, plan: Plan, refs: list[Image.Image], verdicts: Sequence[Verdict] = ()) -> Context:
        shared_ops = [v.operation for v in verdicts if v.panel is None and v.verdict != "unsupported"]
        intents = {}
        for k in range(1, plan.count + 1):
            ops = shared_ops + [v.operation for v in verdicts if v.panel == k and v.verdict != "unsupported"]
            intents[k] = intent(plan.instruction(k), ops)
        product = bool(PRODUCT_WORDS.search(plan.prompt)) or "<bbox>" in plan.prompt
        return cls(plan, [im.convert("RGB") for im in refs], intents, product)

    def cached(self, key: str, make: Callable[[], T]) -> T:
        if key not in self.memo:
            self.memo[key] = make()
        value: T = self.memo[key]
        return value

    @property
    def same_look(self) -> bool:
        """No panel changes colour or style on purpose: every panel should look like the reference."""
        return not any(i.colour or i.style for i in self.intents.values())
