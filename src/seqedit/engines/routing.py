"""Which engine runs a plan, and why: the record a prediction, the plan endpoint and ``seqedit plan`` show.

An engine that picks another engine per request (``engines.auto``) offers ``route(plan) -> Route``;
every other engine runs its plans itself. ``route(engine, plan)`` answers for both, so the runner, the
plan preview and the CLI ask one question and show one shape, ``{"engine": name, "reason": one line}``.
No weights are loaded to answer it: routing reads the plan's clauses only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqedit.engines.base import Engine
from seqedit.plan import Plan

__all__ = ["CONFIGURED", "Route", "route"]

CONFIGURED = "the configured engine"


@dataclass(frozen=True)
class Route:
    """``engine`` runs the plan; ``reason`` says why in one line."""

    engine: Engine
    reason: str

    @property
    def name(self) -> str:
        return self.engine.name

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine.name, "reason": self.reason}


def route(engine: Engine, plan: Plan) -> Route:
    """The engine that runs ``plan`` when ``engine`` is the one configured, and why."""
    chooser = getattr(engine, "route", None)
    if callable(chooser):
        chosen = chooser(plan)
        if isinstance(chosen, Route):
            return chosen
    return Route(engine, CONFIGURED)
