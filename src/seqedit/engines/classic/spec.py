"""The classic engine's operation vocabulary: what the router emits and the ops execute.

One ``OpSpec`` per recognised clause. ``name`` is one of ``OPERATIONS``; ``params`` follow the
schema documented next to each name. The router (``router/``) produces specs; the engine
(``engine.py``) runs them in ``ORDER`` on each panel, with masks computed once per reference.

Images inside the classic engine are float32 numpy arrays, H×W×3, RGB, values in [0, 1]
(``arrays.to_float`` / ``arrays.to_image``). Masks are float32 H×W in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

VerdictKind = Literal["supported", "approximate", "unsupported"]

# name -> (default verdict, params schema, what it does)
OPERATIONS: dict[str, tuple[VerdictKind, str]] = {
    "recolor": ("supported",
                "colors: {'primary': str, 'accent'?: str, 'sole'?: str, 'trim'?: str}; finish?: "
                "'matte'|'glossy'|'metallic'; target?: 'subject'|'hair'|'clothes'|'background' — "
                "recolour the subject (or a named part) keeping shading and texture"),
    "background": ("supported",
                   "kind: 'studio'|'gradient'|'city'|'color'|'remove'|'reference'|'blur'; color?: str; "
                   "ref?: int (0-based reference index) — replace or remove the backdrop behind the subject"),
    "style": ("supported",
              "style: 'pencil'|'ink'|'manga'|'comic'|'popart'|'cartoon'|'watercolor'|'oil' — re-render"),
    "look": ("supported",
             "look: 'cyberpunk'|'golden_hour'|'noir'|'vintage'|'cold'|'warm'|'bw' — a colour grade"),
    "time_of_day": ("approximate",
                    "time: 'dawn'|'morning'|'noon'|'afternoon'|'sunset'|'dusk'|'night' — grade (+ sky tint)"),
    "lighting": ("approximate",
                 "kind: 'soft'|'dramatic'|'rim'|'studio'|'backlit'; side?: 'left'|'right'|'top' — relight"),
    "framing": ("supported",
                "kind: 'closeup'|'medium'|'wide'|'crop'|'aspect'|'mirror'; aspect?: 'W:H' — reframe "
                "(wide is approximate: border extension; mirror refuses to flip detected text silently)"),
    "frame": ("supported", "kind: 'border'|'polaroid'|'film'|'rounded'; color?: str — a frame around the image"),
    "caption": ("supported", "text: str; position?: 'top'|'bottom' — a caption bar"),
    "cover": ("supported", "title?: str; lines?: list[str] — magazine cover, masthead behind the head"),
    "layout": ("supported",
               "kind: 'storyboard'|'comic_page'|'grid'|'side_by_side' — compose references/framings on a page"),
    "remove": ("supported", "what: 'text'|'watermark'|'scratches'|'dust'|'object' — inpaint thin defects "
               "(object: unsupported unless thin)"),
    "generative": ("unsupported",
                   "what: 'hairstyle'|'age'|'pose'|'view'|'face_swap'|'scene'|'story'|'object'|'expression'|"
                   "'outfit'|'person' — needs new content: a generative engine"),
    "keep": ("supported", "— a constraint ('keep the logo', 'same lighting'): honoured by construction"),
    "meta": ("supported", "— set bookkeeping ('generate a series of 4 images'): nothing to render"),
}

# Application order on each panel (later ops see earlier results). Ops that need the reference's
# masks to line up (remove … time_of_day) come before framing; looks and styles come after it, so a
# close-up is re-rendered at full resolution rather than magnifying grain or screentone.
ORDER = ["remove", "recolor", "background", "lighting", "time_of_day", "framing", "look", "style",
         "cover", "caption", "frame", "layout"]


@dataclass(frozen=True)
class OpSpec:
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    clause: str = ""
    verdict: VerdictKind = "supported"
    confidence: float = 1.0
    note: str = ""
