"""The operation registry: ``Operation`` (one operation, defined once), ``OpSpec`` (one routed use of it).

Each module of this package calls ``register(Operation(...))`` at import time. ``OPERATIONS`` is a live,
read-only view of the registry in ``rank`` order (then name); the first look at it imports every
module of the package (``discover``), so the router and the engine see every operation without
naming any.

``rank`` is the operation's row in the router's tables: the order of the prototype matrix (float32
BLAS results depend on a row's position in the batch, at the 1e-7 level) and of exactly equal scores
(none in the labelled sets). The fifteen original operations keep the order they had (0-140), so the
router's scores are bit-identical to before; a new operation defaults to after them. The render
order is each operation's own ``order``.

``version()`` changes on every ``register``/``unregister``: the router's caches (prototype matrix,
lexicon, rules) are keyed by it, so an operation registered at run time is routed at once.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from seqedit.engines.classic.panel import Panel, Ref
    from seqedit.plan import Plan

VerdictKind = Literal["supported", "approximate", "unsupported"]
RuleStage = Literal["hard", "phrase", "companion"]
Params = dict[str, Any]

# a parser's verdict override meaning: the clause reads like the op but names none of its parameters
# ("add a caption" without text): the router reports the clause instead of running made-up values
UNRESOLVED = "unresolved"

Parse = Callable[[str, str], tuple[Params, str | None, str]]
Renderer = Callable[["Panel", Params, "Plan", int, "list[Ref]"], None]


@dataclass(frozen=True)
class OpSpec:
    """One recognised clause: operation ``name`` with ``params``, its verdict and the note explaining it."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    clause: str = ""
    verdict: VerdictKind = "supported"
    confidence: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class Rule:
    """A pattern that names an operation without the similarity model.

    ``hard``: tried first, on the clause without its bookkeeping wrapper ("a side view", "age 65").
    ``phrase``: tried next, on that content and then on the whole clause; a class of phrasing that names
    the op without its keyword ("a caption that reads '…'"). ``companion``: once a clause has its op, a
    strong name elsewhere in it adds this op too ("cyberpunk-style city" → look + background).
    Within a stage the lowest ``rank`` that matches wins (companions: all that match, by rank).
    """

    stage: RuleStage
    rank: int
    test: Callable[[str], bool]


def _no_params(clause: str, whole: str) -> tuple[Params, str | None, str]:
    return {}, None, ""


def _no_forms() -> Iterable[Params]:
    return ()


@dataclass(frozen=True)
class Operation:
    """Everything about one operation: name, verdicts, lexicon and prototypes, parameters, renderer.

    * ``verdict``: the default verdict; ``parse`` may override it per clause (with a note), or return
      ``UNRESOLVED`` when the parameters are missing.
    * ``schema``: the parameters, for people (``parse`` is the truth).
    * ``lexicon``: a regex (case-insensitive); a hit adds ``KEYWORD_BOOST`` to the op's score.
    * ``prototypes``: sentences; the op's score is the best MiniLM cosine to one of them.
    * ``parse(clause, whole)``: (params, verdict override or None, note). ``clause`` is the text to read
      (bookkeeping stripped), ``whole`` the normalised full clause.
    * ``forms()``: every parameter form ``parse`` can emit, for the contract test.
    * ``render(panel, params, plan, k, refs)``: changes the panel in place; ``None`` for an op that never
      renders (``generative`` is refused, ``keep``/``meta`` change nothing).
    * ``rank``: its row in the router's tables (see the module docstring).
    * ``order``: where the op runs on a panel (lower first; later ops see earlier results).
    * ``moves``: rendering changes the geometry (crop, page), so masks no longer line up afterwards.
    * ``bookkeeping``: the op changes no pixels (``keep``, ``meta``): a panel of only these is empty.
    * ``accumulates``: a panel's own op does not replace a shared op of this name, both apply.
    * ``story_setting``: a renderable setting that lets a story clause be approximated (look, style).
    * ``expand(first, content)``: more ops from the same clause ("remove the text and the dust").
    * ``located``: the op edits a region: the router reads the region the clause names (``targets.py``)
      into ``params['target']`` and a location tag into ``params['where']``, and the renderer edits only
      there (``regions.py``). A location tag on an op that is not ``located`` is refused, not ignored.
    """

    name: str
    verdict: VerdictKind
    schema: str
    lexicon: str
    prototypes: tuple[str, ...]
    parse: Parse = _no_params
    forms: Callable[[], Iterable[Params]] = _no_forms
    render: Renderer | None = None
    order: float | None = None
    rank: int = 1000
    rules: tuple[Rule, ...] = ()
    moves: bool = False
    bookkeeping: bool = False
    accumulates: bool = False
    story_setting: bool = False
    expand: Callable[[OpSpec, str], list[OpSpec]] | None = None
    located: bool = False

    def __post_init__(self) -> None:
        if (self.render is None) != (self.order is None):
            raise ValueError(f"operation {self.name!r}: render and order go together")

    @cached_property
    def lexicon_rx(self) -> re.Pattern[str]:
        return re.compile(self.lexicon, re.I)


_REGISTRY: dict[str, Operation] = {}
_state = {"version": 0, "discovered": False}


def register(op: Operation) -> Operation:
    """Add ``op`` (a module of this package calls this at import time); a name is registered once."""
    if op.name in _REGISTRY:
        raise ValueError(f"operation {op.name!r} is already registered")
    _REGISTRY[op.name] = op
    _state["version"] += 1
    return op


def unregister(name: str) -> None:
    """Remove an operation (tests that register a temporary one clean up with this)."""
    del _REGISTRY[name]
    _state["version"] += 1


def discover() -> None:
    """Import every module of this package (sorted by name), so each registers its operation."""
    from seqedit.engines.classic import ops

    _state["discovered"] = True
    for info in sorted(pkgutil.iter_modules(ops.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{ops.__name__}.{info.name}")


def _all() -> dict[str, Operation]:
    if not _state["discovered"]:
        discover()
    return _REGISTRY


def version() -> int:
    """A number that changes whenever an operation is registered or removed."""
    _all()
    return _state["version"]


class _Operations(Mapping[str, Operation]):
    """The live read-only view ``OPERATIONS``: name → ``Operation``, iterated by rank, then name."""

    def __getitem__(self, name: str) -> Operation:
        return _all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(_all(), key=lambda name: (_REGISTRY[name].rank, name)))

    def __len__(self) -> int:
        return len(_all())

    def __repr__(self) -> str:
        return f"OPERATIONS({', '.join(self)})"


OPERATIONS: Mapping[str, Operation] = _Operations()


def rendered() -> list[Operation]:
    """The operations that render, in the order they run on a panel."""
    return sorted((o for o in OPERATIONS.values() if o.order is not None), key=lambda o: o.order or 0.0)
