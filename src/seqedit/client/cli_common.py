"""What the in-process and the remote commands print and check the same way: the consoles, the one-line
failure, the output-folder check, the plan table, and the ``--server``/``--api-key`` options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seqedit.errors import RequestError

__all__ = ["out", "err", "fail", "check_outdir", "print_plan", "SERVER", "API_KEY"]

out = Console()
err = Console(stderr=True)

_SERVER_HELP = "run on this seqedit serve (http://HOST:PORT) instead of in-process; engine options are the server's"
_API_KEY_HELP = "the server's API key (default: $SEQEDIT_API_KEY)"
SERVER = typer.Option(None, "--server", metavar="URL", help=_SERVER_HELP)
API_KEY = typer.Option(None, "--api-key", envvar="SEQEDIT_API_KEY", show_default=False, help=_API_KEY_HELP)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` (markup-safe) on stderr and exit ``code``."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def check_outdir(outdir: Path) -> None:
    """Refuse an output folder that cannot be one before anything is planned or rendered."""
    if outdir.exists() and not outdir.is_dir():
        raise RequestError("-o", "a folder", f"{outdir} exists and is not a folder")
    parent = next((p for p in (outdir, *outdir.parents) if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise RequestError("-o", "a folder", f"{parent} is not a folder")


def print_plan(
    *,
    count: int,
    size: str | None,
    seed: int | None,
    fmt: str,
    shared: str,
    verdicts: Sequence[Any],
    panels: Sequence[str],
    warnings: Sequence[str],
    route: Mapping[str, Any] | None = None,
) -> None:
    """The plan table ``seqedit edit`` and ``seqedit plan`` print, in-process or from a server's plan.
    ``verdicts`` are objects with ``panel``, ``clause``, ``operation``, ``verdict`` and ``note``; ``route``
    (``{engine, reason}``, see ``engines.routing``) is the engine that runs it and why."""
    shown_size = size or "the first reference's aspect (known once it is fetched)"
    shown_seed = "random" if seed is None else seed
    out.print(f"[bold]{count} panel(s)[/bold] at {shown_size}, seed {shown_seed}, format {fmt}", highlight=False)
    if route:
        out.print(f"engine: {escape(str(route.get('engine')))} ({escape(str(route.get('reason')))})", highlight=False)
    if shared:
        out.print(f"shared: {escape(shared)}", highlight=False)
    table = Table(show_header=True, header_style="bold")
    for col in ("panel", "clause", "operation", "verdict", "note"):
        table.add_column(col, overflow="fold")
    colour = {"supported": "green", "approximate": "yellow", "unsupported": "red"}
    for v in verdicts:
        table.add_row(
            "all" if v.panel is None else str(v.panel),
            escape(v.clause),
            escape(v.operation),
            f"[{colour.get(v.verdict, 'white')}]{escape(v.verdict)}[/]",
            escape(v.note),
        )
    if verdicts:
        out.print(table)
    for k, text in enumerate(panels, start=1):
        out.print(f"  panel {k}: {escape(text or '(shared instruction only)')}", highlight=False)
    for w in warnings:
        out.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False)
