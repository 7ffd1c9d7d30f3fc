"""The consistency table ``seqedit edit`` prints after a run: one row per panel, one column per figure."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from seqedit.client.cli_common import out


def cell(figure: dict[str, Any]) -> str:
    """``0.21 ✓`` / ``0.69 ✗`` (with the threshold), or ``—`` when the figure does not apply."""
    if figure["value"] is None:
        return "[dim]—[/dim]"
    mark = "[green]✓[/green]" if figure["passed"] else "[red]✗[/red]"
    sign = "≤" if figure["better"] == "lower" else "≥"
    return f"{figure['value']:.2f} {mark} [dim]({sign}{figure['threshold']:g})[/dim]"


def table(report: dict[str, Any]) -> Table | None:
    """The figures of ``report`` (``Report.to_dict()``) as a table; None when no figure has a value."""
    panels = report["panels"]
    names = [
        n for n in (panels[0]["figures"] if panels else {}) if any(p["figures"][n]["value"] is not None for p in panels)
    ]
    if not names:
        return None
    retried: dict[int, int] = {}
    for r in report["retries"]:
        retried[r["panel"]] = retried.get(r["panel"], 0) + 1
    grid = Table("panel", *names, "re-renders", title="consistency", title_justify="left")
    for p in panels:
        grid.add_row(str(p["index"]), *(cell(p["figures"][n]) for n in names), str(retried.get(p["index"], 0)))
    return grid


def reasons(report: dict[str, Any]) -> list[str]:
    """Why each figure that never had a value is missing (one line per figure: its first reason)."""
    panels = report["panels"]
    lines = []
    for name in panels[0]["figures"] if panels else {}:
        figures = [p["figures"][name] for p in panels]
        if all(f["value"] is None for f in figures):
            lines.append(f"{name}: n/a ({escape(str(figures[-1]['reason']))})")
    return lines


def show(report: dict[str, Any]) -> None:
    """Print the table of ``report`` and why each figure that applied nowhere has no value."""
    grid = table(report)
    if grid is not None:
        out.print(grid)
    for line in reasons(report):
        out.print(f"[dim]{line}[/dim]")
