"""The CLI as a client of a running ``seqedit serve``: ``edit``/``plan`` with ``--server``, and
``status``, ``cancel``, ``history``.

``seqedit edit … --server URL`` prints what the in-process run prints — the plan table (from the
server's plan endpoint, before any task exists; an unsupported prompt exits 3 there), a live progress
bar fed by the polls, the warnings as they arrive — and writes the same files: ``OUT/1.jpg … N.jpg``
(the server's bytes) and ``OUT/set.json`` (request, plan, seed, verdicts, warnings, outputs with
sizes and SHA-256, plus the prediction ``id`` and the ``server``). Files are written only once every
output has been downloaded. Ctrl-C cancels the task on the server and exits 130.

Exit codes, as in-process: 2 for what the command line can fix (a bad field — the server's 400 names
it —, a missing file, a bad or missing key, a server that cannot be reached), 3 for what the server
could not do (the engine refused: 1403, a failed task, a 5xx, a lost answer, a wait that ran out).
The key comes from ``--api-key`` or ``$SEQEDIT_API_KEY`` and is never printed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from seqedit.client.cli_common import API_KEY, check_outdir, err, fail, out, print_plan
from seqedit.errors import RequestError, SeqeditError
from seqedit.plan import declared_count
from seqedit.sdk import ApiError, Client, PlanPreview, Prediction, TaskCancelled, Timeout, TransportError
from seqedit.sdk.wire import edit_input, plan_missing

__all__ = ["register", "remote_edit", "remote_plan", "exit_code"]

SERVER_REQUIRED = typer.Option(..., "--server", metavar="URL", help="the seqedit serve to ask (http://HOST:PORT)")
WAIT_SECONDS = 3600.0
"""How long ``seqedit edit --server`` polls before giving up (exit 3; the task keeps running)."""
POLL_SECONDS = 0.25


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("cancel")(cancel)
    app.command("history")(history)


def exit_code(exc: Exception) -> int:
    """2: the command line can fix it; 3: the server could not do it."""
    if isinstance(exc, ApiError):
        return 2 if exc.status < 500 else 3
    if isinstance(exc, TransportError):
        return 2 if isinstance(exc.__cause__, httpx.ConnectError) else 3
    if isinstance(exc, (Timeout, TaskCancelled)):
        return 3
    if isinstance(exc, SeqeditError):
        return 2 if exc.code in (1400, 1401) else 3
    return 3


def _message(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return exc.message  # the server's line already names the field and the limit
    if isinstance(exc, TransportError) and isinstance(exc.__cause__, httpx.ConnectError):
        return f"cannot reach the server: {exc}"
    return str(exc)


def _client(server: str, api_key: str | None) -> Client:
    try:
        return Client(server, api_key)
    except SeqeditError as exc:
        fail(str(exc).replace("pass api_key=", "pass --api-key"), 2)
        raise AssertionError("unreachable") from None


def _count(prompt: str, n: int | None) -> int:
    """The CLI's own default, as in-process: what the prompt asks for, else 1."""
    return n if n is not None else (declared_count(prompt) or 1)


def _show_preview(p: PlanPreview, fmt: str) -> None:
    print_plan(
        count=p.count,
        size=p.size,
        seed=p.seed,
        fmt=fmt,
        shared=p.shared,
        verdicts=p.verdicts,
        panels=[str(panel.get("text") or "") for panel in p.panels],
        warnings=p.warnings,
    )


def _show_task_plan(p: Prediction, fmt: str) -> None:
    """The plan from the prediction itself (a server without the plan endpoint)."""
    plan = p.plan or {}
    print_plan(
        count=int(plan.get("count") or 0),
        size=plan.get("size"),
        seed=plan.get("seed"),
        fmt=str(plan.get("output_format") or fmt),
        shared=str(plan.get("shared") or ""),
        verdicts=p.verdicts,
        panels=[str(x.get("text") or "") for x in plan.get("panels") or [] if isinstance(x, dict)],
        warnings=[str(w) for w in plan.get("warnings") or []],
    )


def _plan(client: Client, body: dict[str, Any]) -> PlanPreview | None:
    try:
        return client.plan(body)
    except ApiError as exc:
        if plan_missing(exc):
            return None
        raise


def remote_edit(
    refs: list[str],
    prompt: str,
    n: int | None,
    size: str | None,
    seed: int | None,
    fmt: str,
    outdir: Path,
    quiet: bool,
    server: str,
    api_key: str | None,
    started: float,
) -> None:
    client = _client(server, api_key)
    prediction_id: str | None = None
    try:
        check_outdir(outdir)
        images = client.references(refs)
        body = edit_input(images, prompt, _count(prompt, n), size=size, seed=seed, output_format=fmt)
        preview = _plan(client, body)
        if preview is not None:
            if not quiet:
                _show_preview(preview, fmt)
            refused = client.refusal(preview)
            if refused is not None:
                raise refused
        p = client.submit(body, idempotency_key=client.new_idempotency_key())
        prediction_id = p.id
        if not quiet:
            err.print(f"submitted {p.id} to {escape(client.base_url)}", highlight=False)
        p = _wait(client, p, preview, fmt, quiet)
        result = client.image_set_of(p, preview)
    except KeyboardInterrupt:
        if prediction_id is not None:
            try:
                client.cancel(prediction_id)
                fail(f"interrupted; cancelled {prediction_id} on the server; no set written", 130)
            except SeqeditError:
                fail(f"interrupted; {prediction_id} may still run: seqedit cancel {prediction_id} --server …", 130)
        fail("interrupted; no task was created", 130)
        return
    except (SeqeditError, RequestError) as exc:
        fail(_message(exc), exit_code(exc))
        return
    finally:
        client.close()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        names = [f"{o.index}.{o.extension}" for o in result.outputs]
        for o, name in zip(result.outputs, names, strict=True):
            (outdir / name).write_bytes(o.data)
        record = result.record(names)
        record["timings"]["total"] = round(time.perf_counter() - started, 4)
        (outdir / "set.json").write_text(json.dumps(record, indent=2))
    except OSError as exc:
        fail(f"-o {outdir}: cannot write there ({exc.strerror or exc})")
    if not quiet and record.get("consistency"):
        from seqedit.client.cli_consistency import show

        show(record["consistency"])
    if not quiet:
        out.print(f"[green]wrote[/green] {len(names)} image(s) and set.json to {escape(str(outdir))}")


def _wait(client: Client, p: Prediction, preview: PlanPreview | None, fmt: str, quiet: bool) -> Prediction:
    """Poll until the task ends, with the in-process run's progress bar and warnings."""
    total = preview.count if preview is not None else int((p.plan or {}).get("count") or 0) or None
    shown: set[str] = set(preview.warnings if preview else [])
    planned = preview is not None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    ) as bar:
        task = bar.add_task("queued", total=total)

        def progress(q: Prediction) -> None:
            nonlocal planned
            if not planned and q.plan and not quiet:
                planned = True
                _show_task_plan(q, fmt)
            count = int(q.progress.get("total") or 0) or total or 1
            fraction = float(q.progress.get("fraction") or 0.0)
            bar.update(
                task,
                description="rendering" if q.status == "processing" else q.status,
                total=count,
                completed=round(fraction * count, 3),
            )
            for w in q.warnings:
                if w not in shown:
                    shown.add(w)
                    if not quiet:
                        bar.console.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False)

        return client.wait(p.id, on_progress=progress, timeout=WAIT_SECONDS, poll_interval=POLL_SECONDS)


def remote_plan(
    refs: list[str],
    prompt: str,
    n: int | None,
    size: str | None,
    seed: int | None,
    as_json: bool,
    server: str,
    api_key: str | None,
) -> None:
    client = _client(server, api_key)
    try:
        images = client.references(refs)
        body = edit_input(images, prompt, _count(prompt, n), size=size, seed=seed)
        preview = client.plan(body)
    except ApiError as exc:
        if plan_missing(exc):
            fail(f"{client.base_url} has no plan endpoint (POST /api/v3/<model>/plan); upgrade that seqedit", 3)
        fail(_message(exc), exit_code(exc))
        return
    except SeqeditError as exc:
        fail(_message(exc), exit_code(exc))
        return
    finally:
        client.close()
    if as_json:
        sys.stdout.write(json.dumps(preview.raw, indent=2) + "\n")
    else:
        _show_preview(preview, "jpeg")
    if not preview.supported:
        fail(f"unsupported: {preview.refusal or preview.refused_clause}", 3)


# ---------------------------------------------------------------------- status, cancel, history


def _prediction_json(p: Prediction) -> None:
    sys.stdout.write(json.dumps(p.raw, indent=2) + "\n")


def _show_prediction(p: Prediction) -> None:
    progress = p.progress
    line = f"{p.id}  {p.status}"
    if progress.get("total"):
        line += f"  {progress.get('done', 0)}/{progress['total']} panel(s) ({float(progress.get('fraction') or 0):.0%})"
    out.print(line, highlight=False)
    out.print(f"model {p.model}, created {p.created_at}, seed {p.seed}", highlight=False)
    if p.error:
        out.print(f"[red]error[/red] {escape(p.error)}" + (f" (code {p.code})" if p.code else ""), highlight=False)
    for w in p.warnings:
        out.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False)
    for k, url in enumerate(p.outputs, start=1):
        out.print(f"  {k}: {escape(url)}", highlight=False, soft_wrap=True)


def _one(server: str, api_key: str | None, call: str, prediction_id: str) -> Prediction:
    client = _client(server, api_key)
    try:
        p: Prediction = getattr(client, call)(prediction_id)
        return p
    except SeqeditError as exc:
        fail(_message(exc), exit_code(exc))
        raise AssertionError("unreachable") from None
    finally:
        client.close()


def status(
    prediction_id: str = typer.Argument(..., metavar="ID", help="the prediction id (32 hex) submit printed"),
    server: str = SERVER_REQUIRED,
    api_key: str | None = API_KEY,
    as_json: bool = typer.Option(False, "--json", help="print the prediction object as JSON"),
) -> None:
    """Show a prediction on a server: status, progress, warnings, error, output URLs. Exit 3 if it failed."""
    p = _one(server, api_key, "result", prediction_id)
    _prediction_json(p) if as_json else _show_prediction(p)
    if p.status == "failed":
        raise typer.Exit(3)


def cancel(
    prediction_id: str = typer.Argument(..., metavar="ID", help="the prediction id (32 hex)"),
    server: str = SERVER_REQUIRED,
    api_key: str | None = API_KEY,
    as_json: bool = typer.Option(False, "--json", help="print the prediction object as JSON"),
) -> None:
    """Cancel a prediction: a queued one at once, a running one between panels. A finished one is unchanged."""
    p = _one(server, api_key, "cancel", prediction_id)
    _prediction_json(p) if as_json else _show_prediction(p)


def history(
    server: str = SERVER_REQUIRED,
    api_key: str | None = API_KEY,
    page: int = typer.Option(1, "--page", min=1, help="page number, from 1"),
    page_size: int = typer.Option(20, "--page-size", min=1, max=100, help="predictions per page, 1-100"),
    status_filter: str | None = typer.Option(
        None, "--status", help="only created | processing | completed | failed | cancelled"
    ),
    model: str | None = typer.Option(None, "--model", help="only this model id"),
    as_json: bool = typer.Option(False, "--json", help="print the page as JSON"),
) -> None:
    """List this key's predictions on a server, newest first."""
    client = _client(server, api_key)
    try:
        page_ = client.history(page, page_size, model=model, status=status_filter)
    except SeqeditError as exc:
        fail(_message(exc), exit_code(exc))
        return
    finally:
        client.close()
    if as_json:
        items = [p.raw for p in page_.items]
        doc = {"page": page_.page, "page_size": page_.page_size, "total": page_.total, "items": items}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    table = Table("id", "created", "status", "images", "prompt", header_style="bold")
    for p in page_.items:
        prompt = str(p.input.get("prompt") or "")
        count = f"{len(p.outputs)}/{p.input.get('max_images', '?')}"
        table.add_row(p.id, p.created_at, p.status, count, escape(prompt if len(prompt) <= 60 else prompt[:59] + "…"))
    out.print(table)
    last = min(page_.total, page_.page * page_.page_size)
    out.print(f"{last} of {page_.total} prediction(s)", highlight=False)
