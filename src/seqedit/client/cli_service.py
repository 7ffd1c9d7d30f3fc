"""``seqedit serve``, ``seqedit worker``, ``seqedit keys create|list|revoke``, ``seqedit usage``,
``seqedit webhooks list``.

``serve`` and ``worker`` log through ``seqedit.logs`` (``--log-format text|json``) and take the data
dir's lock before the service is built (``seqedit.datadir.hold``: exclusive for a ``serve`` with
consumers, shared for ``serve --workers 0`` and ``worker``; none with ``SEQEDIT_DB_URL``), so a second
owner exits 2 naming the holder without touching anything. The commands that read a data dir
(``keys``, ``usage``, ``webhooks``) refuse one that does not exist (exit 2) instead of creating it,
unless ``SEQEDIT_DB_URL`` names a shared database.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
UpstreamUrl = typer.Option(
    None, "--upstream-url", help="Remote engine: the upstream's base URL (default: $SEQEDIT_UPSTREAM_URL)."
)
UpstreamKey = typer.Option(
    None,
    "--upstream-key",
    help="Remote engine: the upstream API key (default: $SEQEDIT_UPSTREAM_KEY, which keeps it out of `ps`).",
)
UpstreamProtocol = typer.Option(
    None,
    "--upstream-protocol",
    help="Remote engine: wavespeed | ark (default: $SEQEDIT_UPSTREAM_PROTOCOL or wavespeed).",
)
UpstreamModel = typer.Option(
    None,
    "--upstream-model",
    help="Remote engine: the upstream model id (default: $SEQEDIT_UPSTREAM_MODEL or the protocol's Seedream 4).",
)


class LogFormat(str, Enum):
    text = "text"
    json = "json"


LogFormatOption = typer.Option(
    None,
    "--log-format",
    help="Log lines on stderr: text (key=value fields) or json (one object per line) (default: "
    "$SEQEDIT_LOG_FORMAT or text).",
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
    app.command("_consumers", hidden=True)(consumers_child)
    app.add_typer(keys_app, name="keys")
    app.command("usage")(usage)
    app.add_typer(webhooks_app, name="webhooks")


def _upstream_flags(url: str | None, key: str | None, protocol: str | None, model: str | None) -> dict[str, Any]:
    """The remote engine's typed flags as engine options (None: not given)."""
    return dict(upstream_url=url, upstream_key=key, upstream_protocol=protocol, upstream_model=model)


def _settings(engine_flags: dict[str, Any] | None = None, opt: list[str] | None = None, **overrides: Any):
    """Settings from the environment and the flags given; ``engine_flags`` (--model, …) and ``--opt``
    become the explicit engine options (a malformed --opt, or one option given both ways: exit 2)."""
    from pydantic import ValidationError

    from seqedit.client.cli_engines import explicit_options
    from seqedit.config import Settings, env_name
    from seqedit.engines.base import EngineError

    try:
        options = explicit_options(engine_flags or {}, opt)
    except EngineError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    try:
        return Settings(options=options, **{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:  # a bad SEQEDIT_* value: one line naming the variable, not a traceback
        problems = "; ".join(
            f"{env_name(str(e['loc'][0])) if e['loc'] else 'settings'}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors()
        )
        err.print(f"[red]error:[/red] {escape(problems)}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned exit 2."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(2)


_held: list[Any] = []  # the data-dir lock of this process (seqedit.datadir.Lock), held until it exits


def _service(settings: Any, roles: frozenset[str]):
    """The service for ``roles`` with its engine built once, or exit 2 with one line (the data dir held
    by another process, unknown engine, bad option, a storage URL or AWS_* variable that cannot work).
    The data dir's lock is taken first, so a refused process has opened nothing in it."""
    from seqedit.api.app import make_service
    from seqedit.engines.base import EngineError
    from seqedit.storage import StorageConfigError

    lock = _hold_data_dir(settings, roles)
    try:
        service = make_service(settings, roles=roles)
        service.check_engine()
    except (EngineError, StorageConfigError) as exc:  # a broken install (other ImportErrors) is a traceback
        _release(lock)
        raise _fail(str(exc)) from None
    except BaseException:
        _release(lock)
        raise
    return service


def _hold_data_dir(settings: Any, roles: frozenset[str]) -> Any:
    """Take the embedded data dir's lock for ``roles`` (``seqedit.datadir``): exclusive when this process
    owns the dir (api + consumers), else shared; nothing with a shared database (``SEQEDIT_DB_URL``)."""
    from seqedit.datadir import DataDirBusy, Mode, hold
    from seqedit.service import ROLES

    if settings.db_url:
        return None
    mode: Mode = "exclusive" if {"api", "consumers"} <= roles else "shared"
    try:
        lock = hold(Path(settings.data_dir), mode, roles=", ".join(r for r in ROLES if r in roles))
    except DataDirBusy as exc:
        raise _fail(exc.line()) from None
    except OSError as exc:  # not ours to write (another user's dir, a read-only mount)
        where = Path(settings.data_dir).resolve()
        raise _fail(f"cannot take the lock of the data dir {where}: {exc.strerror or exc}") from None
    _held.append(lock)
    return lock


def _release(lock: Any) -> None:
    if lock is not None:
        lock.release()
        if lock in _held:
            _held.remove(lock)


def _start_logging(settings: Any, log_format: LogFormat | None) -> None:
    """seqedit's log lines (requests, job state changes, service roles) on stderr in the format of
    ``--log-format`` or ``settings.log_format`` (``seqedit.logs``)."""
    from seqedit import logs

    if log_format is not None:
        settings.log_format = log_format.value
    logs.configure(settings.log_format)


def _store(data_dir: Path | None):
    """The store of the data dir (or of ``SEQEDIT_DB_URL``); exit 2 if the data dir is not one (never
    created here: a folder no server reads would take the keys)."""
    from seqedit.client.cli_db import require_schema
    from seqedit.datadir import NoDataDir, require
    from seqedit.jobs.store import Store
    from seqedit.service import database_url

    s = _settings(data_dir=data_dir)
    if not s.db_url:
        try:
            require(Path(s.data_dir))
        except NoDataDir as exc:
            raise _fail(str(exc)) from None
    require_schema(s)  # as serve: a shared database behind this seqedit is upgraded deliberately, not here
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
    upstream_url: str | None = UpstreamUrl,
    upstream_key: str | None = UpstreamKey,
    upstream_protocol: str | None = UpstreamProtocol,
    upstream_model: str | None = UpstreamModel,
    opt: list[str] | None = Opt,
    log_format: LogFormat | None = LogFormatOption,
    inline_consumers: bool = typer.Option(
        False,
        "--inline-consumers",
        help="Run the job consumers as threads of the API process instead of their own child process "
        "(the default on Linux; also $SEQEDIT_CONSUMER_PROCESS=0).",
    ),
) -> None:
    """Run the WaveSpeed-compatible API with its job consumers (no external services): one command, one
    data dir; the consumers run in a child process of their own, so jobs never hold up the API."""
    from seqedit.api.app import create_app
    from seqedit.api.server import run as run_server
    from seqedit.client.cli_db import require_schema
    from seqedit.service import API_ONLY, ROLES, SERVE

    engine_flags = dict(model=model, strategy=strategy, steps=steps, device=device, dtype=dtype)
    engine_flags.update(_upstream_flags(upstream_url, upstream_key, upstream_protocol, upstream_model))
    settings = _settings(engine_flags, opt, engine=engine, workers=workers, data_dir=data_dir, public_url=public_url)
    if inline_consumers:
        settings.consumer_process = False
    elif settings.consumer_process is None:  # serve's default: consumers in their own process (jobs.child)
        settings.consumer_process = True
    require_schema(settings)  # a database behind this seqedit's schema (not SQLite) or ahead of it: exit 2
    # --workers 0: API only; `seqedit worker` processes run the jobs
    _start_logging(settings, log_format)
    roles = SERVE if settings.workers > 0 else API_ONLY
    service = _service(settings, roles)
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
        f"seqedit serving on http://{host}:{port} (engine {engine_shown}, {settings.workers} worker(s)"
        f"{' in a child process' if service.consumers_in_child else ''}, "
        f"data in {Path(settings.data_dir).resolve()})",
        soft_wrap=True,
    )
    sys.stdout.flush()
    logging.getLogger("seqedit.serve").info(
        "serving",
        extra={
            "url": f"http://{host}:{port}",
            "engine": engine_shown,
            "workers": settings.workers,
            "roles": ",".join(r for r in ROLES if r in roles),
            "data_dir": str(Path(settings.data_dir).resolve()),
            "lock": "none (shared database)"
            if settings.db_url
            else ("exclusive" if settings.workers > 0 else "shared"),
        },
    )
    # uvicorn + httptools with the connection limits of settings (header/body/keep-alive timeouts, caps)
    try:
        run_server(create_app(service), settings, host=host, port=port)
    finally:
        for lock in list(_held):
            _release(lock)


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
    engine: str | None = typer.Option(None, help="Engine name (default: $SEQEDIT_ENGINE or classic)."),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        help="Jobs this process runs at once: consumer threads sharing one engine (default: $SEQEDIT_WORKERS or 1).",
    ),
    workers: int | None = typer.Option(None, "--workers", hidden=True, help="Old name of --concurrency."),
    data_dir: Path | None = DataDir,
    model: str | None = Model,
    strategy: str | None = Strategy,
    steps: int | None = Steps,
    device: str | None = Device,
    dtype: str | None = Dtype,
    upstream_url: str | None = UpstreamUrl,
    upstream_key: str | None = UpstreamKey,
    upstream_protocol: str | None = UpstreamProtocol,
    upstream_model: str | None = UpstreamModel,
    opt: list[str] | None = Opt,
    log_format: LogFormat | None = LogFormatOption,
) -> None:
    """Run job consumers without the HTTP API, against the configured database and queue
    ($SEQEDIT_DB_URL, $SEQEDIT_QUEUE_URL, or the data dir's SQLite files beside a `serve --workers 0`).
    Also delivers webhooks and runs the reaper and the retention sweep (once per tick across the
    fleet). The engine is built once, at start. SIGTERM or Ctrl-C drains: no new jobs, running ones
    may finish within $SEQEDIT_DRAIN_SECONDS (30), the rest are handed back; then exit 0."""
    from seqedit.client.cli_db import require_schema
    from seqedit.service import WORKER

    if concurrency is not None and workers is not None and concurrency != workers:
        err.print("[red]error:[/red] --concurrency and --workers (its old name) disagree; give one")
        raise typer.Exit(2)
    n = concurrency if concurrency is not None else workers
    if n is not None and n < 1:
        err.print(f"[red]error:[/red] --concurrency must be at least 1, got {n}")
        raise typer.Exit(2)
    engine_flags = dict(model=model, strategy=strategy, steps=steps, device=device, dtype=dtype)
    engine_flags.update(_upstream_flags(upstream_url, upstream_key, upstream_protocol, upstream_model))
    settings = _settings(engine_flags, opt, engine=engine, workers=n, data_dir=data_dir)
    if settings.workers < 1:
        err.print(f"[red]error:[/red] SEQEDIT_WORKERS must be at least 1 for a worker, got {settings.workers}")
        raise typer.Exit(2)
    require_schema(settings)  # as serve
    _start_logging(settings, log_format)
    service = _service(settings, WORKER)  # builds the engine once (a bad option exits 2 here)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    service.start()
    out.print(
        f"seqedit worker: {service.concurrency} consumer(s), engine {settings.engine} "
        f"(SIGTERM drains up to {settings.drain_seconds:g} s)"
    )
    sys.stdout.flush()
    done.wait()
    service.stop(drain=settings.drain_seconds)


def consumers_child() -> None:
    """The consumer process of a `seqedit serve` (jobs.child); started by it, never by hand: it takes
    the parent's settings and its end of the socket from the environment, runs the consumers, and
    stops (handing running jobs back) when the parent closes the socket or dies."""
    import os

    from seqedit.config import Settings
    from seqedit.jobs.child import FD_ENV, PARENT_ENV, ParentLink, die_with_parent
    from seqedit.jobs.rowqueue import RowQueue
    from seqedit.service import CHILD, SETTINGS_ENV, Service

    if FD_ENV not in os.environ or SETTINGS_ENV not in os.environ:
        raise _fail("`seqedit _consumers` is started by `seqedit serve`, not by hand")
    die_with_parent(int(os.environ.get(PARENT_ENV, "0") or 0))
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    settings.consumer_process = False
    _start_logging(settings, None)
    service = Service(settings, roles=CHILD)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    queue = service.queue
    link = ParentLink(
        int(os.environ[FD_ENV]),
        on_wake=queue.wake if isinstance(queue, RowQueue) else (lambda: None),
        on_cancel=service.runner.cancel_local,
        on_parent_gone=done.set,
    )
    service.store.watch(link.changed)  # every change this process writes reaches the parent's waiters
    link.start()
    service.start()
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


webhooks_app = typer.Typer(
    help="Webhook deliveries: every terminal prediction with a webhook has one, retried until delivered or dead.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

MAX_LIST = 1000  # rows `webhooks list` shows at most (--limit)


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    """What an operator sees of an outbox row: the receiver's host only (a webhook URL's path and query
    may carry the receiver's own token), never the body or its signature."""
    from seqedit.api.envelope import iso

    delivered = row["delivered_at"] is not None
    state = "delivered" if delivered else ("dead" if row["dead"] else "pending")
    parts = urlsplit(row["url"])
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return {
        "prediction_id": row["prediction_id"],
        "key_id": row["key_id"],
        "webhook_id": row["message_id"],
        "host": host,
        "state": state,
        "attempts": row["attempts"],
        "last_error": row["last_error"] or "",
        "next_attempt_at": iso(row["next_attempt_at"]) if state == "pending" else None,
        "delivered_at": iso(row["delivered_at"]) if delivered else None,
        "created_at": iso(row["created_at"]),
    }


@webhooks_app.command("list")
def webhooks_list(
    prediction: str | None = typer.Option(None, "--prediction", help="Only this prediction's delivery."),
    limit: int = typer.Option(
        50, "--limit", min=1, max=MAX_LIST, help=f"Newest deliveries shown (1-{MAX_LIST}; default 50)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON array of the deliveries instead of a table."),
    data_dir: Path | None = DataDir,
) -> None:
    """Webhook deliveries, newest first: prediction, receiver host, state (pending, delivered, dead),
    attempts, last error, next attempt."""
    rows = [_delivery(r) for r in _store(data_dir).webhook_deliveries(prediction_id=prediction, limit=limit)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        err.print("no webhook deliveries" + (f" for prediction {prediction}" if prediction else ""))
        return
    table = Table("created", "prediction", "host", "state", "attempts", "next attempt", "last error")
    for d in rows:
        table.add_row(
            d["created_at"],
            d["prediction_id"],
            escape(d["host"]),
            d["state"],
            str(d["attempts"]),
            d["next_attempt_at"] or "-",
            escape(d["last_error"]) or "-",
        )
    out.print(table)
