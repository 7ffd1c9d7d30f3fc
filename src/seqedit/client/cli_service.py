"""``seqedit serve``, ``seqedit worker``, ``seqedit keys create|list|revoke``, ``seqedit usage``."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

keys_app = typer.Typer(
    help="Manage API keys (stored hashed; a key is shown once, when created).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the root app
)

DataDir = typer.Option(None, "--data-dir", help="Data directory (default: $SEQEDIT_DATA_DIR or ./seqedit-data).")
Model = typer.Option(
    None,
    "--model",
    help="Diffusion engine: a diffusers pipeline directory or hub id, loaded "
    "once per worker thread (default: $SEQEDIT_MODEL).",
)
Strategy = typer.Option(
    None,
    "--strategy",
    help="Diffusion engine: anchor | chain | independent | grid | "
    "shared_attention (default: $SEQEDIT_STRATEGY or anchor).",
)
Steps = typer.Option(
    None, "--steps", help="Diffusion engine: denoising steps (default: $SEQEDIT_STEPS or the family's own)."
)
Device = typer.Option(
    None,
    "--device",
    help="Diffusion engine: cuda | cuda:N | mps | cpu (default: $SEQEDIT_DEVICE or the first available).",
)
Dtype = typer.Option(
    None,
    "--dtype",
    help="Diffusion engine: bfloat16 | float16 | float32 (default: $SEQEDIT_DTYPE or the device's own).",
)
Opt = typer.Option(
    None,
    "--opt",
    metavar="KEY=VALUE",
    help="Engine option KEY=VALUE, repeatable (`seqedit engines ENGINE` lists them; default: $SEQEDIT_<KEY>).",
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(keys_app, name="keys")
    app.command("usage")(usage)


def _settings(engine_flags: dict[str, Any] | None = None, opt: list[str] | None = None, **overrides: Any):
    """Settings from the environment and the flags given; ``engine_flags`` (--model, …) and ``--opt``
    become the explicit engine options (a malformed --opt, or one option given both ways: exit 2)."""
    from seqedit.client.cli_engines import explicit_options
    from seqedit.config import Settings
    from seqedit.engines.base import EngineError

    try:
        options = explicit_options(engine_flags or {}, opt)
    except EngineError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    return Settings(options=options, **{k: v for k, v in overrides.items() if v is not None})


def _service(settings: Any, roles: frozenset[str]):
    """The service for ``roles`` with its engine built once, or exit 2 with one line (unknown engine,
    bad option)."""
    from seqedit.api.app import make_service
    from seqedit.engines.base import EngineError

    try:
        service = make_service(settings, roles=roles)
        service.check_engine()
    except EngineError as exc:  # a broken install (any other ImportError) is a traceback, not bad input
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    return service


def _log_to_stderr() -> None:
    """seqedit's own log lines (service roles, jobs handed back, failures) on stderr, for operators."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("seqedit")
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def _store(data_dir: Path | None):
    from seqedit.jobs.store import Store
    from seqedit.service import database_url

    s = _settings(data_dir=data_dir)
    Path(s.data_dir).mkdir(parents=True, exist_ok=True)
    return Store(database_url(s))


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    engine: str | None = typer.Option(None, help="Engine name (default: $SEQEDIT_ENGINE or classic)."),
    workers: int | None = typer.Option(
        None, help="Job consumer threads in this process (default 1; 0 = API only, jobs run by `seqedit worker`)."
    ),
    data_dir: Path | None = DataDir,
    public_url: str | None = typer.Option(None, help="Base of the URLs handed out (default: as requested)."),
    model: str | None = Model,
    strategy: str | None = Strategy,
    steps: int | None = Steps,
    device: str | None = Device,
    dtype: str | None = Dtype,
    opt: list[str] | None = Opt,
) -> None:
    """Run the WaveSpeed-compatible API with its job consumers, in one process (no external services)."""
    from seqedit.api.app import create_app
    from seqedit.api.server import run as run_server
    from seqedit.client.cli_db import require_schema
    from seqedit.service import API_ONLY, SERVE

    engine_flags = dict(model=model, strategy=strategy, steps=steps, device=device, dtype=dtype)
    settings = _settings(engine_flags, opt, engine=engine, workers=workers, data_dir=data_dir, public_url=public_url)
    require_schema(settings)  # a database behind this seqedit's schema (not SQLite) or ahead of it: exit 2
    # --workers 0: API only; `seqedit worker` processes run the jobs
    _log_to_stderr()
    service = _service(settings, SERVE if settings.workers > 0 else API_ONLY)
    if not service.base_url:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        service.base_url = f"http://{shown}:{port}"  # for webhook bodies (no request to take it from)
    if not service.store.list_keys():
        token, _ = service.store.create_key("default")
        out.print(f"Created the first API key (shown once; store it now): {token}", soft_wrap=True)
    _print_signin(service, f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}")
    shown_model = settings.engine_options().get("model")
    engine_shown = settings.engine + (f" {shown_model}" if shown_model else "")
    out.print(
        f"seqedit serving on http://{host}:{port} (engine {engine_shown}, {settings.workers} worker(s), "
        f"data in {Path(settings.data_dir).resolve()})",
        soft_wrap=True,
    )
    sys.stdout.flush()
    # uvicorn + httptools with the connection limits of settings (header/body/keep-alive timeouts, caps)
    run_server(create_app(service), settings, host=host, port=port)


def _print_signin(service: Any, listen_url: str) -> None:
    """The playground's one-time sign-in URL for the oldest active key (works once, for an hour)."""
    from seqedit.jobs.signins import TOKEN_SECONDS, SignIns

    active = [k for k in service.store.list_keys() if k["revoked_at"] is None]
    if not active:
        return
    token = SignIns(service.store.engine, service.secret).issue(active[0]["id"])
    base = (service.settings.public_url or listen_url).rstrip("/")
    out.print(
        f"Playground: {base}/?token={token} (sign-in link for key {active[0]['prefix']}…; "
        f"works once, within {TOKEN_SECONDS // 60} min)",
        soft_wrap=True,
        highlight=False,
    )


def worker(
    engine: str | None = typer.Option(None, help="Engine name."),
    workers: int | None = typer.Option(None, help="Consumer threads."),
    data_dir: Path | None = DataDir,
    model: str | None = Model,
    strategy: str | None = Strategy,
    steps: int | None = Steps,
    device: str | None = Device,
    dtype: str | None = Dtype,
    opt: list[str] | None = Opt,
) -> None:
    """Run job consumers without the HTTP API, against the configured database and queue
    ($SEQEDIT_DB_URL, $SEQEDIT_QUEUE_URL, or the data dir's SQLite files beside a `serve --workers 0`).
    PostgreSQL + Redis distributed mode is not tested yet."""
    from seqedit.client.cli_db import require_schema
    from seqedit.service import WORKER

    engine_flags = dict(model=model, strategy=strategy, steps=steps, device=device, dtype=dtype)
    settings = _settings(engine_flags, opt, engine=engine, workers=workers, data_dir=data_dir)
    require_schema(settings)  # as serve
    _log_to_stderr()
    service = _service(settings, WORKER)
    service.start()
    out.print(f"seqedit worker: {max(1, settings.workers)} consumer(s), engine {settings.engine}")
    sys.stdout.flush()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    service.stop()


@keys_app.command("create")
def keys_create(
    name: str = typer.Option("", help="A label for the key."),
    concurrency: int | None = typer.Option(None, help="Max queued+running predictions for this key (429 above)."),
    data_dir: Path | None = DataDir,
) -> None:
    """Create a key and print it (only this once)."""
    token, row = _store(data_dir).create_key(name, concurrency=concurrency)
    out.print(token)
    err.print(f"key id {row['id']} created; the key is not stored and cannot be shown again")


@keys_app.command("list")
def keys_list(data_dir: Path | None = DataDir) -> None:
    """List keys (id, prefix, name, state); never the keys themselves."""
    from seqedit.api.envelope import iso

    table = Table("id", "prefix", "name", "concurrency", "created", "state")
    for k in _store(data_dir).list_keys():
        table.add_row(
            k["id"],
            k["prefix"] + "…",
            k["name"],
            str(k["concurrency"] or "-"),
            iso(k["created_at"]),
            "revoked" if k["revoked_at"] else "active",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: str = typer.Argument(..., help="Key id, prefix or the key itself."), data_dir: Path | None = DataDir
) -> None:
    """Revoke a key (a running server notices within 2 s)."""
    if _store(data_dir).revoke_key(key) == 0:
        err.print(f"[red]error:[/red] no active key matches {key!r}")
        raise typer.Exit(1)
    out.print(f"revoked {key}")


def usage(data_dir: Path | None = DataDir) -> None:
    """Predictions, images and cost per key."""
    table = Table("key id", "prefix", "name", "predictions", "completed", "images", "cost (USD)")
    total = 0
    for u in _store(data_dir).usage_summary():
        total += u["cost"]
        table.add_row(
            u["key_id"],
            u["prefix"] + "…",
            u["name"],
            str(u["predictions"]),
            str(u["completed"]),
            str(u["images"]),
            f"{u['cost']:.3f}",
        )
    out.print(table)
    out.print(f"total cost: {total:.3f} USD")
