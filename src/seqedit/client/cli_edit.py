"""``seqedit edit``, ``seqedit plan`` and ``seqedit presets``: the main job, in-process."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from seqedit import __version__
from seqedit.client.cli_common import API_KEY, SERVER, check_outdir, err, fail, out, print_plan
from seqedit.client.cli_consistency import show as show_consistency
from seqedit.client.cli_engines import OPT_HELP, build_engine
from seqedit.edit import Prepared, decode_refs, prepare, render
from seqedit.engines.base import Unsupported
from seqedit.engines.routing import CONFIGURED, Route, route
from seqedit.errors import RequestError, SeqeditError
from seqedit.imaging import extension
from seqedit.plan import declared_count
from seqedit.request import EditRequest
from seqedit.sizes import PRESETS


def register(app: typer.Typer) -> None:
    app.command("edit")(edit)
    app.command("plan")(plan_command)
    app.command("presets")(presets)


def _exit_code(exc: SeqeditError) -> int:
    """2: bad input or options (codes 1400/1401); 3: the engine cannot do it or failed."""
    return 2 if exc.code in (1400, 1401) else 3


def _build(
    refs: list[Path], prompt: str, n: int | None, size: str | None, seed: int | None, fmt: str
) -> tuple[EditRequest, list]:
    blobs = []
    for i, path in enumerate(refs):
        try:
            blobs.append(path.read_bytes())
        except OSError as exc:
            raise RequestError(f"images[{i}]", "a readable file", f"{path}: {exc.strerror or exc}", code=1401) from None
    if n is None:  # the CLI's own default: what the prompt asks for, else 1 (the protocol's default)
        n = declared_count(prompt) or 1
    request = EditRequest.create(
        prompt=prompt, images=[str(p) for p in refs], size=size, max_images=n, seed=seed, output_format=fmt
    )
    return request, decode_refs(blobs)


def _show_plan(p: Prepared, chosen: Route | None = None) -> None:
    plan = p.plan
    print_plan(
        count=plan.count,
        size=str(plan.size),
        seed=plan.seed,
        fmt=plan.output_format,
        shared=plan.shared,
        verdicts=p.verdicts,
        panels=[panel.text for panel in plan.panels],
        warnings=p.warnings,
        # only a routing engine (auto) has something to say: a fixed engine's table is as it was, as from --server
        route=chosen.to_dict() if chosen is not None and chosen.reason != CONFIGURED else None,
    )


def edit(
    refs: list[str] = typer.Argument(
        ..., metavar="REF", help="1-10 reference images (files; with --server also http(s) URLs)", show_default=False
    ),
    prompt: str = typer.Option(..., "-p", "--prompt", help="the instruction for the whole set"),
    n: int | None = typer.Option(
        None, "-n", "--max-images", help="images to make, 1-15 (default: the count the prompt states, else 1)"
    ),
    size: str | None = typer.Option(
        None, "--size", help="W*H (each side 64-8192) or a preset name; default: the first reference's aspect at ~2 MP"
    ),
    seed: int | None = typer.Option(None, "--seed", help="-1 or absent = random (recorded in set.json)"),
    fmt: str = typer.Option("jpeg", "--format", help="jpeg | png | webp"),
    outdir: Path = typer.Option(Path("out"), "-o", "--out", help="output directory"),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="classic (CPU) | diffusion | remote | auto (classic, else --opt fallback=…) (default: classic)",
    ),
    model: str | None = typer.Option(None, "--model", help="diffusion: model path or hub id"),
    strategy: str | None = typer.Option(
        None, "--strategy", help="diffusion: anchor | chain | independent | grid | shared_attention"
    ),
    steps: int | None = typer.Option(None, "--steps", help="diffusion: denoising steps"),
    device: str | None = typer.Option(None, "--device", help="diffusion: cuda | cuda:N | mps | cpu (default auto)"),
    dtype: str | None = typer.Option(None, "--dtype", help="diffusion: bfloat16 | float16 | float32"),
    upstream_url: str | None = typer.Option(None, "--upstream-url", help="remote: the upstream's base URL"),
    upstream_key: str | None = typer.Option(
        None, "--upstream-key", help="remote: the upstream API key (or $SEQEDIT_UPSTREAM_KEY)"
    ),
    upstream_protocol: str | None = typer.Option(None, "--upstream-protocol", help="remote: wavespeed | ark"),
    upstream_model: str | None = typer.Option(None, "--upstream-model", help="remote: the upstream model id"),
    opt: list[str] | None = typer.Option(None, "--opt", metavar="KEY=VALUE", help=OPT_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="no plan table or progress bar"),
    server: str | None = SERVER,
    api_key: str | None = API_KEY,
) -> None:
    """Edit the references into a consistent set: writes OUT/1.jpg … OUT/N.jpg and OUT/set.json."""
    started = time.perf_counter()
    flags = dict(model=model, strategy=strategy, steps=steps, device=device, dtype=dtype)
    flags.update(
        upstream_url=upstream_url,
        upstream_key=upstream_key,
        upstream_protocol=upstream_protocol,
        upstream_model=upstream_model,
    )
    if server is not None:
        from seqedit.client.cli_remote import remote_edit

        _no_engine_flags({"engine": engine, **flags, "opt": opt})
        remote_edit(refs, prompt, n, size, seed, fmt, outdir, quiet, server, api_key, started)
        return
    try:
        check_outdir(outdir)
        request, images = _build([Path(r) for r in refs], prompt, n, size, seed, fmt)
        t_load = time.perf_counter() - started
        eng, engine_options = build_engine(engine or "classic", flags, opt)
        prepared = prepare(request, images, eng)
    except SeqeditError as exc:
        fail(str(exc), _exit_code(exc))
    prepared.timings["load"] = t_load
    chosen = route(eng, prepared.plan)
    if not quiet:
        _show_plan(prepared, chosen)

    try:
        outdir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".seqedit-partial-", dir=outdir))
    except OSError as exc:
        fail(f"-o {outdir}: cannot write there ({exc.strerror or exc})")
    ext = extension(prepared.plan.output_format)
    outputs = []
    try:
        with Progress(
            TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, disable=quiet
        ) as bar:
            task = bar.add_task("render", total=prepared.plan.count)
            engine_progress = _BarProgress(bar, task, prepared.plan.count, prepared.warnings, quiet)
            for o in render(prepared, eng, engine_progress):
                (staging / f"{o.index}.{ext}").write_bytes(o.data)
                outputs.append(o)
                bar.update(task, completed=o.index)
        for o in outputs:  # publish only a complete set
            (staging / f"{o.index}.{ext}").replace(outdir / f"{o.index}.{ext}")
    except SeqeditError as exc:
        fail(f"panel {len(outputs) + 1}: {exc}", _exit_code(exc))
    except KeyboardInterrupt:
        fail("interrupted; no set written", 130)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    record = {
        "seqedit": __version__,
        "engine": eng.name,
        "engine_options": engine_options,
        "route": chosen.to_dict(),
        "request": request.to_dict(),
        "plan": prepared.plan.to_dict(),
        "seed": prepared.plan.seed,
        "verdicts": [v.to_dict() for v in prepared.verdicts],
        "warnings": prepared.warnings,
        "consistency": prepared.consistency.to_dict() if prepared.consistency else None,
        "outputs": [
            {
                "file": f"{o.index}.{ext}",
                "width": o.width,
                "height": o.height,
                "bytes": len(o.data),
                "sha256": o.sha256,
                "seconds": round(o.seconds, 4),
            }
            for o in outputs
        ],
        "timings": {
            **{k: round(v, 4) for k, v in prepared.timings.items()},
            "total": round(time.perf_counter() - started, 4),
        },
    }
    (outdir / "set.json").write_text(json.dumps(record, indent=2))
    if not quiet and record["consistency"]:
        show_consistency(record["consistency"])
    if not quiet:
        out.print(f"[green]wrote[/green] {len(outputs)} image(s) and set.json to {outdir}")


def _no_engine_flags(flags: dict[str, Any]) -> None:
    """With --server the server's engine runs: an engine flag would be silently ignored, so it is refused."""
    given = [name for name, value in flags.items() if value]
    if given:
        fail(f"--{given[0]} is not used with --server: the server runs its own engine (see its `seqedit serve`)")


class _BarProgress:
    def __init__(self, bar: Progress, task: Any, total: int, warnings: list[str], quiet: bool) -> None:
        self.bar, self.task, self.total = bar, task, total
        self.warnings, self.quiet = warnings, quiet

    def warn(self, message: str) -> None:
        """A warning found while rendering: printed, and recorded in set.json."""
        if message not in self.warnings:
            self.warnings.append(message)
            if not self.quiet:
                self.bar.console.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)

    def report(self, fraction: float, message: str = "") -> None:
        self.bar.update(self.task, completed=fraction * self.total)

    def cancelled(self) -> bool:
        return False


def plan_command(
    refs: list[str] = typer.Argument(
        ..., metavar="REF", help="1-10 reference images (files; with --server also http(s) URLs)", show_default=False
    ),
    prompt: str = typer.Option(..., "-p", "--prompt", help="the instruction for the whole set"),
    n: int | None = typer.Option(
        None, "-n", "--max-images", help="images to make, 1-15 (default: the count the prompt states, else 1)"
    ),
    size: str | None = typer.Option(None, "--size", help="W*H or a preset name (default: from the first reference)"),
    seed: int | None = typer.Option(None, "--seed", help="-1 or absent = random"),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="classic (CPU) | diffusion | remote | auto (classic, else --opt fallback=…) (default: classic)",
    ),
    model: str | None = typer.Option(None, "--model", help="diffusion: model path or hub id"),
    opt: list[str] | None = typer.Option(None, "--opt", metavar="KEY=VALUE", help=OPT_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
    server: str | None = SERVER,
    api_key: str | None = API_KEY,
) -> None:
    """Print the plan and per-clause verdicts without rendering. Exits 3 if the engine cannot do it."""
    if server is not None:
        from seqedit.client.cli_remote import remote_plan

        _no_engine_flags({"engine": engine, "model": model, "opt": opt})
        remote_plan(refs, prompt, n, size, seed, as_json, server, api_key)
        return
    try:
        request, images = _build([Path(r) for r in refs], prompt, n, size, seed, "jpeg")
        eng, _ = build_engine(engine or "classic", {"model": model}, opt)
        from seqedit.plan import make_plan

        plan = make_plan(request, [im.size for im in images])
        chosen = route(eng, plan)
        verdicts = eng.analyse(plan)
    except SeqeditError as exc:
        fail(str(exc), _exit_code(exc))
    prepared = Prepared(request, images, plan, verdicts, list(plan.warnings))
    if as_json:
        shown = {"plan": plan.to_dict(), "route": chosen.to_dict(), "verdicts": [v.to_dict() for v in verdicts]}
        sys.stdout.write(json.dumps(shown, indent=2) + "\n")
    else:
        _show_plan(prepared, chosen)
    if any(v.verdict == "unsupported" for v in verdicts):
        bad = next(v for v in verdicts if v.verdict == "unsupported")
        message = f"unsupported: '{bad.clause}' ({bad.note})"
        if chosen.engine is not eng:  # a routing engine (auto): its refusal says what to configure
            try:
                eng.check(plan, None)
            except Unsupported as exc:
                message = f"unsupported: {exc.message}"
        fail(message, 3)


def presets() -> None:
    """Print the recommended size presets (use the name or W*H with --size)."""
    table = Table("name", "aspect", "tier", "exact", "rounded (÷64)")
    for p in PRESETS:
        table.add_row(p.name, p.aspect, p.tier, str(p.exact), str(p.rounded))
    out.print(table)
