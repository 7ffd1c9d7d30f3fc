"""Run one edit in-process: references → plan → engine → encoded panels (no server, no queue).

This is what ``seqedit edit`` does; the job runner does the same with rows and storage around it.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image

from seqedit.engines.base import Engine, Progress, Verdict
from seqedit.imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, decode, encode
from seqedit.plan import Plan, make_plan
from seqedit.request import EditRequest


@dataclass
class Prepared:
    """A request that passed every check and is ready to render."""

    request: EditRequest
    refs: list[Image.Image]
    plan: Plan
    verdicts: list[Verdict]
    warnings: list[str]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Output:
    index: int  # 1-based
    data: bytes
    width: int
    height: int
    seconds: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def decode_refs(blobs: list[bytes], *, max_bytes: int = DEFAULT_MAX_BYTES,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> list[Image.Image]:
    """Decode reference images; errors name ``images[i]``."""
    return [decode(b, field=f"images[{i}]", max_bytes=max_bytes, max_pixels=max_pixels) for i, b in enumerate(blobs)]


def prepare(request: EditRequest, refs: list[Image.Image], engine: Engine) -> Prepared:
    """Plan the request and let the engine refuse it (``Unsupported``) before anything renders."""
    t0 = time.perf_counter()
    plan = make_plan(request, [im.size for im in refs])
    t1 = time.perf_counter()
    verdicts = engine.analyse(plan)
    warnings = list(plan.warnings) + engine.check(plan, refs)
    t2 = time.perf_counter()
    return Prepared(request, refs, plan, verdicts, warnings, {"plan": t1 - t0, "check": t2 - t1})


def render(prepared: Prepared, engine: Engine, progress: Progress) -> Iterator[Output]:
    """Yield the encoded panels one at a time (memory does not grow with N)."""
    plan = prepared.plan
    t = time.perf_counter()
    for i, panel in enumerate(engine.generate(plan, prepared.refs, progress), start=1):
        if panel.size != (plan.size.width, plan.size.height):
            raise RuntimeError(f"engine returned panel {i} at {panel.size}, expected {plan.size}")
        data = encode(panel, plan.output_format)
        now = time.perf_counter()
        yield Output(i, data, panel.width, panel.height, now - t)
        t = now
