"""Gateway benchmark: what ``--engine remote`` adds over calling the upstream server directly.

    .venv/bin/python bench/gateway.py [--rounds 5] [--poll 0.05] [--protocol wavespeed|ark|both]

Starts real ``seqedit serve`` processes on loopback: the *upstream* (engine ``bench-solid`` from
``bench/bench_engines.py``, instant) and one *gateway* per protocol (``--engine remote
--upstream-url`` the upstream). The same job mix (1×256², 4×512², 2×1024², 14×256²: Ark takes
references + images ≤ 15; one reference) is sent to each (submit, then a poll every 10 ms),
interleaved, one job at a time, ``--rounds`` times, and the end-to-end time per job is measured from
this client. Printed per protocol, job kind and overall: p50 direct, p50 through the gateway, the
ratio and the milliseconds added. ``ark``: the gateway streams from seqedit's Ark route, whose size
range is opened (``upstream_min_pixels=1``) so both protocols render the same pixels; ``wavespeed``:
submit, then polls every ``--poll`` s. The gateway's own cost is the upstream round trip (polling or
the stream), downloading and re-encoding every panel, and its own job lifecycle; an instant upstream
is the worst case for the ratio (hosted Seedream takes seconds per image, so there the ratio is
close to 1).
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from serve_process import Server  # the benches share one server runner

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
MIX = [("1x256", 1, "256*256"), ("4x512", 4, "512*512"), ("2x1024", 2, "1024*1024"), ("14x256", 14, "256*256")]


def ref_uri() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (120, 60, 30)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def run_job(server: Server, n: int, size: str, ref: str) -> float:
    """Submit, then poll every 10 ms: the same client for both servers (sync mode is not used: its
    wait sometimes wakes up one 0.5 s poll late, which would blur the comparison)."""
    body = {"prompt": f"a set of {n} shots", "images": [ref], "size": size, "max_images": n}
    headers = {"Authorization": f"Bearer {server.key}"}
    started = time.perf_counter()
    data = httpx.post(server.url + MODEL, json=body, headers=headers, timeout=60).json()["data"]
    deadline = started + 300
    while data.get("status") not in ("completed", "failed", "cancelled") and time.perf_counter() < deadline:
        time.sleep(0.01)
        data = httpx.get(data["urls"]["get"], headers=headers, timeout=60).json()["data"]
    elapsed = time.perf_counter() - started
    if data.get("status") != "completed" or len(data.get("outputs") or []) != n:
        raise SystemExit(f"job failed on {server.url}: {data}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each job of the mix runs per server")
    parser.add_argument("--poll", type=float, default=0.05, help="the gateway's poll_interval, seconds")
    parser.add_argument("--protocol", choices=["wavespeed", "ark", "both"], default="both")
    args = parser.parse_args()
    if args.rounds < 1 or args.poll <= 0:
        raise SystemExit("--rounds must be ≥ 1 and --poll > 0")
    ref = ref_uri()
    protocols = ["wavespeed", "ark"] if args.protocol == "both" else [args.protocol]
    with tempfile.TemporaryDirectory() as tmp:
        upstream = Server(Path(tmp) / "upstream", "bench-solid")
        gateways: dict[str, Server] = {}
        try:
            for protocol in protocols:
                gateways[protocol] = Server(
                    Path(tmp) / f"gateway-{protocol}",
                    "remote",
                    "--upstream-url",
                    upstream.url,
                    "--upstream-protocol",
                    protocol,
                    "--opt",
                    f"poll_interval={args.poll}",
                    "--opt",
                    "upstream_min_pixels=1",
                    SEQEDIT_UPSTREAM_KEY=upstream.key,
                )
            run_job(upstream, 1, "64*64", ref)  # warm every server
            for gateway in gateways.values():
                run_job(gateway, 1, "64*64", ref)
            direct: dict[str, list[float]] = {k: [] for k, _, _ in MIX}
            through = {p: {k: [] for k, _, _ in MIX} for p in protocols}
            for _ in range(args.rounds):
                for kind, n, size in MIX:  # interleaved, so drift in the machine hits all alike
                    direct[kind].append(run_job(upstream, n, size, ref))
                    for protocol, gateway in gateways.items():
                        through[protocol][kind].append(run_job(gateway, n, size, ref))
        finally:
            for gateway in gateways.values():
                gateway.stop()
            upstream.stop()
    print(f"gateway overhead ({args.rounds} rounds, poll_interval {args.poll} s, one job at a time, p50):")
    print(f"  {'upstream':<10} {'job':<8} {'direct':>10} {'gateway':>10} {'ratio':>7} {'added':>10}")
    for protocol in protocols:
        rows = [(k, statistics.median(direct[k]), statistics.median(through[protocol][k])) for k, _, _ in MIX]
        rows.append(("mix", sum(r[1] for r in rows), sum(r[2] for r in rows)))
        for kind, d, g in rows:
            print(
                f"  {protocol:<10} {kind:<8} {d * 1000:>8.0f} ms {g * 1000:>8.0f} ms {g / d:>6.2f}x"
                f" {(g - d) * 1000:>7.0f} ms"
            )


if __name__ == "__main__":
    main()
