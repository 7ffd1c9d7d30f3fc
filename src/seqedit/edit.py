"""The one run loop: references → plan → engine → encoded panels, with the engine contract enforced.

``seqedit edit`` calls it in-process and writes files; the job runner (``jobs.runner``) calls the same
``prepare`` and ``render`` with rows and storage around them. ``render`` is where the port's promise
is checked, the same way for both: exactly ``plan.count`` panels, each at ``plan.size`` and in one of
``PANEL_MODES``; an engine that breaks it fails with an ``EngineError`` naming the panel, never a
silently resized or missing image.

``render`` also records what made the set (``provenance``): seqedit's and Pillow's versions (Pillow
encodes every panel), the engine that runs the plan (the routed one under ``--engine auto``) and what
that engine resolved (its optional ``provenance(plan)``, see ``engines.base``), asked once, before the
first panel. It lands on ``Prepared.provenance`` and goes to ``on_provenance`` when given (the runner
writes it on the row before panel 1 renders, so a failed set records it too).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import PIL
from PIL import Image

from seqedit import __version__, watermark
from seqedit.consistency import Report, Watch
from seqedit.engines.base import Engine, EngineError, Progress, Verdict, plain
from seqedit.engines.routing import route
from seqedit.imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, decode, encode
from seqedit.plan import Plan, make_plan
from seqedit.request import EditRequest

PANEL_MODES = ("RGB", "RGBA")


@dataclass
class Prepared:
    """A request that passed every check and is ready to render."""

    request: EditRequest
    refs: list[Image.Image]
    plan: Plan
    verdicts: list[Verdict]
    warnings: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None  # what made the set; ``render`` fills it in before panel 1
    consistency: Report | None = None  # filled by ``render``: the figures per panel, retries, warnings


@dataclass(frozen=True)
class Output:
    index: int  # 1-based
    data: bytes
    width: int
    height: int
    seconds: float  # generating and encoding this panel
    inference: float = 0.0  # of which generating (the engine's own time)
    consistency: dict[str, Any] | None = None  # this panel's figures (``seqedit.consistency``)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def decode_refs(
    blobs: list[bytes], *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[Image.Image]:
    """Decode reference images; errors name ``images[i]``."""
    return [decode(b, field=f"images[{i}]", max_bytes=max_bytes, max_pixels=max_pixels) for i, b in enumerate(blobs)]


def prepare(request: EditRequest, refs: list[Image.Image], engine: Engine) -> Prepared:
    """Plan the request, analyse each clause, and let the engine refuse it (``Unsupported``) before
    anything renders."""
    t0 = time.perf_counter()
    plan = make_plan(request, [im.size for im in refs])
    t1 = time.perf_counter()
    clauses = engine.analyse(plan)
    warnings = list(plan.warnings) + engine.check(plan, refs)
    t2 = time.perf_counter()
    return Prepared(request, refs, plan, clauses, warnings, {"plan": t1 - t0, "check": t2 - t1})


def provenance(engine: Engine, plan: Plan) -> dict[str, Any]:
    """What makes ``plan``'s pixels (see the module docstring): JSON-ready, the common keys last so an
    engine cannot shadow them."""
    chosen = route(engine, plan).engine
    own = getattr(chosen, "provenance", None)
    resolved = own(plan) if callable(own) else {}
    if not isinstance(resolved, Mapping):
        raise EngineError(f"the {chosen.name} engine's provenance() returned {type(resolved).__name__}, not a dict")
    return {**plain(resolved), "engine": chosen.name, "seqedit": __version__, "pillow": PIL.__version__}


def render(
    prepared: Prepared,
    engine: Engine,
    progress: Progress,
    *,
    on_provenance: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[Output]:
    """Yield the encoded panels one at a time (memory does not grow with N), enforcing the contract."""
    plan = prepared.plan
    prepared.provenance = provenance(engine, plan)
    if on_provenance is not None:
        on_provenance(prepared.provenance)
    want = (plan.size.width, plan.size.height)
    count = 0
    watch = Watch(plan, prepared.refs, prepared.verdicts, engine, progress)  # figures per panel, the guard
    prepared.consistency = watch.report
    panels = engine.generate(plan, prepared.refs, progress)
    while True:
        t0 = time.perf_counter()
        try:
            panel = next(panels)
        except StopIteration:
            break
        t1 = time.perf_counter()
        count += 1
        if count > plan.count:
            raise EngineError(f"the {engine.name} engine produced more than {plan.count} panels")
        if panel.size != want:
            raise EngineError(
                f"the {engine.name} engine returned panel {count} at {panel.width}x{panel.height}, "
                f"expected {plan.size.width}x{plan.size.height}"
            )
        if panel.mode not in PANEL_MODES:
            raise EngineError(
                f"the {engine.name} engine returned panel {count} in mode {panel.mode}, "
                f"expected one of {', '.join(PANEL_MODES)}"
            )
        panel = watch.panel(count, panel)  # measured; re-rendered when the guard says it drifted
        if prepared.request.watermark:
            panel = watermark.apply(panel)
        data = encode(panel, plan.output_format)
        figures = watch.report.figures(count)
        yield Output(count, data, panel.width, panel.height, time.perf_counter() - t0, t1 - t0, figures)
    if count != plan.count:
        raise EngineError(f"the {engine.name} engine produced {count} of {plan.count} panels")
