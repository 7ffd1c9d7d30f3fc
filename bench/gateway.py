"""Gateway benchmark: what ``--engine remote`` adds over calling the upstream server directly.

    .venv/bin/python bench/gateway.py [--rounds 5] [--poll 0.05]

Starts two real ``seqedit serve`` processes on loopback: the *upstream* (engine ``bench-solid`` from
``bench/bench_engines.py``, instant) and the *gateway* (``--engine remote --upstream-url`` the
upstream). The same job mix (1×256², 4×512², 2×1024², 15×256²; one reference) is sent in sync mode
to each, one job at a time, ``--rounds`` times, and the end-to-end time per job is measured from this
client. Printed per job kind and overall: p50 direct, p50 through the gateway, the ratio and the
milliseconds added. The gateway's own cost is one submit + ``poll`` -interval polling + downloading
and re-encoding every panel + its own job lifecycle, so the added time is roughly ``poll`` plus the
per-panel transfer; an instant upstream is the worst case for the ratio (real Seedream takes seconds
per image, so there the ratio is close to 1).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SEQEDIT = Path(sys.executable).with_name("seqedit")
MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
MIX = [("1x256", 1, "256*256"), ("4x512", 4, "512*512"), ("2x1024", 2, "1024*1024"), ("15x256", 15, "256*256")]


class Server:
    def __init__(self, data_dir: Path, engine: str, *args: str, **env: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "serve.log"
        self.proc = subprocess.Popen(
            [str(SEQEDIT), "serve", "--port", str(self.port), "--engine", engine, "--data-dir", str(data_dir), *args],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "SEQEDIT_PLUGINS": "bench_engines",
                "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
                **env,
            },
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.log.read_text()
            m = re.search(r"store it now\): (sk_\S+)", text)
            try:
                if m and httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    self.key = m.group(1)
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise SystemExit(f"server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def ref_uri() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (120, 60, 30)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def run_job(server: Server, n: int, size: str, ref: str) -> float:
    body = {"prompt": f"a set of {n} shots", "images": [ref], "size": size, "max_images": n, "enable_sync_mode": True}
    started = time.perf_counter()
    answer = httpx.post(
        server.url + MODEL, json=body, headers={"Authorization": f"Bearer {server.key}"}, timeout=300
    ).json()
    elapsed = time.perf_counter() - started
    data = answer.get("data") or {}
    if data.get("status") != "completed" or len(data.get("outputs") or []) != n:
        raise SystemExit(f"job failed on {server.url}: {answer}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each job of the mix runs per server")
    parser.add_argument("--poll", type=float, default=0.05, help="the gateway's poll_interval, seconds")
    args = parser.parse_args()
    if args.rounds < 1 or args.poll <= 0:
        raise SystemExit("--rounds must be ≥ 1 and --poll > 0")
    ref = ref_uri()
    with tempfile.TemporaryDirectory() as tmp:
        upstream = Server(Path(tmp) / "upstream", "bench-solid")
        gateway = None
        try:
            gateway = Server(
                Path(tmp) / "gateway",
                "remote",
                "--upstream-url",
                upstream.url,
                "--opt",
                f"poll_interval={args.poll}",
                SEQEDIT_UPSTREAM_KEY=upstream.key,
            )
            run_job(upstream, 1, "64*64", ref), run_job(gateway, 1, "64*64", ref)  # warm both
            direct: dict[str, list[float]] = {k: [] for k, _, _ in MIX}
            through: dict[str, list[float]] = {k: [] for k, _, _ in MIX}
            for _ in range(args.rounds):
                for kind, n, size in MIX:  # interleaved, so drift in the machine hits both alike
                    direct[kind].append(run_job(upstream, n, size, ref))
                    through[kind].append(run_job(gateway, n, size, ref))
        finally:
            if gateway is not None:
                gateway.stop()
            upstream.stop()
    print(f"gateway overhead ({args.rounds} rounds, poll_interval {args.poll} s, one job at a time, p50):")
    print(f"  {'job':<8} {'direct':>10} {'gateway':>10} {'ratio':>7} {'added':>10}")
    rows = [(k, statistics.median(direct[k]), statistics.median(through[k])) for k, _, _ in MIX]
    rows.append(("mix", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    for kind, d, g in rows:
        print(f"  {kind:<8} {d * 1000:>8.0f} ms {g * 1000:>8.0f} ms {g / d:>6.2f}x {(g - d) * 1000:>7.0f} ms")


if __name__ == "__main__":
    main()
