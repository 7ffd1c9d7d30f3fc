"""What the engine tests share: a plan for N panels, a panel's PNG bytes, a whole set from an engine."""

from __future__ import annotations

import io

from seqedit.engines import NullProgress
from seqedit.plan import make_plan
from seqedit.request import EditRequest

PROMPT = "the mug on a desk, in a kitchen, outdoors"


def plan(n=3, size="64*64", seed=7, prompt=PROMPT):
    return make_plan(EditRequest.create(prompt=prompt, images=["ref"], size=size, max_images=n, seed=seed))


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def run(engine, p, refs, progress=None):
    return list(engine.generate(p, refs, progress or NullProgress()))
