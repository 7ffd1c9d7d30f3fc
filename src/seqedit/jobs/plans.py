"""Plan a request without creating a task: what the plan endpoint answers and what a strict submit checks.

``preview(engine, request, ref_sizes, ...)`` is pure: the core's ``make_plan`` (panels and their
instructions, the resolved count and size), the route (``engines.routing``: the engine that would run it
and why — another than the configured one only under ``--engine auto``), the engine's per-clause
``analyse`` (each verdict with the engine that would run it), and the engine's ``check`` — the one
line the task would fail with (``refusal``), or the warnings it would carry. Nothing is rendered, stored or enqueued.

``reference_sizes`` finds the sizes the plan's default size comes from without fetching anything: an
inline image is header-probed (``check_references`` already did), one of our own files is
header-read from storage (the first ``HEADER_BYTES``), a remote URL is unknown until the runner
fetches it — then ``size`` is ``None`` ("from the first reference") unless the request gives one.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from seqedit import consistency
from seqedit.engines.base import Engine, Unsupported, Verdict
from seqedit.engines.routing import route
from seqedit.plan import make_plan
from seqedit.pricing import cost
from seqedit.request import EditRequest
from seqedit.storage import OBJECT_REF, Storage

__all__ = ["preview", "reference_sizes", "verdict_dicts", "HEADER_BYTES"]

HEADER_BYTES = 256 * 1024  # enough for the size in any accepted format's header (EXIF/ICC blocks included)


def reference_sizes(
    storage: Storage, refs: list[str], inline_sizes: dict[str, tuple[int, int]]
) -> list[tuple[int, int] | None]:
    """(width, height) of each staged reference where it is known without a fetch, else ``None``."""
    out: list[tuple[int, int] | None] = []
    for ref in refs:
        if not ref.startswith(OBJECT_REF):
            out.append(None)
            continue
        key = ref[len(OBJECT_REF) :]
        if key in inline_sizes:
            out.append(inline_sizes[key])
            continue
        out.append(_stored_size(storage, key))
    return out


def _stored_size(storage: Storage, key: str) -> tuple[int, int] | None:
    try:
        body = storage.open(key, (0, HEADER_BYTES - 1))
        try:
            data = b"".join(body.chunks)
        finally:
            body.close()
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # unreadable header: the plan says "from the first reference", the runner decides
        return None


def verdict_dicts(engine: Engine, verdicts: list[Verdict]) -> list[dict[str, Any]]:
    """Verdicts as the plan route and a prediction's ``plan`` show them: each with its engine (the one
    that runs the plan: ``engines.routing.route(...).engine``)."""
    return [{**v.to_dict(), "engine": engine.name} for v in verdicts]


def preview(
    engine: Engine,
    request: EditRequest,
    ref_sizes: list[tuple[int, int] | None],
    *,
    model: str,
    unit_price: Any,
) -> dict[str, Any]:
    """The plan, verdicts, refusal, warnings and price of ``request`` as ``engine`` would run it."""
    first = ref_sizes[0] if ref_sizes else None
    plan = make_plan(request, [first] if first is not None else None)
    size = str(plan.size) if (request.size is not None or first is not None) else None
    chosen = route(engine, plan)
    analysed = engine.analyse(plan)
    verdicts = verdict_dicts(chosen.engine, analysed)
    refusal: str | None = None
    warnings = list(plan.warnings)
    try:
        warnings += engine.check(plan, None)
    except Unsupported as exc:
        refusal = exc.message
    n = plan.count
    total = float(cost(n, unit_price))
    return {
        "model": model,
        "engine": engine.name,
        "route": chosen.to_dict(),
        "consistency": consistency.describe(plan, analysed, chosen.engine),  # what each panel is checked for
        "count": n,
        "declared_count": plan.declared_count,
        "size": size,
        "seed": request.seed if request.seed is not None and request.seed >= 0 else None,
        "shared": plan.shared,
        "panels": [{"index": p.index, "text": p.text, "source": p.source} for p in plan.panels],
        "verdicts": verdicts,
        "supported": refusal is None and not any(v["verdict"] == "unsupported" for v in verdicts),
        "refusal": refusal,
        "warnings": warnings,
        "price": {"unit_price": float(unit_price), "max_images": n, "base_price": total, "currency": "USD"},
    }
