"""The ``seqedit`` command line (typer + rich).

Commands are grouped by concern; each group module exposes ``register(app)``:
    cli_edit     edit, plan, presets          (in-process: no server)
    cli_service  serve, worker, keys, usage   (the HTTP service)
    cli_models   models check                 (generative engines)
    cli_engines  engines                      (the engines and their options; --opt parsing)
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="seqedit",
    help="Sequential multi-image editing: reference images + one instruction -> a consistent set of N images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_GROUPS = (
    "seqedit.client.cli_edit",
    "seqedit.client.cli_engines",
    "seqedit.client.cli_service",
    "seqedit.client.cli_models",
)
for _module in _GROUPS:
    try:
        importlib.import_module(_module).register(app)
    except ModuleNotFoundError as exc:  # a group not built yet, never a missing third-party dependency
        if not (exc.name or "").startswith("seqedit."):
            raise


def main() -> None:
    app()
