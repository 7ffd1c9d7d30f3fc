"""A figure (one measured value and the threshold it is judged by), the ``Metric`` interface, the registry.

A metric measures one panel of a set from the panel and the references; it never downloads anything.
``measure`` returns a ``Figure`` whose ``value`` is ``None`` (with a ``reason``) when the metric does not
apply to the panel — no face to compare, a deliberate style change, a missing optional package.
``register`` replaces a metric of the same name, so a deployment can plug in a stronger one (an ArcFace
or DINOv2 embedding from local weights) under ``identity`` without touching the run loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from PIL import Image

if TYPE_CHECKING:
    from seqedit.consistency.context import Context

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Figure:
    """One metric on one panel. ``passed`` is None exactly when ``value`` is (then ``reason`` says why)."""

    name: str
    value: float | None
    threshold: float
    better: Better  # "lower": passes at or under the threshold (a distance); "higher": at or over it
    reason: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.threshold if self.better == "lower" else self.value >= self.threshold

    def describe(self) -> str:
        """``identity 0.69 over its threshold 0.60`` (or why there is no value)."""
        if self.value is None:
            return f"{self.name}: n/a ({self.reason})"
        side = ("under" if self.passed else "over") if self.better == "lower" else ("over" if self.passed else "under")
        return f"{self.name} {self.value:.2f} {side} its threshold {self.threshold:.2f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": None if self.value is None else round(self.value, 4),
            "threshold": self.threshold,
            "better": self.better,
            "passed": self.passed,
            "reason": self.reason or None,
        }


def skipped(metric: Metric, reason: str) -> Figure:
    """The figure of a metric that does not apply, saying why."""
    return Figure(metric.name, None, metric.threshold, metric.better, reason)


@runtime_checkable
class Metric(Protocol):
    name: str
    threshold: float
    better: Better
    guarded: bool  # the guard re-renders a panel that fails this figure (identity, product)
    describes: str  # one line for the plan endpoint: what is checked

    def applies(self, context: Context, index: int) -> str | None:
        """None when the metric applies to panel ``index`` (1-based); else the reason it does not."""

    def measure(self, panel: Image.Image, index: int, context: Context) -> Figure:
        """The figure of panel ``index``; ``value`` None with a reason when nothing can be compared."""


_METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> None:
    """Add ``metric`` (replacing one of the same name: e.g. a stronger ``identity``)."""
    _METRICS[metric.name] = metric


def register_default(metric: Metric) -> None:
    """Add ``metric`` unless one of its name is registered already (a deployment's stays)."""
    _METRICS.setdefault(metric.name, metric)


def unregister(name: str) -> None:
    _METRICS.pop(name, None)


def registered() -> list[Metric]:
    """The registered metrics, in registration order (``builtins.metrics`` adds the built-ins first)."""
    return list(_METRICS.values())
