"""The ``seqedit`` command line (typer).

Commands are grouped by concern; each group module exposes ``register(app)``:
    cli_edit     edit, plan, presets          (in-process, or on a server with --server)
    cli_remote   status, cancel, history      (a running seqedit serve: --server, --api-key)
    cli_service  serve, worker, keys, usage   (the HTTP service)
    cli_models   models check                 (generative engines)
    cli_engines  engines                      (the engines and their options; --opt parsing)
    cli_db       db upgrade, current, history (the database's schema revision)

Help is rendered without rich markup (``rich_markup_mode=None`` here and on every sub-app): rich would
read ``[diffusion]`` or ``[default: …]`` in a help text as a style tag and drop it. ``tests/client``
renders every command's help and checks that each bracketed part survives.
"""

from __future__ import annotations

import importlib

import typer

from seqedit import __version__

app = typer.Typer(
    name="seqedit",
    help="Sequential multi-image editing: reference images + one instruction -> a consistent set of N images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seqedit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the seqedit version and exit."
    ),
) -> None:
    """Sequential multi-image editing: reference images + one instruction -> a consistent set of N images."""


_GROUPS = (
    "seqedit.client.cli_edit",
    "seqedit.client.cli_remote",
    "seqedit.client.cli_engines",
    "seqedit.client.cli_service",
    "seqedit.client.cli_models",
    "seqedit.client.cli_db",
)
for _module in _GROUPS:
    try:
        importlib.import_module(_module).register(app)
    except ModuleNotFoundError as exc:  # a group not built yet, never a missing third-party dependency
        if not (exc.name or "").startswith("seqedit."):
            raise


def main() -> None:
    app()
