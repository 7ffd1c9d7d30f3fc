"""One set's consistency: every panel measured as it is delivered, and the guard that re-renders a drifter.

``Watch.panel(index, image)`` measures the panel with every registered metric. When the engine's
``consistency_guard`` option is on and a guarded figure (identity, product) fails, the panel is
re-rendered through the engine's optional ``rerender(plan, refs, index, seed, progress)`` with a new
seed — ``plan.seed + 1000·attempt + index − 1``, so a re-run gives the same bytes — up to
``consistency_retries`` times; each retry is recorded with the figure that caused it. A panel that
still fails (or whose engine cannot re-render, or runs without the guard) is delivered with a warning
naming the figure, never silently. ``Report`` is what set.json and the prediction carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from seqedit.consistency.builtins import metrics
from seqedit.consistency.context import Context
from seqedit.consistency.figures import Figure, Metric, skipped
from seqedit.engines.base import Engine, EngineError, Progress, Rerenders, Verdict
from seqedit.engines.routing import route
from seqedit.plan import Plan

SEED_STEP = 1000  # far from the seeds of the other panels (plan.seed + k − 1, k ≤ 15)


@dataclass(frozen=True)
class Retry:
    panel: int
    attempt: int  # 1-based
    seed: int
    because: Figure

    def to_dict(self) -> dict[str, Any]:
        return {"panel": self.panel, "attempt": self.attempt, "seed": self.seed, "reason": self.because.describe()}


@dataclass
class Report:
    guard: bool
    max_retries: int
    panels: dict[int, list[Figure]] = field(default_factory=dict)
    retries: list[Retry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def figures(self, index: int) -> dict[str, Any]:
        return {f.name: f.to_dict() for f in self.panels.get(index, [])}

    def to_dict(self) -> dict[str, Any]:
        return {
            "guard": self.guard,
            "max_retries": self.max_retries,
            "panels": [{"index": k, "figures": self.figures(k)} for k in sorted(self.panels)],
            "retries": [r.to_dict() for r in self.retries],
            "warnings": list(self.warnings),
        }


def guard_settings(engine: Engine) -> tuple[bool, int]:
    """(guard on, retry bound) from the engine's options (absent: off, as for the classic engine)."""
    options = getattr(engine, "options", None)
    return bool(getattr(options, "consistency_guard", False)), int(getattr(options, "consistency_retries", 0) or 0)


class _Quiet:
    """The caller's progress without ``report``: a re-render must not move the set's fraction backwards."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self.id = getattr(progress, "id", "")  # the job's id, where the runner's progress has one (idempotency)

    def report(self, fraction: float, message: str = "") -> None:
        pass

    def cancelled(self) -> bool:
        return self._progress.cancelled()

    def warn(self, message: str) -> None:
        self._progress.warn(message)


def measure(metric: Metric, panel: Image.Image, index: int, context: Context) -> Figure:
    reason = metric.applies(context, index)
    if reason is not None:
        return skipped(metric, reason)
    try:
        return metric.measure(panel, index, context)
    except Exception as exc:  # a figure never fails the set: it says why it has no value
        return skipped(metric, f"could not be measured ({type(exc).__name__}: {exc})")


class Watch:
    def __init__(
        self,
        plan: Plan,
        refs: list[Image.Image],
        verdicts: Sequence[Verdict],
        engine: Engine,
        progress: Progress,
        chosen: Sequence[Metric] | None = None,
    ) -> None:
        self.context = Context.create(plan, refs, verdicts)
        # the engine that runs the plan (``--engine auto`` picks one part per request): its options, its rerender
        self.engine, self.progress = route(engine, plan).engine, progress
        self.metrics = list(chosen) if chosen is not None else metrics()
        guard, bound = guard_settings(self.engine)
        self.report = Report(guard, bound if guard else 0)

    def _measure(self, index: int, image: Image.Image) -> list[Figure]:
        return [measure(m, image, index, self.context) for m in self.metrics]

    def _failing(self, figures: list[Figure]) -> list[Figure]:
        guarded = {m.name for m in self.metrics if m.guarded}
        return [f for f in figures if f.name in guarded and f.passed is False]

    def _rerender(self, index: int, seed: int) -> Image.Image:
        plan = self.context.plan
        assert isinstance(self.engine, Rerenders)
        image = self.engine.rerender(plan, self.context.refs, index, seed, _Quiet(self.progress))
        if image.size != (plan.size.width, plan.size.height) or image.mode not in ("RGB", "RGBA"):
            raise EngineError(
                f"the {self.engine.name} engine re-rendered panel {index} at {image.width}x{image.height} "
                f"in mode {image.mode}, expected {plan.size.width}x{plan.size.height} RGB or RGBA"
            )
        return image

    def panel(self, index: int, image: Image.Image) -> Image.Image:
        """Measure panel ``index`` (re-rendering it under the guard); returns the panel to deliver."""
        figures = self._measure(index, image)
        failing = self._failing(figures)
        can = isinstance(self.engine, Rerenders)
        attempt = 0
        while failing and self.report.guard and can and attempt < self.report.max_retries:
            attempt += 1
            seed = (self.context.plan.seed + SEED_STEP * attempt + index - 1) % 2**31
            self.report.retries.append(Retry(index, attempt, seed, failing[0]))
            image = self._rerender(index, seed)
            figures = self._measure(index, image)
            failing = self._failing(figures)
        for figure in failing:
            note = f"panel {index}: {figure.describe()}"
            if attempt:
                note += f" after {attempt} re-render{'s' if attempt != 1 else ''}"
            elif self.report.guard and not can:
                note += f" (the {self.engine.name} engine cannot re-render a panel)"
            self.report.warnings.append(note)
            self.progress.warn(note)
        if index == 1:
            self.context.first = image
        self.report.panels[index] = figures
        return image


def describe(
    plan: Plan, verdicts: Sequence[Verdict], engine: Engine, chosen: Sequence[Metric] | None = None
) -> dict[str, Any]:
    """What will be checked, for the plan endpoint (no reference is decoded): each metric with its
    threshold, whether the guard re-renders on it, and the panels it applies to (or why none)."""
    context = Context.create(plan, [], verdicts)
    guard, bound = guard_settings(route(engine, plan).engine)
    checks = []
    for m in chosen if chosen is not None else metrics():
        reasons = {k: m.applies(context, k) for k in range(1, plan.count + 1)}
        panels = [k for k, reason in reasons.items() if reason is None]
        check = {"name": m.name, "threshold": m.threshold, "better": m.better, "guarded": m.guarded}
        check.update(what=m.describes, panels=panels)
        if not panels:
            check["reason"] = next(iter(reasons.values()), None)
        checks.append(check)
    return {"guard": guard, "max_retries": bound if guard else 0, "checks": checks}
