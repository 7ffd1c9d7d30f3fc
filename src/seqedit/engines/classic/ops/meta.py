"""``meta``: set bookkeeping ("generate a series of 4 images"); nothing to render.

Bookkeeping clauses are recognised by ``router/bookkeeping.py``; this module gives the similarity
model its prototypes for the clauses those rules miss. The plan policy also turns a shared colourless
recolour into a ``meta`` hint when every panel names its own colours.
"""

from __future__ import annotations

from seqedit.engines.classic.ops.registry import Operation, register

register(
    Operation(
        name="meta",
        rank=140,
        verdict="supported",
        schema="— set bookkeeping ('generate a series of 4 images'): nothing to render",
        lexicon=r"generate|series of|set of|\boutputs?\b|\bper panel\b|numbered",
        prototypes=(
            "generate a series of 4 images",
            "create three pictures from the reference photo",
            "make 2 edited images based on the source",
            "a set of five outputs",
            "from the uploaded photos",
            "for this character",
        ),
        bookkeeping=True,
    )
)
