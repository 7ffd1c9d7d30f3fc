"""The engine port: what every engine implements, and the registry that finds one by name.

Exception tree (all carry a message meant for the end user; the root is ``errors.SeqeditError``):

    EngineError            the engine failed (code 5000 unless set)
    ├── Unsupported        the instruction needs something this engine cannot do (code 1403)
    └── Cancelled          ``Progress.cancelled()`` answered yes between steps

An engine never sees HTTP, rows or the queue: it gets a ``Plan``, decoded reference images and a
``Progress``, and yields exactly ``plan.count`` panels, in order, one at a time, each already at
``plan.size``.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from PIL import Image

from seqedit.errors import SeqeditError
from seqedit.plan import Plan

VerdictKind = Literal["supported", "approximate", "unsupported"]


class EngineError(SeqeditError):
    code = 5000


class Unsupported(EngineError):
    """The request asks for something this engine cannot do; the message names the clause."""

    code = 1403

    def __init__(self, message: str, *, clause: str = "", suggestion: str = "") -> None:
        super().__init__(message)
        self.clause = clause
        self.suggestion = suggestion


class Cancelled(EngineError):
    code = 1403

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Verdict:
    """How an engine will treat one clause of the instruction."""

    panel: int | None  # None: the shared instruction
    clause: str
    operation: str
    verdict: VerdictKind
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"panel": self.panel, "clause": self.clause, "operation": self.operation,
                "verdict": self.verdict, "note": self.note}


class Progress(Protocol):
    def report(self, fraction: float, message: str = "") -> None:
        """Overall progress of the set, 0.0-1.0 (monotonic)."""

    def cancelled(self) -> bool:
        """True when the caller wants the run to stop; engines check it between steps."""

    def warn(self, message: str) -> None:
        """A warning found while rendering (``check`` gives the ones known before): it joins the set's
        warnings (set.json, the prediction's ``warnings``)."""


class NullProgress:
    def __init__(self, cancel: threading.Event | None = None) -> None:
        self._cancel = cancel or threading.Event()
        self.last = 0.0
        self.warnings: list[str] = []

    def report(self, fraction: float, message: str = "") -> None:
        self.last = fraction

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def cancelled(self) -> bool:
        return self._cancel.is_set()


@runtime_checkable
class Engine(Protocol):
    name: str

    def analyse(self, plan: Plan) -> list[Verdict]:
        """Per-clause verdicts, without rendering. Never raises for unsupported clauses."""

    def check(self, plan: Plan, refs: list[Image.Image] | None = None) -> list[str]:
        """Warnings for this plan; raises ``Unsupported`` naming the clause when it cannot be done."""

    def generate(self, plan: Plan, refs: list[Image.Image], progress: Progress) -> Iterator[Image.Image]:
        """Yield ``plan.count`` panels at ``plan.size``, in order. Raises ``EngineError``."""


_REGISTRY: dict[str, Callable[..., Engine]] = {}


def register(name: str, factory: Callable[..., Engine]) -> None:
    _REGISTRY[name] = factory


def names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def create(name: str, **options: Any) -> Engine:
    """Build the engine registered as ``name`` (``classic``, ``diffusion``, ``remote``, …)."""
    _load_builtins()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; available: {', '.join(sorted(_REGISTRY))}", code=1400) from None
    return factory(**options)


def _load_builtins() -> None:
    # Imported lazily so that `import seqedit` stays light and optional extras stay optional.
    import importlib

    for module in ("seqedit.engines.classic", "seqedit.engines.diffusion"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
