"""``keep``: a constraint ("keep the logo", "same lighting"), honoured by construction; nothing to render.

A clause that starts like a constraint (``CONSTRAINT``) or ends like one (``CONSTRAINT_TAIL``, when it
names no colour) is ``keep`` before any other rule (``router/classify.py``). Keep ops accumulate: a
panel's own constraint does not replace the shared ones.
"""

from __future__ import annotations

import re

from seqedit.engines.classic.ops.registry import Operation, register

CONSTRAINT = re.compile(
    r"^(?:(?:and|while|but|also|please)\s+)?(?:keep|keeping|maintain|maintaining|preserve|preserving|"
    r"ensure|ensuring|retain|retaining|same|identical|consistent|consistently|unchanged|"
    r"leav(?:e|ing) (?:[\w'-]+ ){0,4}?(?:as (?:it|is)|alone|untouched|unchanged|intact|the same)|"
    r"don't|do not|never|without (?:changing|altering|touching)|no (?:changes?|change) to|"
    r"nothing else)\b|^(?:with\s+)?(?:the|this|that|an?)\s+(?:same|identical|unchanged)(?:\s+[\w'-]+){0,2}"
    r"(?:\s*(?:,|\band\b|&)\s*[\w'-]+){0,3}"  # "the same angle and background", "the same light, pose and crop"
    r"(?:\s+(?:in|across|for|throughout|on) (?:every|each|all)\b.*)?$",
    re.I,
)
CONSTRAINT_TAIL = re.compile(
    r"\b(?:unchanged|untouched|intact|as (?:it is|is)|the same|stays? the same|identical|"
    r"consistent)\s*[.!]?$",
    re.I,
)

register(
    Operation(
        name="keep",
        rank=130,
        verdict="supported",
        schema="— a constraint ('keep the logo', 'same lighting'): honoured by construction",
        lexicon=CONSTRAINT.pattern[1:] + r"|stay|unchanged|untouched|intact|must not|should not|same",
        prototypes=(
            "keep the logo the same",
            "maintain the same lighting and angle",
            "preserve her identity",
            "ensure consistent proportions",
            "do not change the face",
            "everything else stays the same",
            "same shoe model in all panels",
            "keeping the background untouched",
        ),
        bookkeeping=True,
        accumulates=True,
    )
)
