"""``seqedit models check PATH_OR_ID``: what a diffusers checkpoint is to seqedit, and does it run;
``seqedit models demo [DIR]``: a tiny random-weight pipeline to try ``--engine diffusion`` without a download.

``check`` prints the family, reference limit, native sizes, defaults, device and dtype, then makes one panel with
one denoising step at the family's smallest native size (the smoke run). Exit code 0 when it all
worked, 1 when the model cannot be loaded or run (the message says why), 2 without the extra. Engine
options (``--opt``, ``SEQEDIT_<OPTION>``) apply as for ``seqedit edit --engine diffusion``.

``demo`` builds one family's tiny pipeline from configs (``engines/diffusion/tiny.py``, the code the tests use)
and saves it with ``save_pretrained``: a real diffusers pipeline directory with random weights, so its outputs
are noise. Exit code 0 when it is saved, 2 without the extra, for an unknown family, or for a DIR that exists
and is not empty (unless ``--force``).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seqedit.client.cli_engines import OPT_HELP, build_engine

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

models_app = typer.Typer(
    help="Inspect generative models (the [diffusion] extra).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: rich markup would swallow "[diffusion]" and "[default: …]"
)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


@models_app.command("check")
def check(
    model: str = typer.Argument(..., metavar="PATH_OR_ID", help="diffusers pipeline directory or hub id"),
    device: str | None = typer.Option(None, "--device", help="auto | cuda | cuda:N | mps | cpu [default: auto]"),
    dtype: str | None = typer.Option(None, "--dtype", help="auto | bfloat16 | float16 | float32 [default: auto]"),
    steps: int = typer.Option(1, "--steps", min=1, help="denoising steps of the smoke run"),
    run: bool = typer.Option(True, "--run/--no-run", help="make one panel (the smoke run)"),
    offload: bool | None = typer.Option(None, "--offload", help="model CPU offload (GPU memory saver)"),
    opt: list[str] | None = typer.Option(None, "--opt", metavar="KEY=VALUE", help=OPT_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the facts as JSON"),
) -> None:
    """Family, reference limit, native sizes, device/dtype, and a 1-step smoke run."""
    from seqedit.engines.base import EngineError, MissingExtra, NullProgress

    try:
        flags = dict(model=model, steps=steps, device=device, dtype=dtype, offload=offload)  # one panel: any strategy
        engine, _ = build_engine("diffusion", flags, opt)
        engine.info()  # model_index.json first: a clear error before torch is imported
        facts = engine.describe()
        if run:
            facts["smoke_run"] = _smoke(engine, NullProgress())
    except MissingExtra as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(2) from None
    except EngineError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        out.print_json(json.dumps(facts))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, label in (
        ("label", "family"),
        ("pipeline", "pipeline"),
        ("reference_limit", "reference limit"),
        ("references", "references"),
        ("native_sizes", "native sizes"),
        ("default_steps", "default steps"),
        ("default_guidance", "default guidance"),
        ("device", "device"),
        ("dtype", "dtype"),
        ("offload", "CPU offload"),
        ("strategies", "strategies"),
        ("licence", "licence"),
        ("load_seconds", "load time (s)"),
    ):
        value = facts.get(key)
        table.add_row(label, escape(", ".join(value) if isinstance(value, list) else str(value)))
    out.print(table)
    smoke = facts.get("smoke_run")
    if smoke:
        out.print(
            f"[green]smoke run ok[/green]: {smoke['steps']} step(s) at {smoke['size']} in {smoke['seconds']:.2f} s"
        )


DEMO_DEFAULT = "flux2_klein"


@models_app.command("demo")
def demo(
    directory: Path | None = typer.Argument(
        None, metavar="[DIR]", help="where to save it [default: ./seqedit-demo-FAMILY]", show_default=False
    ),
    family: str = typer.Option(DEMO_DEFAULT, "--family", help="which family's tiny pipeline (see the error for all)"),
    force: bool = typer.Option(False, "--force", help="write into DIR even if it is not empty"),
) -> None:
    """Save a tiny random-weight pipeline (noise, not a model) to try --engine diffusion on a CPU."""
    from seqedit.engines.base import MissingExtra
    from seqedit.engines.diffusion import tiny
    from seqedit.engines.diffusion.loader import require_extra

    if family not in tiny.BUILDERS:
        err.print(
            f"[red]error:[/red] --family {escape(family)!r} is not one of: {', '.join(tiny.FAMILIES)}", soft_wrap=True
        )
        raise typer.Exit(2)
    target = directory or Path(f"seqedit-demo-{family}")
    if target.exists() and not target.is_dir():
        err.print(f"[red]error:[/red] DIR {escape(str(target))} is a file; give a directory", soft_wrap=True)
        raise typer.Exit(2)
    if target.is_dir() and any(target.iterdir()) and not force:
        err.print(
            f"[red]error:[/red] DIR {escape(str(target))} exists and is not empty; "
            "give another DIR, or --force to write into it (files of the same name are replaced)",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    try:
        require_extra()
    except MissingExtra as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(2) from None
    import transformers
    from diffusers.utils import logging as diffusers_logging

    transformers.utils.logging.disable_progress_bar()  # "Writing model shards" bars: noise on stderr
    diffusers_logging.disable_progress_bar()
    started = time.perf_counter()
    pipe = tiny.eval_mode(tiny.BUILDERS[family]())
    target.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(target)
    seconds = time.perf_counter() - started
    model = escape(str(target))
    out.print(
        f"saved a tiny random-weight {escape(type(pipe).__name__)} ({escape(family)}) to {model} "
        f"in {seconds:.1f} s\n"
        "It is noise, not a model: random weights, so every output is random pixels. It exists to try the "
        "diffusion engine end to end (load, strategies, progress, set.json, serve) on a CPU without a download.\n"
        "Next:\n"
        f'  seqedit edit ref.jpg -p "a series of 3 images" --engine diffusion --model {model} '
        "--size 256x256 --steps 4 --opt min_pixels=4096 -o out",
        soft_wrap=True,
    )


def _smoke(engine, progress) -> dict:
    from PIL import Image

    from seqedit.plan import make_plan
    from seqedit.request import EditRequest

    native = engine.native()
    side = max(64, math.ceil(math.sqrt(native.min_pixels) / native.multiple) * native.multiple)
    plan = make_plan(
        EditRequest.create(prompt="make the circle blue", images=["smoke"], size=f"{side}*{side}", max_images=1, seed=0)
    )
    ref = Image.new("RGB", (side, side), (200, 60, 40))
    started = time.perf_counter()
    panels = list(engine.generate(plan, [ref], progress))
    seconds = time.perf_counter() - started
    if len(panels) != 1 or panels[0].size != (side, side):
        from seqedit.engines.base import EngineError

        raise EngineError(f"smoke run produced {len(panels)} panel(s) of {[p.size for p in panels]}")
    return {"steps": engine.steps, "size": f"{side}×{side}", "seconds": round(seconds, 3)}
