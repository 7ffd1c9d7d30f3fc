"""Every command's ``--help`` renders, keeps every bracketed part of its texts (rich markup would eat
``[diffusion]``), and describes every option; ``seqedit --version``."""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from seqedit import __version__
from seqedit.client.cli import app


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_help_renders_whole():
    runner = CliRunner()
    commands = list(_commands(typer.main.get_command(app)))
    assert {"edit", "plan", "status", "cancel", "history", "serve", "keys", "models"} <= {
        p[0] for p, _ in commands if p
    }
    for path, command in commands:
        r = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "300"})
        assert r.exit_code == 0, (path, r.output)
        text = re.sub(r"\s+", " ", r.output)
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert getattr(param, "help", None), f"{' '.join(path)} {param.opts[0]} has no help text"
        for help_text in [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]:
            for part in re.findall(r"\[[^\]]*\]", help_text):
                assert part in text, (path, part)


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"seqedit {__version__}"
