"""Service benchmark: prints the figures issue 3 asks for.

    .venv/bin/python bench/service.py [--quick] [--base64-only]

Starts real ``seqedit serve`` processes on loopback (engines from ``bench/bench_engines.py``) and
measures, from a client in this process:

1. submit latency p50/p99 with 1 and 16 concurrent clients (async submits; targets p50 ≤ 15 ms,
   p99 ≤ 60 ms on 2 cores);
2. sustained submits per second with 16 clients (target ≥ 150/s);
3. end-to-end time the service adds over calling the engine in-process, for a small job (sync mode,
   2 images of 256², target ≤ 150 ms at p50);
4. one poll of a completed 15-image 4096² result in base64 mode (target ≤ 1.5 s), with the server's
   peak RSS during the poll (``/proc/<pid>/status``: VmHWM reset through ``clear_refs`` just before,
   and VmRSS sampled every 5 ms) over its RSS just before;
5. downloading the 15 files of such a result through their signed ``/files`` URLs (streamed from
   the storage port), in MB/s.

To compare with another commit in the same run, point ``PYTHONPATH`` at that commit's ``src``
(``git worktree add /tmp/base <rev>; PYTHONPATH=/tmp/base/src .venv/bin/python bench/service.py``):
the servers it starts inherit it.

The job consumers run in the same process as the API (as in production), so submit figures include
their interference. Everything shares the machine's cores with whatever else is running.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from serve_process import Server  # the benches share one server runner

HERE = Path(__file__).resolve().parent
MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def upload(server: Server, size: int = 256) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (120, 60, 30)).save(buf, "PNG")
    with server.client() as c:
        r = c.post("/api/v3/media/upload/binary", files={"file": ("ref.png", buf.getvalue())})
        return r.json()["data"]["download_url"]


def submit_latencies(server: Server, ref: str, clients: int, per_client: int) -> list[float]:
    body = {"prompt": "one", "images": [ref], "size": "64*64", "max_images": 1}
    out: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = []
        with server.client(timeout=30) as c:
            c.post(MODEL, json=body)  # warm the connection
            for _ in range(per_client):
                t0 = time.perf_counter()
                r = c.post(MODEL, json=body)
                mine.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def sustained(server: Server, ref: str, clients: int, seconds: float) -> float:
    body = {"prompt": "one", "images": [ref], "size": "64*64", "max_images": 1}
    count = [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def worker() -> None:
        n = 0
        with server.client(timeout=30) as c:
            while time.monotonic() < end:
                assert c.post(MODEL, json=body).status_code == 200
                n += 1
        with lock:
            count[0] += n

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / (time.monotonic() - t0)


def drain(server: Server, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    with server.client() as c:
        while time.monotonic() < deadline:
            text = c.get("/metrics").text
            depth = sum(int(v) for v in re.findall(r'seqedit_queue_depth\{status="\w+"\} (\d+)', text))
            if depth == 0:
                return
            time.sleep(0.2)


def e2e_overhead(server: Server, ref: str, runs: int) -> tuple[float, float, float]:
    """(service p50, in-process p50, difference) for a 2×256² job with the bench-solid engine."""
    sys.path.insert(0, str(HERE))
    import bench_engines  # noqa: F401

    from seqedit import imaging
    from seqedit.engines import NullProgress, create
    from seqedit.plan import make_plan
    from seqedit.request import EditRequest

    engine = create("bench-solid")
    with server.client(timeout=60) as c:
        blob = c.get(ref).content
    inproc = []
    for _ in range(runs):
        t0 = time.perf_counter()
        refs = [imaging.decode(blob)]
        plan = make_plan(
            EditRequest.create(prompt="two", images=["x"], size="256*256", max_images=2), [r.size for r in refs]
        )
        engine.check(plan, refs)
        for panel in engine.generate(plan, refs, NullProgress()):
            imaging.encode(panel, "jpeg")
        inproc.append(time.perf_counter() - t0)
    service = []
    body = {"prompt": "two", "images": [ref], "size": "256*256", "max_images": 2, "enable_sync_mode": True}
    with server.client(timeout=60) as c:
        c.post(MODEL, json=body)
        for _ in range(runs):
            t0 = time.perf_counter()
            r = c.post(MODEL, json=body)
            service.append(time.perf_counter() - t0)
            assert r.json()["data"]["status"] == "completed", r.text
    a, b = statistics.median(service), statistics.median(inproc)
    return a, b, a - b


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class PeakRss:
    """The peak RSS of process ``pid`` while the block runs, and its RSS just before (KiB): VmHWM after
    resetting it (``echo 5 > /proc/<pid>/clear_refs``, Linux ≥ 4.0), and VmRSS sampled every 5 ms in
    case the reset is refused."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = 0
        self._stop = threading.Event()
        self._reset = False

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_kib(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self.before = self.peak = _rss_kib(self.pid)
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self._reset = True
        except OSError:
            pass
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._reset:
            self.peak = max(self.peak, _rss_kib(self.pid, "VmHWM"))


def base64_poll(server: Server, ref: str, size: int, count: int) -> tuple[float, float, int, int, int]:
    """(median seconds to receive, median with the JSON parse, body bytes, server RSS before the
    first timed poll and its peak during it, in KiB)."""
    body = {
        "prompt": "many",
        "images": [ref],
        "size": f"{size}*{size}",
        "max_images": count,
        "enable_base64_output": True,
    }
    with server.client(timeout=600) as c:
        pid = c.post(MODEL, json=body).json()["data"]["id"]
        while True:
            r = c.get(f"/api/v3/predictions/{pid}/result")
            data = r.json()["data"]
            if data["status"] != "processing" and data["status"] != "created":
                break
            time.sleep(0.5)
        assert data["status"] == "completed", data
        times, parsed = [], []
        time.sleep(0.5)  # the worker's last panel is gone
        with PeakRss(server.proc.pid) as rss:
            t0 = time.perf_counter()
            r = c.get(f"/api/v3/predictions/{pid}/result")
            times.append(time.perf_counter() - t0)
        assert len(r.json()["data"]["outputs"]) == count
        parsed.append(time.perf_counter() - t0)
        nbytes = len(r.content)
        del r
        for _ in range(2):
            t0 = time.perf_counter()
            r = c.get(f"/api/v3/predictions/{pid}/result")
            times.append(time.perf_counter() - t0)
            assert len(r.json()["data"]["outputs"]) == count
            parsed.append(time.perf_counter() - t0)
        return statistics.median(times), statistics.median(parsed), nbytes, rss.before, rss.peak


def file_downloads(server: Server, ref: str, size: int, count: int) -> tuple[float, int]:
    """Seconds to GET every output of a completed ``count``×``size``² set through its URL, and bytes."""
    body = {"prompt": "many", "images": [ref], "size": f"{size}*{size}", "max_images": count}
    with server.client(timeout=600) as c:
        pid = c.post(MODEL, json=body).json()["data"]["id"]
        while (data := c.get(f"/api/v3/predictions/{pid}/result").json()["data"])["status"] in (
            "created",
            "processing",
        ):
            time.sleep(0.5)
        assert data["status"] == "completed", data
        times, nbytes = [], 0
        for _ in range(3):
            t0 = time.perf_counter()
            nbytes = sum(len(c.get(url).content) for url in data["outputs"])
            times.append(time.perf_counter() - t0)
        return statistics.median(times), nbytes


def service_figures(data_dir: Path, per: int, quick: bool) -> None:
    """Figures 1-3 (and the end-to-end overhead), on a server with the instant ``bench-solid``."""
    server = Server(data_dir, "bench-solid")
    try:
        ref = upload(server)
        lat1 = submit_latencies(server, ref, 1, per)
        drain(server)
        lat16 = submit_latencies(server, ref, 16, max(10, per // 4))
        drain(server)
        rate = sustained(server, ref, 16, 3.0 if quick else 8.0)
        drain(server)
        svc, inproc, added = e2e_overhead(server, ref, 10 if quick else 30)
    finally:
        server.stop()
    print(f"cpu cores: {os.cpu_count()}  (shared with anything else running)")
    print(f"submit latency, 1 client : p50 {ms(statistics.median(lat1))}  p99 {ms(pct(lat1, 99))}  (n={len(lat1)})")
    print(f"submit latency, 16 clients: p50 {ms(statistics.median(lat16))}  p99 {ms(pct(lat16, 99))}  (n={len(lat16)})")
    print(f"sustained submits, 16 clients: {rate:.0f}/s")
    print(
        f"end-to-end, 2×256² sync job: service p50 {ms(svc)}, engine in-process p50 {ms(inproc)}, "
        f"added by the service {ms(added)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    ap.add_argument("--base64-only", action="store_true", help="only figures 4 and 5 (the large result)")
    args = ap.parse_args()
    per = 40 if args.quick else 150
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        if not args.base64_only:
            service_figures(tmp / "a", per, args.quick)
        photo = Server(tmp / "b", "bench-photo")
        try:
            ref = upload(photo)
            size, count = (1024, 15) if args.quick else (4096, 15)
            dt, parsed, nbytes, rss_before, rss_peak = base64_poll(photo, ref, size, count)
            files_s, files_bytes = file_downloads(photo, ref, size, count)
        finally:
            photo.stop()
        print(
            f"one base64 poll of a completed {count}×{size}² result: {dt:.2f} s to receive "
            f"({parsed:.2f} s with the client's JSON parse; {nbytes / 1e6:.1f} MB body); server peak RSS during "
            f"the poll {rss_peak / 1024:.0f} MiB, {(rss_peak - rss_before) / 1024:+.0f} MiB over the "
            f"{rss_before / 1024:.0f} MiB before it"
        )
        print(
            f"GET /files of the {count} outputs of a {count}×{size}² result: {files_s:.2f} s for "
            f"{files_bytes / 1e6:.1f} MB ({files_bytes / 1e6 / files_s:.0f} MB/s)"
        )


if __name__ == "__main__":
    main()
