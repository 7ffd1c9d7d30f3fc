"""The engine port: what every engine implements, and the registry that finds one by name.

Exception tree (all carry a message meant for the end user; the root is ``errors.SeqeditError``):

    EngineError            the engine failed (code 5000 unless set)
    ├── Unsupported        the instruction needs something this engine cannot do (code 1403)
    ├── Cancelled          ``Progress.cancelled()`` answered yes between steps
    ├── OptionError        an engine option is undeclared or has a bad value (code 1400; names it)
    └── MissingExtra       the engine's optional extra is not installed (code 1400; says what to install)

An engine never sees HTTP, rows or the queue: it gets a ``Plan``, decoded reference images and a
``Progress``, and yields exactly ``plan.count`` panels, in order, one at a time, each already at
``plan.size``.

The registry (bottom of this module) maps a name to a factory, the pydantic model of the engine's
options and the optional extra it needs: ``register(name, factory, options=Model, extra=Extra(...))``,
``create(name, **options)``, ``names()``, ``registration(name)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from PIL import Image
from pydantic import BaseModel

from seqedit.engines import options as _options
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
    params: Mapping[str, Any] | None = None  # what the clause became, where the engine says (None: not shown)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "panel": self.panel,
            "clause": self.clause,
            "operation": self.operation,
            "verdict": self.verdict,
            "note": self.note,
        }
        if self.params is not None:
            out["params"] = plain(self.params)
        return out


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: mappings and sequences kept, tuples as lists, anything else as text."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


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


# Optional, not part of the Protocol (plugins without it stay valid):
#
#     def provenance(self, plan: Plan) -> dict[str, Any]:
#         """What this engine resolved for ``plan`` that changes pixels (model and its revision, steps,
#         seeds, device, dtype, versions, …): JSON-ready values, never a secret."""
#
# ``edit.render`` asks it once per run, before the first panel (it may load the model), and records it
# as ``provenance`` in set.json and on the prediction; an engine without it contributes ``{}``.


@runtime_checkable
class Rerenders(Protocol):
    """Optional, for the consistency guard (``seqedit.consistency``): an engine that can render one panel
    of a plan again. ``edit.render`` calls it when a delivered panel's identity or product figure crosses
    its threshold and the engine's ``consistency_guard`` option is on; an engine without it gets a warning
    naming the figure instead."""

    def rerender(self, plan: Plan, refs: list[Image.Image], index: int, seed: int, progress: Progress) -> Image.Image:
        """Panel ``index`` (1-based) again with ``seed``, at ``plan.size``; from the references alone (an
        engine that anchors on an earlier panel re-anchors on the reference). Raises ``EngineError``."""


# --- the registry ------------------------------------------------------------------------------
# An engine registers a factory under a name, optionally with the pydantic model of its options (see
# ``engines.options``) and the optional extra it needs. ``create`` checks the extra, checks the options
# against the model and calls the factory with the typed values. Built-in engines are imported on first
# use of their name, so ``import seqedit`` never pulls torch and a broken engine breaks only itself.


class OptionError(EngineError):
    """An engine option is unknown or has a value the engine does not accept (the message says which)."""

    code = 1400

    def __init__(self, message: str, *, option: str = "") -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Extra:
    """An optional dependency group: ``pip install 'seqedit[<name>]'`` provides ``modules``."""

    name: str
    modules: tuple[str, ...]

    @property
    def install(self) -> str:
        return f"pip install 'seqedit[{self.name}]'"

    def missing(self) -> str | None:
        """The first of ``modules`` that cannot be found (nothing is imported), or None."""
        import importlib.util

        for module in self.modules:
            try:
                if importlib.util.find_spec(module) is None:
                    return module
            except (ImportError, ValueError):  # a parent package that is missing, or a stub without a spec
                return module
        return None

    def provides(self, exc: ImportError) -> bool:
        """True when ``exc`` says one of this extra's own modules is not installed (any other import
        error, such as a broken install or a missing system library, is not a missing extra)."""
        return isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in self.modules


class MissingExtra(EngineError):
    """The engine needs an optional extra that is not installed."""

    code = 1400

    def __init__(self, engine: str, extra: Extra, module: str) -> None:
        super().__init__(f"the {engine} engine needs `{extra.install}` ({module} is not installed)")
        self.engine, self.extra, self.module = engine, extra, module


@dataclass(frozen=True)
class Registration:
    """What ``register`` stored: the factory, the options model (None: the factory checks its own
    keyword arguments) and the optional extra the engine needs."""

    name: str
    factory: Callable[..., Engine]
    options: type[BaseModel] | None = None
    extra: Extra | None = None

    def require_extra(self) -> None:
        module = self.extra.missing() if self.extra else None
        if module is not None:
            raise MissingExtra(self.name, self.extra, module)

    def parse(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` checked against the options model, as the factory's keyword arguments (every
        declared option, defaults included). Without a model they pass through unchecked."""
        if self.options is None:
            return dict(values)
        unknown = set(values) - set(self.options.model_fields)
        elsewhere = _declared_by(unknown, self.name) if unknown else []
        return parse_options(self.name, self.options, values, elsewhere).model_dump()


def parse_options(
    engine: str, model: type[BaseModel], values: dict[str, Any], elsewhere: list[str] | None = None
) -> Any:
    """``values`` as an instance of the options ``model``, or an ``OptionError`` that names the option
    and what it accepts (see ``engines.options``). Engines call it too, so a direct construction gets
    the same messages as ``create``."""
    try:
        return _options.check(engine, model, values, elsewhere or ())
    except _options.Problem as exc:
        raise OptionError(exc.message, option=exc.option) from None


_REGISTRY: dict[str, Registration] = {}
_BUILTINS = {
    "auto": "seqedit.engines.auto",
    "classic": "seqedit.engines.classic",
    "diffusion": "seqedit.engines.diffusion",
    "remote": "seqedit.engines.remote",
}


def register(
    name: str, factory: Callable[..., Engine], options: type[BaseModel] | None = None, *, extra: Extra | None = None
) -> None:
    """Make ``create(name, **options)`` build an engine with ``factory``.

    ``options``: the pydantic model of the engine's options (every field typed, with a default and a
    description); ``create`` then rejects undeclared names and bad values before the factory runs, and
    ``Settings`` reads ``SEQEDIT_<OPTION>`` for each field. ``extra``: the optional dependencies the
    engine needs, reported by name when missing."""
    _REGISTRY[name] = Registration(name, factory, options, extra)


def names() -> list[str]:
    """Every engine that can be asked for (built-ins are listed without being imported)."""
    return sorted(set(_REGISTRY) | set(_BUILTINS))


def registration(name: str) -> Registration:
    """The registration of ``name``; a built-in engine is imported on first use, and an error while
    importing it propagates as it is (it is no unknown engine)."""
    if name not in _REGISTRY and name in _BUILTINS:
        import importlib

        importlib.import_module(_BUILTINS[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; available: {', '.join(names())}", code=1400) from None


def create(name: str, **options: Any) -> Engine:
    """Build the engine registered as ``name`` (``classic``, ``diffusion``, a plugin's) with ``options``
    (None values count as not given). Raises ``EngineError`` (1400) for an unknown engine, a missing
    extra (``MissingExtra``) or a bad option (``OptionError``)."""
    entry = registration(name)
    entry.require_extra()
    return entry.factory(**entry.parse({k: v for k, v in options.items() if v is not None}))


def _declared_by(keys: set[str], besides: str) -> list[str]:
    """Other engines that declare every one of ``keys`` (for the hint in an unknown-option message)."""
    found = []
    for other in names():
        if other in (besides, "auto"):  # auto accepts every engine's options on behalf of its parts: no hint
            continue
        try:
            entry = registration(other)
        except (ImportError, EngineError):  # only a hint: a broken engine is reported when it is asked for
            continue
        if entry.options is not None and keys <= set(entry.options.model_fields):
            found.append(other)
    return found
