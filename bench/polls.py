"""Poll benchmark: the server CPU one poll costs, measured on a real ``seqedit serve``.

    .venv/bin/python bench/polls.py [--seconds 3] [--clients 8]

Starts ``seqedit serve`` on loopback with the ``test-slow`` fixture engine (one panel takes
``PANEL`` seconds, so the job stays running), submits one job, and has ``--clients`` async clients
(keep-alive connections) poll ``GET /api/v3/predictions/{id}/result`` as fast as they can for
``--seconds``, three times: the running job, the running job with ``If-None-Match`` (a 304 when
the server sends an ``ETag``; a plain 200 otherwise), and a completed job. It prints polls per second
and the server's CPU per poll: its user + system time from ``/proc/<pid>/stat`` over the run, minus
what the process spends idle with the job running (measured for a second before), divided by the
polls answered.

To compare with another commit in the same run, point ``PYTHONPATH`` at that commit's ``src`` (the
server inherits it). The client shares the machine's cores with the server: on a small machine the
client is the bottleneck of the poll rate, not the server; the CPU per poll is the figure to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serve_process import HERE, Server

TESTS = HERE.parent / "tests"
MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
PANEL = 120.0  # seconds per panel of the running job: it stays running for the whole benchmark
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def png() -> str:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 60, 30)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def submit(server: Server, panels: int, **extra: object) -> str:
    body = {"prompt": "a series of images", "images": [png()], "size": "64*64", "max_images": panels, **extra}
    with server.client() as c:
        r = c.post(MODEL, json=body)
        r.raise_for_status()
        return r.json()["data"]["id"]


def status(server: Server, pid: str) -> str:
    with server.client() as c:
        return c.get(f"/api/v3/predictions/{pid}/result").json()["data"]["status"]


async def hammer(server: Server, pid: str, clients: int, seconds: float, conditional: bool) -> tuple[int, int]:
    """(polls answered, of which 304) by ``clients`` keep-alive clients in ``seconds``."""
    url = f"/api/v3/predictions/{pid}/result"
    deadline = time.monotonic() + seconds
    counts = [0, 0]

    async def one() -> None:
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}) as c:
            etag: str | None = None
            while time.monotonic() < deadline:
                headers = {"If-None-Match": etag} if conditional and etag else {}
                r = await c.get(url, headers=headers)
                if r.status_code == 304:
                    counts[1] += 1
                elif r.status_code != 200:
                    raise SystemExit(f"poll answered {r.status_code}: {r.text[:200]}")
                etag = r.headers.get("etag", etag)
                counts[0] += 1

    await asyncio.gather(*(one() for _ in range(clients)))
    return counts[0], counts[1]


def measure(server: Server, pid: str, clients: int, seconds: float, idle: float, conditional: bool) -> str:
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    polls, not_modified = asyncio.run(hammer(server, pid, clients, seconds, conditional))
    cpu, wall = cpu_seconds(server.proc.pid) - cpu0, time.monotonic() - t0
    per_poll = max(0.0, cpu - idle * wall) / max(1, polls)
    extra = f", {not_modified} of them 304" if conditional else ""
    return f"{polls / wall:7.0f} polls/s{extra}; server CPU {cpu / wall:.2f} cores, {per_poll * 1000:.3f} ms per poll"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, {args.clients} clients, {args.seconds:g} s each")
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(
            Path(tmp) / "data",
            "test-slow",
            "--workers",
            "2",
            SEQEDIT_PLUGINS="fixtures.engines",
            SEQEDIT_TEST_PANEL_SECONDS=str(PANEL),
            PYTHONPATH=os.pathsep.join([str(HERE), str(TESTS), os.environ.get("PYTHONPATH", "")]),
        )
        try:
            done = submit(server, 1, seed=1)
            running = submit(server, 1)
            # the first job completes at once only with a fast panel: wait for both to be where we want
            deadline = time.monotonic() + 30
            while status(server, running) != "processing":
                if time.monotonic() > deadline:
                    raise SystemExit("the job never started")
                time.sleep(0.05)
            cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
            time.sleep(1.0)
            idle = (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
            print(f"idle with the job running: {idle:.3f} cores (subtracted)")
            run = measure(server, running, args.clients, args.seconds, idle, False)
            print(f"poll, running job:          {run}")
            cond = measure(server, running, args.clients, args.seconds, idle, True)
            print(f"poll, running, If-None-Match: {cond}")
            with server.client() as c:  # the other job: cancel it, a terminal row to poll
                c.post(f"/api/v3/predictions/{done}/cancel").raise_for_status()
            while status(server, done) != "cancelled":
                time.sleep(0.05)
            term = measure(server, done, args.clients, args.seconds, idle, False)
            print(f"poll, terminal (cancelled): {term}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
