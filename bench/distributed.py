"""Distributed-mode benchmark: prints the figures issue 12 asks for (asserts nothing about speed).

    .venv/bin/python bench/distributed.py [--quick] [--jobs N] [--keep DIR] [--env KEY=VALUE]...

Starts a local cluster with ``scripts/cluster up`` (PostgreSQL, Redis, S3 — or a shared folder where
this seqedit has no S3 storage —, 2 ``seqedit serve --workers 0`` and 2 ``seqedit worker`` processes,
classic engine) and measures, from a client in this process:

1. **throughput with 1 vs 2 workers** on the same classic-engine job mix (pencil sketch, watercolor,
   pop-art; 1-3 panels at 1536²; one uploaded reference; each worker warmed first): jobs per second
   from the first claim to the last ``completed_at``, and the ratio (the issue's target is ≥ 1.7× on
   2 cores);
2. **submit → claimed latency** p50/p99 (the row's ``started_at`` − ``created_at``, one job at a time
   so that a consumer is idle) on Redis (the cluster) vs embedded (``seqedit serve``: a SQLite queue
   and the consumer in the API process, woken in-process);
3. **API submits per second** with 16 concurrent clients against 1 API replica vs 2 (round-robin);
   the workers are stopped first, so the figure is the API's and the database's, not the engines'.

Everything shares the machine's cores with whatever else runs: a 2-core machine running the client,
PostgreSQL, Redis, the S3 server and four Python processes cannot show what two GPU hosts would. So
the throughput runs also print the CPU the workers got (``/proc``: their user + system time over the
run) and the load average before: when two workers get little more than one core, the ratio says
how busy the machine was, and jobs per worker CPU-second says whether distribution cost anything.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "cluster"
MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
MIX = [
    ("pencil sketch", 1),
    ("Panel 1: watercolor. Panel 2: pop-art", 2),
    ("Panel 1: pencil sketch. Panel 2: watercolor. Panel 3: pop-art", 3),
]


def cluster(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEQEDIT_PYTHON": sys.executable}
    done = subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise SystemExit(f"scripts/cluster {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def reference(side: int = 256) -> str:
    with Image.open(ROOT / "examples" / "astronaut.jpg") as im:
        small = im.convert("RGB").resize((side, side))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


class Rows:
    """The predictions table, read directly (PostgreSQL of the cluster, or an embedded SQLite file)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def get(self, ids: list[str]) -> dict[str, dict]:
        q = sa.text("SELECT id, status, created_at, started_at, completed_at FROM predictions WHERE id IN :ids")
        q = q.bindparams(sa.bindparam("ids", expanding=True))
        with self.engine.connect() as c:
            return {r["id"]: dict(r) for r in c.execute(q, {"ids": ids}).mappings()}

    def wait(self, ids: list[str], timeout: float = 900) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.get(ids)
            if len(rows) == len(ids) and all(
                r["status"] in ("completed", "failed", "cancelled") for r in rows.values()
            ):
                bad = [i for i, r in rows.items() if r["status"] != "completed"]
                if bad:
                    raise SystemExit(f"{len(bad)} benchmark job(s) did not complete, e.g. {bad[0]}")
                return rows
            time.sleep(0.1)
        raise SystemExit(f"jobs not done within {timeout} s")


def submit(http: httpx.Client, body: dict) -> str:
    r = http.post(MODEL, json=body)
    if r.status_code != 200:
        raise SystemExit(f"submit answered {r.status_code}: {r.text[:300]}")
    return r.json()["data"]["id"]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (all their threads), from /proc."""
    total = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def throughput(
    http: httpx.Client, rows: Rows, ref: str, jobs: int, size: int, workers: list[int]
) -> tuple[float, float]:
    """Jobs per second for ``jobs`` jobs of the mix, submitted at once by 8 clients, from the first
    claim to the last completion (the jobs are heavier than a submit, so the queue never runs dry and
    the figure is the workers', not the submitters'), and the cores the workers used meanwhile."""
    bodies = [
        {"prompt": p, "images": [ref], "size": f"{size}*{size}", "max_images": n}
        for p, n in (MIX[k % len(MIX)] for k in range(jobs))
    ]
    ids: list[str] = []
    lock = threading.Lock()

    def client(part: list[dict]) -> None:
        with httpx.Client(base_url=http.base_url, headers=http.headers, timeout=60) as c:
            for b in part:
                pid = submit(c, b)
                with lock:
                    ids.append(pid)

    cpu0, t0 = cpu_seconds(workers), time.monotonic()
    threads = [threading.Thread(target=client, args=(bodies[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = rows.wait(ids)
    cores = (cpu_seconds(workers) - cpu0) / (time.monotonic() - t0)
    first = min(r["started_at"] for r in done.values())
    last = max(r["completed_at"] for r in done.values())
    return jobs / (last - first), cores


def upload(http: httpx.Client, data_uri: str) -> str:
    """The reference uploaded once (its download URL: presigned S3, or a signed /files URL)."""
    blob = base64.b64decode(data_uri.split(",", 1)[1])
    r = http.post("/api/v3/media/upload/binary", files={"file": ("ref.jpg", blob, "image/jpeg")})
    if r.status_code != 200:
        raise SystemExit(f"upload answered {r.status_code}: {r.text[:300]}")
    return r.json()["data"]["download_url"]


def claim_latencies(http: httpx.Client, rows: Rows, ref: str, runs: int) -> list[float]:
    """started_at − created_at of ``runs`` one-panel jobs, each submitted when the previous is done."""
    out = []
    for _ in range(runs):
        pid = submit(http, {"prompt": "pencil sketch", "images": [ref], "size": "64*64", "max_images": 1})
        row = rows.wait([pid])[pid]
        out.append(row["started_at"] - row["created_at"])
    return out


def submits_per_second(urls: list[str], key: str, ref: str, clients: int, seconds: float) -> float:
    body = {"prompt": "pencil sketch", "images": [ref], "size": "64*64", "max_images": 1}
    count = [0]
    lock = threading.Lock()
    errors: list[str] = []
    end = time.monotonic() + seconds

    def client(k: int) -> None:
        n = 0
        with httpx.Client(base_url=urls[k % len(urls)], headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            while time.monotonic() < end:
                r = c.post(MODEL, json=body)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                n += 1
        with lock:
            count[0] += n

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"a submit failed: {errors[0]}")
    return count[0] / (time.monotonic() - t0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_latencies(ref: str, runs: int) -> list[float]:
    """The same claim latency on a plain ``seqedit serve`` (SQLite rows and queue, one consumer thread)."""
    data = Path(tempfile.mkdtemp(prefix="seqedit-bench-embedded-"))
    port = free_port()
    log = (data / "serve.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQEDIT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqedit", "serve", "--port", str(port), "--data-dir", str(data / "d")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        key = None
        while time.monotonic() < deadline:
            m = re.search(r"(sk_\S+)", (data / "serve.log").read_text())
            try:
                if m and httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    key = m.group(1)
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        if key is None:
            raise SystemExit(f"seqedit serve did not start:\n{(data / 'serve.log').read_text()[-2000:]}")
        rows = Rows(f"sqlite:///{data / 'd' / 'seqedit.db'}")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            claim_latencies(http, rows, ref, 2)  # warm the engine
            return claim_latencies(http, rows, ref, runs)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer jobs and shorter runs (a smoke test of the bench)")
    ap.add_argument("--jobs", type=int, default=0, help="jobs per throughput run (default 24, quick 6)")
    ap.add_argument("--keep", type=Path, help="cluster folder to use and leave (default: a temporary one, removed)")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every cluster process (scripts/cluster up --env), e.g. OMP_NUM_THREADS=1",
    )
    args = ap.parse_args()
    jobs = args.jobs or (6 if args.quick else 24)
    runs = 10 if args.quick else 40
    seconds = 3.0 if args.quick else 10.0
    size = 256 if args.quick else 1536
    root = args.keep or Path(tempfile.mkdtemp(prefix="seqedit-bench-cluster-"))
    ref = reference()
    small = reference(32)
    figures: list[tuple[str, str]] = []

    extra = [a for item in args.env for a in ("--env", item)]
    cluster("up", str(root), "--api", "2", "--workers", "2", "--engine", "classic", *extra)
    try:
        state = json.loads((root / "cluster.json").read_text())
        key = state["api_key"]
        apis = [c["url"] for n, c in sorted(state["components"].items()) if c["kind"] == "api"]
        rows = Rows(state["env"]["SEQEDIT_DB_URL"])
        storage = state["options"]["storage"]
        print(f"cluster: 2 API, 2 workers × 1 consumer, classic engine, PostgreSQL + Redis + {storage} ({root})")
        with httpx.Client(base_url=apis[0], headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            ref = upload(http, ref)
            pids = [c["pid"] for n, c in sorted(state["components"].items()) if c["kind"] == "worker"]
            load = os.getloadavg()[0]
            throughput(http, rows, ref, 4, size, pids)  # warm both workers (models load on first use)
            two, cores2 = throughput(http, rows, ref, jobs, size, pids)
            print(f"  throughput, 2 workers: {two:.2f} jobs/s ({jobs} jobs, {cores2:.2f} cores)")
            redis = claim_latencies(http, rows, small, runs)
            print(f"  submit→claimed on Redis: p50 {ms(pct(redis, 50))}")
            cluster("stop", str(root), "worker-2")
            one, cores1 = throughput(http, rows, ref, jobs, size, pids[:1])
            print(f"  throughput, 1 worker: {one:.2f} jobs/s ({cores1:.2f} cores)")
        cluster("stop", str(root), "worker-1")  # the submit figures measure the APIs, not the engines
        single = submits_per_second(apis[:1], key, small, 16, seconds)
        double = submits_per_second(apis, key, small, 16, seconds)
        figures += [
            ("machine load average (1 min) before the runs", f"{load:.1f} on {os.cpu_count()} CPUs"),
            ("throughput, 1 worker", f"{one:.2f} jobs/s (the worker used {cores1:.2f} cores)"),
            ("throughput, 2 workers", f"{two:.2f} jobs/s (the workers used {cores2:.2f} cores)"),
            ("throughput ratio, 2 workers / 1 (target ≥ 1.7)", f"{two / one:.2f}×"),
            ("jobs per worker CPU-second, 2 workers / 1", f"{(two / cores2) / (one / cores1):.2f}×"),
            ("submit → claimed, Redis (cluster)", f"p50 {ms(pct(redis, 50))}, p99 {ms(pct(redis, 99))}"),
        ]
    finally:
        cluster("down", str(root), "--grace", "10", check=False)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    embedded = embedded_latencies(small, runs)
    figures += [
        ("submit → claimed, embedded (SQLite queue)", f"p50 {ms(pct(embedded, 50))}, p99 {ms(pct(embedded, 99))}"),
        ("API submits/s, 16 clients, 1 replica", f"{single:.0f}/s"),
        ("API submits/s, 16 clients, 2 replicas", f"{double:.0f}/s ({double / single:.2f}×)"),
    ]
    print(
        f"\nseqedit distributed benchmark ({os.cpu_count()} CPUs, {jobs} jobs per throughput run, {runs} latency runs)"
    )
    width = max(len(k) for k, _ in figures)
    for k, v in figures:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
