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
from seqedit.client import cli_replay
from seqedit.client.cli_common import API_KEY, SERVER, check_outdir, err, fail, out, print_plan
from seqedit.client.cli_consistency import show as show_consistency
from seqedit.client.cli_engines import OPT_HELP, build_engine, explicit_options
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
) -> tuple[EditRequest, list, list[bytes]]:
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
    return request, decode_refs(blobs), blobs


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
    refs: list[str] | None = typer.Argument(
        None, metavar="REF", help="1-10 reference images (files; with --server also http(s) URLs)", show_default=False
    ),
    prompt: str | None = typer.Option(None, "-p", "--prompt", help="the instruction for the whole set (required)"),
    n: int | None = typer.Option(
        None, "-n", "--max-images", help="images to make, 1-15 (default: the count the prompt states, else 1)"
    ),
    size: str | None = typer.Option(
        None, "--size", help="W*H (each side 64-8192) or a preset name; default: the first reference's aspect at ~2 MP"
    ),
    seed: int | None = typer.Option(None, "--seed", help="-1 or absent = random (recorded in set.json)"),
    fmt: str | None = typer.Option(None, "--format", help="jpeg | png | webp (default: jpeg)"),
    outdir: Path | None = typer.Option(
        None, "-o", "--out", help="output directory (default: out; with --replay: SET_DIR-replay)"
    ),
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
    replay: Path | None = typer.Option(
        None,
        "--replay",
        metavar="SET_JSON",
        help="make the set a set.json records again and compare each panel's sha256 (exit 4 when one differs); "
        "engine options may override, request flags are refused",
    ),
    ref_dir: Path | None = typer.Option(
        None, "--ref-dir", help="with --replay: a folder holding the references (when they moved)"
    ),
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
    if replay is not None:
        asked: dict[str, Any] = {"REF": refs, "-p/--prompt": prompt, "-n/--max-images": n, "--size": size}
        asked.update({"--seed": seed, "--format": fmt, "--engine": engine, "--server": server})
        _replay(replay, asked, flags, opt, outdir, ref_dir, quiet, started)
        return
    if ref_dir is not None:
        fail("--ref-dir is only used with --replay SET_JSON")
    if not refs:
        fail("REF: give 1-10 reference images (or --replay SET_JSON to make a recorded set again)")
    if prompt is None:
        fail("-p/--prompt is required: the instruction for the whole set")
    fmt = fmt or "jpeg"
    outdir = outdir or Path("out")
    if server is not None:
        from seqedit.client.cli_remote import remote_edit

        _no_engine_flags({"engine": engine, **flags, "opt": opt})
        remote_edit(refs, prompt, n, size, seed, fmt, outdir, quiet, server, api_key, started)
        return
    paths = [Path(r) for r in refs]
    try:
        check_outdir(outdir)
        request, images, blobs = _build(paths, prompt, n, size, seed, fmt)
        t_load = time.perf_counter() - started
        eng, engine_options = build_engine(engine or "classic", flags, opt)
    except SeqeditError as exc:
        fail(str(exc), _exit_code(exc))
    references = cli_replay.reference_records(paths, blobs)
    _run_set(request, images, references, eng, engine_options, outdir, quiet, started, t_load)


def _run_set(
    request: EditRequest,
    images: list,
    references: list[dict[str, Any]],
    eng: Any,
    engine_options: dict[str, Any],
    outdir: Path,
    quiet: bool,
    started: float,
    t_load: float,
    amend: Any = None,
) -> dict[str, Any]:
    """Plan, render and publish the set to ``outdir`` with its set.json (``amend(record)`` may add to it
    before it is written); the record. Any failure exits with its one line."""
    try:
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
        "references": references,
        "plan": prepared.plan.to_dict(),
        "seed": prepared.plan.seed,
        "provenance": prepared.provenance,
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
    if amend is not None:
        amend(record)
    (outdir / "set.json").write_text(json.dumps(record, indent=2))
    if not quiet and record["consistency"]:
        show_consistency(record["consistency"])
    if not quiet:
        out.print(f"[green]wrote[/green] {len(outputs)} image(s) and set.json to {outdir}")
    return record


def _replay(
    set_json: Path,
    asked: dict[str, Any],
    flags: dict[str, Any],
    opt: list[str] | None,
    outdir: Path | None,
    ref_dir: Path | None,
    quiet: bool,
    started: float,
) -> None:
    """``--replay SET_JSON`` (see ``cli_replay``): the recorded request again, then each panel compared."""
    from seqedit.config import env_name

    set_dir = set_json.expanduser().resolve().parent
    outdir = outdir or set_dir.with_name(f"{set_dir.name}-replay")
    try:
        cli_replay.refuse_request_flags(asked)
        record = cli_replay.load_record(set_json)
        check_outdir(outdir)
        if outdir.expanduser().resolve() == set_dir:
            raise RequestError("-o", "another folder", f"{outdir} holds the set being replayed; write elsewhere")
        paths, warnings = cli_replay.references(record, set_json, ref_dir)
        options, overrides = cli_replay.engine_options(record, explicit_options(flags, opt), env_name)
        recorded = record["request"]
        blobs = [p.read_bytes() for p in paths]
        request = EditRequest.create(
            prompt=recorded.get("prompt"),
            images=[str(p) for p in paths],
            size=recorded.get("size"),
            max_images=recorded.get("max_images", 1),
            seed=record["seed"],
            output_format=recorded.get("output_format", "jpeg"),
            watermark=recorded.get("watermark", False),
            pixels=recorded.get("pixels"),
        )
        images = decode_refs(blobs)
        t_load = time.perf_counter() - started
        eng, engine_options = build_engine(str(record["engine"]), options, None)
    except SeqeditError as exc:
        fail(str(exc), _exit_code(exc))
    for line in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False)
    for line in overrides:
        err.print(f"override: {escape(line)}", highlight=False)
    compared: list[cli_replay.Panel] = []
    lines: list[str] = []

    def amend(made: dict[str, Any]) -> None:
        compared.extend(cli_replay.compare(record["outputs"], [o["sha256"] for o in made["outputs"]]))
        same = all(p.match for p in compared)
        lines.extend([] if same else cli_replay.differences(record.get("provenance"), made["provenance"]))
        made["replay"] = {
            "of": str(set_json),
            "overrides": overrides,
            "matches": same,
            "panels": [{"index": p.index, "recorded": p.recorded, "replayed": p.replayed} for p in compared],
            "differences": lines,
        }

    _run_set(
        request,
        images,
        cli_replay.reference_records(paths, blobs),
        eng,
        engine_options,
        outdir,
        quiet,
        started,
        t_load,
        amend,
    )
    if all(p.match for p in compared):
        if not quiet:
            out.print(f"[green]replayed[/green]: all {len(compared)} panel(s) match {set_json} byte for byte")
        return
    table = Table("panel", "set.json sha256", "replay sha256", "match", title=f"replay of {set_json}")
    for p in compared:
        table.add_row(
            str(p.index), (p.recorded or "(none)")[:16], (p.replayed or "(none)")[:16], "yes" if p.match else "NO"
        )
    out.print(table)
    bad = sum(not p.match for p in compared)
    err.print(
        f"[red]error:[/red] {bad} of {len(compared)} panel(s) differ from {escape(str(set_json))}", highlight=False
    )
    if lines:
        err.print("recorded vs now:", highlight=False)
        for line in lines:
            err.print(f"  {escape(line)}", highlight=False)
    else:
        err.print(
            "nothing recorded differs: the engine is not bit-for-bit deterministic here (e.g. GPU kernels)",
            highlight=False,
        )
    raise typer.Exit(cli_replay.MISMATCH)


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
        request, images, _ = _build([Path(r) for r in refs], prompt, n, size, seed, "jpeg")
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
