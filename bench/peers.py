"""seqedit against Replicate's Cog 0.23.1, side by side, in one run: the figures issue 14 asks for.

    .venv/bin/python bench/peers.py [--quick] [--seconds S] [--skip-cog]

The SAME trivial job on both servers, a 64×64 PNG reference sent as the same data URI (the same wire
bytes) and a 64×64 PNG back at once: seqedit's ``bench-solid`` engine (``bench/bench_engines.py``,
``size 64*64``, ``max_images 1``, ``output_format png``) in a real ``seqedit serve``
(``bench/serve_process.py``), and a Cog predictor (``bench/peer_cog/predict.py``, ``async def
predict``) served by Cog's Rust server (coglet) from its own venv, ``bench/.peers-venv`` (made here
with ``pip install cog==0.23.1 coglet==0.23.1`` on first use; no Docker: ``python -m
cog.server.http`` with ``COG_PREDICT_TYPE_STUB`` and ``COG_MAX_CONCURRENCY``, which is what ``cog
build`` derives from ``bench/peer_cog/cog.yaml``). At 1, 4 and 16 concurrent clients it measures:

- throughput (predictions/s) and p50/p99 latency of a whole prediction (submit to result);
- server CPU per prediction: utime+stime from ``/proc/<pid>/stat`` summed over the server's whole
  process tree (Cog: its Rust server and Python worker; seqedit: the API and any consumer process),
  plus the reaped children's ``cutime``/``cstime``, over the measured window, divided by the
  predictions finished in it;
- the client's own CPU per prediction (this process), to show what the load generator costs.

Modes: seqedit **sync** (``enable_sync_mode``); seqedit **poll** (async submit, then GET
``/api/v3/predictions/{id}/result`` every 10 ms until terminal: the WaveSpeed flow); one seqedit sync
line with an uploaded reference URL instead of the data URI; Cog **16 slots** (``POST /predictions``,
sync, its default); Cog **1 slot** at 1 and 16 clients, where a 409 ("all prediction slots busy") is
retried after 10 ms and counted. Cog also answers a few 409s with as many slots as clients, and
with one client on one slot: a slot is freed a moment after its response is sent, so a client's next
request can find it still busy; those are retried and counted the same way. Each cell warms up
before its window opens; clients then run until it closes and finish the prediction in hand. A
prediction counts if it finishes inside the window.

The load generator is one asyncio loop speaking HTTP/1.1 over keep-alive connections, one per client,
with each request's bytes prebuilt: it is the same for both servers and the cheapest of those tried.
Against Cog at 16 clients (2 shared cores), client CPU per request: httpx.AsyncClient 1.2 ms,
``http.client`` in 16 threads 0.15 ms, these raw asyncio streams 0.07 ms. The clients still share the
cores with the servers: every figure is from one machine, noisy when anything else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from serve_process import Server, free_port
from service import pct, upload

HERE = Path(__file__).resolve().parent
MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
COG_VERSION = "0.23.1"
COG_VENV = HERE / ".peers-venv"
COG_DIR = HERE / "peer_cog"
COG_LITTER = Path("/tmp/coglet/predictions")  # coglet's fixed per-prediction directories
CLIENTS = (1, 4, 16)
POLL_SECONDS = 0.010
RETRY_SECONDS = 0.010  # a client's wait before it re-sends a prediction Cog refused with 409
TERMINAL = ("completed", "failed", "cancelled")


# ---- server CPU: a process tree from /proc ------------------------------------------------------


def children(pid: int) -> list[int]:
    """The live children of ``pid`` (every thread's ``children`` file); [] once it is gone."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            out.extend(int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
        except OSError:
            pass
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.append(p)
            todo.extend(children(p))
    return seen


def process_cpu(pid: int) -> float:
    """CPU seconds of ``pid``: utime+stime of all its threads, plus cutime+cstime of the children it
    has reaped (a live child is counted by ``tree_cpu`` itself); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": fields 3.. of proc(5)
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of the process tree rooted at ``pid``, as it stands now."""
    return sum(process_cpu(p) for p in tree(pid))


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- the load generator: raw HTTP/1.1 on asyncio streams ------------------------------------------


def request_bytes(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """One HTTP/1.1 request, ready to write again and again on a keep-alive connection."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    """One keep-alive connection: ``await conn.send(request_bytes(...))`` → (status, body)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
                body += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")  # the (empty) trailer
        else:
            body = await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return int(status_line.split()[1]), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


@dataclass
class Outcome:
    """What one client's prediction came to: ``ok`` and its latency, and the extra requests it took."""

    ok: bool
    latency: float
    polls: int = 0
    refused: int = 0  # 409s from Cog before a slot took it
    error: str = ""


# A prediction: given the client's connection, make one prediction and say how it went.
Predict = Callable[[Conn], Awaitable[Outcome]]


def seqedit_sync(url: str, key: str, ref: str) -> Predict:
    body = {"prompt": "one", "images": [ref], "size": "64*64", "max_images": 1, "output_format": "png"}
    raw = request_bytes("POST", url + MODEL, json.dumps({**body, "enable_sync_mode": True}).encode(), auth(key))

    async def predict(conn: Conn) -> Outcome:
        t0 = time.perf_counter()
        status, reply = await conn.send(raw)
        data = json.loads(reply).get("data") or {}
        ok = status == 200 and data.get("status") == "completed"
        return Outcome(ok, time.perf_counter() - t0, error="" if ok else f"{status} {reply[:200]!r}")

    return predict


def seqedit_poll(url: str, key: str, ref: str) -> Predict:
    body = {"prompt": "one", "images": [ref], "size": "64*64", "max_images": 1, "output_format": "png"}
    raw = request_bytes("POST", url + MODEL, json.dumps(body).encode(), auth(key))

    async def predict(conn: Conn) -> Outcome:
        t0 = time.perf_counter()
        status, reply = await conn.send(raw)
        if status != 200:
            return Outcome(False, time.perf_counter() - t0, error=f"{status} {reply[:200]!r}")
        poll = request_bytes(
            "GET", f"{url}/api/v3/predictions/{json.loads(reply)['data']['id']}/result", b"", auth(key)
        )
        polls = 0
        while True:
            await asyncio.sleep(POLL_SECONDS)
            status, reply = await conn.send(poll)
            polls += 1
            data = json.loads(reply).get("data") or {}
            if status != 200 or data.get("status") in TERMINAL:
                break
        ok = status == 200 and data.get("status") == "completed"
        return Outcome(ok, time.perf_counter() - t0, polls, error="" if ok else f"{status} {reply[:200]!r}")

    return predict


def cog_sync(url: str, ref: str) -> Predict:
    body = json.dumps({"input": {"image": ref, "prompt": "one"}}).encode()
    raw = request_bytes("POST", url + "/predictions", body, {"Content-Type": "application/json"})

    async def predict(conn: Conn) -> Outcome:
        t0 = time.perf_counter()
        refused = 0
        while (answer := await conn.send(raw))[0] == 409:
            refused += 1
            await asyncio.sleep(RETRY_SECONDS)
        status, reply = answer
        ok = status == 200 and json.loads(reply).get("status") == "succeeded"
        return Outcome(ok, time.perf_counter() - t0, refused=refused, error="" if ok else f"{status} {reply[:200]!r}")

    return predict


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


@dataclass
class Cell:
    """One (mode, client count) measurement: the predictions that finished inside the window."""

    mode: str
    clients: int
    seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def done(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def rate(self) -> float:
        return len(self.done) / self.seconds if self.seconds else 0.0

    def cpu_per(self, cpu: float) -> float:
        return cpu / len(self.done) if self.done else float("nan")

    def latency(self, q: float) -> float:
        return pct([o.latency for o in self.done], q) if self.done else float("nan")


async def _load(url: str, predict: Predict, cell: Cell, pid: int, warmup: float, seconds: float) -> None:
    opens = time.monotonic() + warmup
    closes = opens + seconds

    async def client() -> None:
        conn = Conn(url)
        try:
            while time.monotonic() < closes:
                outcome = await predict(conn)
                if opens <= time.monotonic() <= closes:  # finished inside the window
                    cell.outcomes.append(outcome)
        finally:
            conn.close()

    async def window() -> None:
        await asyncio.sleep(opens - time.monotonic())
        t, server, client = time.monotonic(), tree_cpu(pid), own_cpu()
        await asyncio.sleep(closes - time.monotonic())
        cell.server_cpu, cell.client_cpu = tree_cpu(pid) - server, own_cpu() - client
        cell.seconds = time.monotonic() - t

    await asyncio.gather(window(), *(client() for _ in range(cell.clients)))


def measure(mode: str, url: str, predict: Predict, pid: int, clients: int, warmup: float, seconds: float) -> Cell:
    """Run ``clients`` clients making ``predict`` predictions against the server at ``url`` (process
    tree ``pid``): warm up, then count what finishes inside a ``seconds`` window."""
    cell = Cell(mode, clients)
    asyncio.run(_load(url, predict, cell, pid, warmup, seconds))
    failed = [o for o in cell.outcomes if not o.ok]
    if failed:
        print(f"  {mode} × {clients}: {len(failed)} failed, e.g. {failed[0].error}", file=sys.stderr)
    time.sleep(0.3)  # let the server settle between cells
    return cell


# ---- Cog, from its own venv ----------------------------------------------------------------------


def cog_venv() -> Path:
    """``bench/.peers-venv`` with cog and coglet at ``COG_VERSION``, made on first use; its python."""
    python = COG_VENV / "bin" / "python"
    probe = [str(python), "-c", "import cog, coglet; print(coglet.__version__)"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == COG_VERSION:
        return python
    print(f"installing cog=={COG_VERSION} into {COG_VENV} …", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(COG_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", f"cog=={COG_VERSION}", f"coglet=={COG_VERSION}"]
    subprocess.run(pip, check=True)
    return python


class CogServer:
    """Cog's HTTP server (coglet) for ``peer_cog/predict.py`` with ``slots`` async slots."""

    def __init__(self, python: Path, slots: int, tmp: Path) -> None:
        self.port = free_port()
        log, out = tmp / f"cog-{slots}.log", tmp / f"cog-{slots}-out"
        out.mkdir()
        self.litter = set(COG_LITTER.iterdir()) if COG_LITTER.is_dir() else set()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PATH": os.pathsep.join([str(python.parent), os.environ.get("PATH", "")]),  # its worker's python
            "PORT": str(self.port),
            "COG_PREDICT_TYPE_STUB": "predict.py:Predictor",
            "COG_MAX_CONCURRENCY": str(slots),
            "PEER_OUT_DIR": str(out),
        }
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(
            [str(python), "-m", "cog.server.http", "--host", "127.0.0.1"],
            cwd=COG_DIR,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches the worker too
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Cog did not become ready:\n{log.read_text()[-2000:]}")

    def _ready(self) -> bool:
        async def ask() -> bool:
            conn = Conn(self.url)
            try:
                status, body = await conn.send(request_bytes("GET", self.url + "/health-check"))
                return status == 200 and json.loads(body).get("status") == "READY"
            except (OSError, asyncio.IncompleteReadError):  # not listening yet, or a reset
                return False
            finally:
                conn.close()

        return asyncio.run(ask())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a worker left behind
        except ProcessLookupError:
            pass
        left = set(COG_LITTER.iterdir()) - self.litter if COG_LITTER.is_dir() else set()
        for path in left:
            shutil.rmtree(path, ignore_errors=True)  # the empty inputs/ outputs/ Cog leaves per prediction


# ---- the run --------------------------------------------------------------------------------------


def reference() -> tuple[bytes, str]:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 60, 30)).save(buf, "PNG")
    return buf.getvalue(), "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def ms(x: float) -> str:
    return f"{x * 1000:7.2f} ms"


def row(cell: Cell) -> str:
    notes = []
    if polls := sum(o.polls for o in cell.done):
        notes.append(f"{polls / len(cell.done):.1f} polls/prediction")
    if refused := sum(o.refused for o in cell.outcomes):
        notes.append(f"{refused} × 409 retried")
    if failed := len(cell.outcomes) - len(cell.done):
        notes.append(f"{failed} failed")
    return (
        f"{cell.mode:<24} {cell.clients:>3} {cell.rate:>8.0f}/s  p50 {ms(cell.latency(50))}  p99 {ms(cell.latency(99))}"
        f"  server CPU {ms(cell.cpu_per(cell.server_cpu))}/pred  client CPU {ms(cell.cpu_per(cell.client_cpu))}/pred"
        + (f"  ({', '.join(notes)})" if notes else "")
    )


def ratio(name: str, a: float, b: float, op: str, target: float) -> str:
    r = a / b if b else float("nan")
    met = r <= target if op == "≤" else r >= target
    return f"{name}: {r:.2f}×  (target {op} {target:g}×: {'met' if met else 'NOT met'})"


def seqedit_cells(data_dir: Path, ref: str, warmup: float, seconds: float, serve_args: list[str]) -> list[Cell]:
    cells: list[Cell] = []
    server = Server(data_dir, "bench-solid", *serve_args)
    try:
        pid = server.proc.pid
        modes = [
            ("seqedit sync", seqedit_sync(server.url, server.key, ref), CLIENTS),
            ("seqedit poll 10 ms", seqedit_poll(server.url, server.key, ref), CLIENTS),
            ("seqedit sync, upload URL", seqedit_sync(server.url, server.key, upload(server, 64)), (16,)),
        ]
        for mode, predict, counts in modes:
            for n in counts:
                cells.append(measure(mode, server.url, predict, pid, n, warmup, seconds))
                print(row(cells[-1]), flush=True)
    finally:
        server.stop()
    return cells


def cog_cells(tmp: Path, ref: str, warmup: float, seconds: float) -> list[Cell]:
    cells: list[Cell] = []
    python = cog_venv()
    for slots, counts in ((16, CLIENTS), (1, (1, 16))):
        cog = CogServer(python, slots, tmp)
        try:
            for n in counts:
                mode = f"Cog {slots} slot{'s' if slots > 1 else ''}"
                cells.append(measure(mode, cog.url, cog_sync(cog.url, ref), cog.proc.pid, n, warmup, seconds))
                print(row(cells[-1]), flush=True)
        finally:
            cog.stop()
    return cells


def summary(cells: list[Cell], cog_error: str) -> None:
    def at(mode: str, n: int) -> Cell | None:
        return next((c for c in cells if c.mode == mode and c.clients == n), None)

    print()
    sync16, poll16, cog16 = at("seqedit sync", 16), at("seqedit poll 10 ms", 16), at("Cog 16 slots", 16)
    for n in CLIENTS if cog16 else ():
        s, c = at("seqedit sync", n), at("Cog 16 slots", n)
        if s and c:
            mine, theirs = s.cpu_per(s.server_cpu), c.cpu_per(c.server_cpu)
            print(
                ratio(f"server CPU per prediction, {n:>2} clients, seqedit sync/Cog 16 slots", mine, theirs, "≤", 1.0)
                + f"; seqedit {mine * 1000:.2f} ms (target ≤ 2 ms: {'met' if mine <= 0.002 else 'NOT met'}),"
                + f" Cog {theirs * 1000:.2f} ms"
            )
    if sync16 and cog16:
        print(ratio("throughput at 16 clients, seqedit sync/Cog 16 slots", sync16.rate, cog16.rate, "≥", 1.0))
    else:
        print(f"seqedit/Cog ratios: not measured ({cog_error})")
    if sync16 and poll16:
        print(ratio("throughput at 16 clients, seqedit poll/sync", poll16.rate, sync16.rate, "≥", 0.8))
    print("every figure from one run, the clients on the servers' cores; submit latency: bench/service.py")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short windows: the whole run in about a minute")
    ap.add_argument("--seconds", type=float, help="length of each measured window (default 10, quick 2)")
    ap.add_argument("--skip-cog", action="store_true", help="seqedit's figures alone")
    ap.add_argument(
        "--serve-args",
        default="",
        help="more `seqedit serve` options for seqedit's server, e.g. '--workers 4' (consumer threads) or "
        "'--inline-consumers' (the consumers in the API process)",
    )
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    warmup = 0.5 if args.quick else 2.0
    png, ref = reference()
    print(f"cpu cores: {os.cpu_count()}; the clients (one asyncio loop in this process) share them with the servers")
    print(
        f"job: a {len(png)}-byte 64×64 PNG reference as the same {len(ref)}-byte data URI to both, "
        f"a 64×64 PNG back; windows of {seconds:g} s after {warmup:g} s of warm-up; "
        f"seqedit serve {args.serve_args or '(defaults: 1 consumer thread in its consumer process)'}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        cells = seqedit_cells(Path(tmp) / "seqedit", ref, warmup, seconds, args.serve_args.split())
        cog_error = "--skip-cog"
        if not args.skip_cog:
            try:
                cells += cog_cells(Path(tmp), ref, warmup, seconds)
            except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
                cog_error = f"Cog did not run: {exc}"
                print(cog_error, file=sys.stderr)
    summary(cells, cog_error)


if __name__ == "__main__":
    main()
