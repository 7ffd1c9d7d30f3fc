"""``auto``: per request, the classic engine when it can do every clause, else a generative fallback.

What the classic engine can do for free on a CPU should not go to a paid upstream or a GPU; what it
cannot do should not fail when a generative engine is configured. ``--engine auto --opt
fallback=diffusion|remote|<any registered engine>`` routes each plan:

* **classic** when every clause of the plan is ``supported`` or ``approximate`` by the classic engine
  (its ``analyse`` verdicts: nothing is rendered to decide);
* else **the fallback**, with the first clause classic cannot do as the reason;
* with no fallback configured, the request stays with classic and its ``check`` refuses it (1403)
  with a message that says what to configure. Never a wrong edit, never a silent partial one.

``route(plan)`` is the decision (``engines.routing.Route``: the engine and a one-line reason); the
runner records it on the prediction (``route``), the plan endpoint and ``seqedit plan`` show it, and
``analyse`` returns the verdicts of the engine that will run. A clause classic reports as "not
understood" is an ``approximate`` verdict (it is ignored, with a warning), so it stays with classic.

Options. ``fallback`` is auto's own. Every option another engine declares is accepted too and goes to
the part that declares it: classic's (``work_pixels``) to classic, the fallback's to the fallback, so
``--engine auto --opt fallback=diffusion --model M --steps 4`` and ``SEQEDIT_MODEL`` work as for
``--engine diffusion``. An option neither part declares is refused by name. The declared set is the
engines registered when ``auto`` is first used (built-ins always; a plugin's once ``SEQEDIT_PLUGINS``
imported it, which ``serve``/``worker`` do before building the engine).

Lifecycle. Both parts are built with auto, so a bad fallback option, an unknown fallback or a missing
extra fails ``serve`` at start (exit 2), not a job. Building is cheap: the classic engine has no
weights and a generative engine loads its model lazily. ``load()`` (``Runner.warm``, once per worker
process at start) loads the fallback's model when a fallback is configured and offers ``load``: a
worker that was given a generative fallback will need it, and loading it at start keeps minutes of
loading out of the first job that routes there (and shows a broken model in the worker's log at
once). The plan endpoint and ``seqedit edit``/``plan`` never call ``load``, so a classic request
there never loads weights, and without a fallback there is nothing to load.

Threads: auto is thread-safe when both parts are (``thread_safe``); the service serialises it
otherwise. The decision is cached for the last plan (by identity, as the classic engine caches its
routing), so ``analyse``, ``check`` and ``generate`` of one run route once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Any, Optional

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from seqedit.engines import options as _options
from seqedit.engines.base import (
    Engine,
    EngineError,
    MissingExtra,
    OptionError,
    Progress,
    Unsupported,
    Verdict,
    create,
    names,
    register,
    registration,
)
from seqedit.engines.routing import Route
from seqedit.plan import Plan

__all__ = ["AutoEngine", "NAME", "CLASSIC", "options_model"]

NAME = "auto"
CLASSIC = "classic"
_NOT_FALLBACKS = (NAME, CLASSIC)
_CLAUSE_CHARS = 80  # a clause quoted in a reason is cut to this many characters


def _declared() -> dict[str, list[tuple[str, FieldInfo]]]:
    """Every option another registered engine declares: name → [(engine, field)], classic first."""
    out: dict[str, list[tuple[str, FieldInfo]]] = {}
    for other in sorted(names(), key=lambda n: (n != CLASSIC, n)):
        if other == NAME:
            continue
        try:
            entry = registration(other)
        except (ImportError, EngineError):  # a broken engine is reported when it is asked for
            continue
        if entry.options is None:
            continue
        for option, info in entry.options.model_fields.items():
            out.setdefault(option, []).append((other, info))
    return out


def _field(option: str, owners: list[tuple[str, FieldInfo]]) -> tuple[Any, Any]:
    """Auto's field for an option its parts declare: that option's type (any value when the engines
    that declare it disagree), unset by default, described with each declaring engine and its default."""
    kinds = {(repr(info.annotation), repr(info.metadata)) for _, info in owners}
    first = owners[0][1]
    kind: Any = Any
    if len(kinds) == 1:
        kind = Annotated[(first.annotation, *first.metadata)] if first.metadata else first.annotation
        kind = Optional[kind]  # noqa: UP045  (a runtime type expression: `X | None` needs X to be a class)
    text = "; ".join(f"{engine}: {info.description or option}{_default(option, info)}" for engine, info in owners)
    return kind, Field(None, description=text)


def _default(option: str, info: FieldInfo) -> str:
    shown = _options.OptionInfo(option, "", info.default, "").default_text
    return "" if shown == "(unset)" else f" (its default: {shown})"


def options_model() -> type[BaseModel]:
    """Auto's options: ``fallback``, and every option another registered engine declares."""
    fields: dict[str, Any] = {
        "fallback": (
            str,
            Field(
                "",
                description="the engine for requests classic cannot do (diffusion, remote or any registered "
                "engine); unset: those requests are refused, naming this option",
            ),
        )
    }
    for option, owners in _declared().items():
        if option not in fields:
            fields[option] = _field(option, owners)
    model: type[BaseModel] = create_model("AutoOptions", __config__=ConfigDict(extra="forbid", frozen=True), **fields)
    return model


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _CLAUSE_CHARS else text[: _CLAUSE_CHARS - 1] + "…"


def _fallbacks() -> list[str]:
    return [n for n in names() if n not in _NOT_FALLBACKS]


def _configure_hint() -> str:
    return (
        "the auto engine sends what classic cannot do to its fallback, and none is configured: start it with "
        f"--opt fallback=ENGINE (one of {', '.join(_fallbacks()) or 'no generative engine is registered'}; "
        "diffusion also needs --model) or set $SEQEDIT_FALLBACK"
    )


class AutoEngine:
    """The classic engine, or the fallback, per plan (see the module docstring)."""

    name = NAME

    def __init__(self, fallback: str = "", **options: Any) -> None:
        given = {k: v for k, v in options.items() if v is not None}
        fallback = (fallback or "").strip()
        if fallback in _NOT_FALLBACKS:
            raise OptionError(
                f"fallback must be a generative engine, not {fallback!r} (auto already runs classic itself); "
                f"choose one of {', '.join(_fallbacks())}",
                option="fallback",
            )
        if fallback and fallback not in names():
            raise OptionError(
                f"unknown fallback {fallback!r}; choose one of {', '.join(_fallbacks())} (or leave it unset)",
                option="fallback",
            )
        classic_fields = set(_model_fields(CLASSIC) or ())
        fallback_fields = _model_fields(fallback) if fallback else []
        for_classic = {k: v for k, v in given.items() if k in classic_fields}
        if fallback and fallback_fields is None:  # a factory that checks its own keyword arguments
            for_fallback = {k: v for k, v in given.items() if k not in classic_fields}
        else:
            for_fallback = {k: v for k, v in given.items() if k in (fallback_fields or ())}
        stray = sorted(set(given) - set(for_classic) - set(for_fallback))
        if stray:
            elsewhere = [n for n in _declaring(stray) if n not in (CLASSIC, fallback)]
            hint = f" (those are for --engine {' or --engine '.join(elsewhere)})" if elsewhere else ""
            if fallback:
                message = (
                    f"the auto engine takes no {', '.join(stray)} option: neither classic nor its fallback "
                    f"{fallback} declares it{hint}"
                )
            else:
                message = (
                    f"the auto engine takes no {', '.join(stray)} option without a fallback: classic does not "
                    f"declare it{hint}; set --opt fallback=ENGINE first"
                )
            raise OptionError(message, option=stray[0])
        self.classic: Engine = create(CLASSIC, **for_classic)
        self.fallback: Engine | None = _build_fallback(fallback, for_fallback) if fallback else None
        self.thread_safe = all(getattr(e, "thread_safe", True) for e in (self.classic, self.fallback) if e)
        self._lock = threading.Lock()
        self._last: tuple[Plan, Route, list[Verdict]] | None = None

    # ------------------------------------------------------------------ the decision

    def route(self, plan: Plan) -> Route:
        """The engine that runs ``plan`` and why (nothing rendered, no weights loaded)."""
        return self._decide(plan)[0]

    def _decide(self, plan: Plan) -> tuple[Route, list[Verdict]]:
        with self._lock:
            if self._last is not None and self._last[0] is plan:
                return self._last[1], self._last[2]
        verdicts = self.classic.analyse(plan)
        bad = [v for v in verdicts if v.verdict == "unsupported"]
        if not bad:
            chosen = Route(self.classic, "every clause is supported or approximate by the classic engine")
        else:
            first = bad[0]
            more = f" and {len(bad) - 1} more clause{'s' if len(bad) > 2 else ''}" if len(bad) > 1 else ""
            what = f"'{_short(first.clause)}'{more}"
            if self.fallback is not None:
                chosen = Route(self.fallback, f"the classic engine cannot do {what}: sent to the fallback")
            else:
                chosen = Route(self.classic, f"the classic engine cannot do {what} and no fallback is configured")
        if chosen.engine is not self.classic:
            verdicts = chosen.engine.analyse(plan)
        with self._lock:
            self._last = (plan, chosen, verdicts)
        return chosen, verdicts

    # ------------------------------------------------------------------ the port

    def analyse(self, plan: Plan) -> list[Verdict]:
        """The verdicts of the engine that will run ``plan``."""
        return list(self._decide(plan)[1])

    def check(self, plan: Plan, refs: list[Image.Image] | None = None) -> list[str]:
        chosen = self.route(plan)
        if chosen.engine is self.classic and self.fallback is None:
            try:
                return self.classic.check(plan, refs)
            except Unsupported as exc:
                raise Unsupported(
                    f"{exc.message}; {_configure_hint()}", clause=exc.clause, suggestion=exc.suggestion
                ) from None
        return chosen.engine.check(plan, refs)

    def generate(self, plan: Plan, refs: list[Image.Image], progress: Progress) -> Iterator[Image.Image]:
        yield from self.route(plan).engine.generate(plan, refs, progress)

    def load(self) -> None:
        """Load the fallback's model (when one is configured and it loads lazily); see the module docstring."""
        load = getattr(self.fallback, "load", None)
        if callable(load):
            load()


def _model_fields(engine: str) -> list[str] | None:
    """The options ``engine`` declares (None: it checks its own keyword arguments)."""
    model = registration(engine).options
    return None if model is None else list(model.model_fields)


def _declaring(options: list[str]) -> list[str]:
    found = []
    for engine, owners in ((n, _model_fields_quiet(n)) for n in names() if n != NAME):
        if owners is not None and set(options) <= set(owners):
            found.append(engine)
    return found


def _model_fields_quiet(engine: str) -> list[str] | None:
    try:
        return _model_fields(engine)
    except (ImportError, EngineError):
        return None


def _build_fallback(fallback: str, options: dict[str, Any]) -> Engine:
    """The fallback engine; its option errors say they are the fallback's."""
    try:
        return create(fallback, **options)
    except MissingExtra:
        raise
    except OptionError as exc:
        raise OptionError(f"fallback {fallback}: {exc.message}", option=exc.option) from None
    except EngineError as exc:
        if type(exc) is not EngineError:
            raise
        raise EngineError(f"fallback {fallback}: {exc.message}", code=exc.code) from None


register(NAME, AutoEngine, options=options_model())
