"""Engine options on the command line, and ``seqedit engines [ENGINE]`` to list them.

Every command that builds an engine (``edit``, ``plan``, ``serve``, ``worker``, ``models check``) takes
the options the same way: its typed flags (``--model``, ``--strategy``, ``--steps``, ``--device``,
``--dtype``) and ``--opt KEY=VALUE`` for any option the engine declares. Both become
``Settings.options`` (the explicit options); ``Settings.engine_options()`` adds ``SEQEDIT_<OPTION>``
for the options not given, and ``engines.create`` checks them all against the engine's declaration,
so a typo or a bad value is one line naming the option.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

SECRET = "***"  # how set.json writes a secret option (an API key) that was set
OPT_HELP = "Engine option KEY=VALUE, repeatable (`seqedit engines ENGINE` lists them; also $SEQEDIT_<KEY>)."


def register(app: typer.Typer) -> None:
    app.command("engines")(engines)


def parse_opts(items: list[str] | None) -> dict[str, str]:
    """``["guidance=2.5", "vae-tiling=true"]`` → ``{"guidance": "2.5", "vae_tiling": "true"}``. The values stay
    text (the engine's declaration types them); an empty value leaves the option unset."""
    from seqedit.engines.base import OptionError

    options: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise OptionError(f"--opt takes KEY=VALUE, got {item!r}", option=key)
        if value.strip():
            options[key] = value.strip()
        else:
            options.pop(key, None)
    return options


def explicit_options(flags: dict[str, Any], opts: list[str] | None) -> dict[str, Any]:
    """The typed flags that were given, and ``--opt`` values; naming one option both ways is an error."""
    from seqedit.engines.base import OptionError

    given = {k: v for k, v in flags.items() if v is not None}
    extra = parse_opts(opts)
    both = sorted(set(given) & set(extra))
    if both:
        raise OptionError(f"--{both[0]} and --opt {both[0]}=… both given; use one", option=both[0])
    return {**given, **extra}


def build_engine(engine: str, flags: dict[str, Any], opts: list[str] | None) -> tuple[Any, dict[str, Any]]:
    """The engine, and the options its factory got (every declared one, typed: for set.json).
    Raises ``EngineError`` (unknown engine, missing extra, bad option)."""
    from pydantic import ValidationError

    from seqedit.config import Settings
    from seqedit.engines.base import EngineError, create, registration

    try:
        settings = Settings(engine=engine, options=explicit_options(flags, opts))
    except ValidationError as exc:  # a bad SEQEDIT_* setting: name it instead of a traceback
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise EngineError(f"setting {where}: {problem['msg']}", code=1400) from None
    options = settings.engine_options()
    built = create(engine, **options)
    entry = registration(engine)
    return built, redacted(entry.options, entry.parse({k: v for k, v in options.items() if v is not None}))


def redacted(model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with every field the model marks ``json_schema_extra={"secret": True}`` (an API key)
    written as ``SECRET`` when set: set.json records how a set was made, never a credential."""
    from seqedit.engines.options import secret_fields

    secret = secret_fields(model)
    return {k: (SECRET if k in secret and v else v) for k, v in options.items()}


def engines(
    name: str | None = typer.Argument(None, metavar="[ENGINE]", help="one engine (default: all)"),
) -> None:
    """List the engines and the options each declares (for --opt KEY=VALUE and $SEQEDIT_<KEY>)."""
    from seqedit.config import ENV_PREFIX, env_name
    from seqedit.engines import options as engine_options
    from seqedit.engines.base import EngineError, names, registration

    try:
        entries = [registration(n) for n in ([name] if name else names())]
    except EngineError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(2) from None
    for entry in entries:
        out.print(f"[bold]{entry.name}[/bold]")
        if entry.extra is not None:
            missing = entry.extra.missing()
            state = f"[red]{missing} is not installed[/red]" if missing else "[green]installed[/green]"
            out.print(f"  needs `{escape(entry.extra.install)}`: {state}")
        if entry.options is None:
            out.print("  options not declared (the engine checks its own keyword arguments)")
            continue
        infos = engine_options.describe(entry.options)
        if not infos:
            out.print("  no options")
            continue
        out.print(f"  options (--opt KEY=VALUE, or ${ENV_PREFIX}<KEY>, e.g. ${env_name(infos[0].name)}):")
        table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 2))
        # the option names are what a user types: never cut; the rest folds on a narrow terminal
        table.add_column("option", no_wrap=True, min_width=max(len(i.name) for i in infos))
        for column in ("accepts", "default", "description"):
            table.add_column(column, overflow="fold")
        for info in infos:
            table.add_row(info.name, escape(info.accepts), escape(info.default_text), escape(info.description))
        out.print(table)
