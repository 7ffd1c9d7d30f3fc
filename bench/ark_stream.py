"""Ark stream benchmark: time from a panel's commit (its row write) to its SSE event at the client.

    .venv/bin/python bench/ark_stream.py [--jobs 20] [--panels 5]

Runs the app on uvicorn (loopback, a thread of this process) and streams ``--jobs`` Ark requests of
``--panels`` panels each (the ``bench-paced`` engine below: 64×64 panels, 0.1 s apart), one at a time.
Every ``Store.add_output`` that returns is timestamped (``time.perf_counter``, the same clock as the
client's), and each ``image_generation.partial_succeeded`` event is timestamped when its line is read.
Two layouts:

* ``same process`` — the consumers run in the API's process (``seqedit serve``): the runner's
  per-panel ``Notifier`` wake-up reaches the stream at once;
* ``separate worker`` — the consumers belong to a second ``Service`` on the same data dir (as
  ``seqedit worker`` is), whose notifications never reach the API's ``Notifier``: the stream sees a
  panel on its next read of the row (every ``api.ark.STREAM_POLL`` s).

Target: p99 ≤ 100 ms. Prints p50, p99 and max per layout. Everything shares the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.images import data_uri, png  # noqa: E402
from seqedit.api import ark  # noqa: E402
from seqedit.api.app import create_app, make_service  # noqa: E402
from seqedit.config import Settings  # noqa: E402
from seqedit.engines import register  # noqa: E402
from seqedit.service import API_ONLY, SERVE, WORKER  # noqa: E402


class PacedEngine:
    name = "bench-paced"

    def analyse(self, plan):
        return []

    def check(self, plan, refs=None):
        return []

    def generate(self, plan, refs, progress):
        for k in range(plan.count):
            time.sleep(0.1)
            yield Image.new("RGB", (plan.size.width, plan.size.height), (k * 40 % 256, 90, 150))


register("bench-paced", PacedEngine)
COMMITS: dict[tuple[str, int], float] = {}


def timestamp_commits(store) -> None:
    real = store.add_output

    def add_output(prediction_id, attempt, key, **kw):
        ok = real(prediction_id, attempt, key, **kw)
        index = int(key.rsplit("/", 1)[1].split(".")[0])
        COMMITS[(prediction_id, index)] = time.perf_counter()
        return ok

    store.add_output = add_output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(layout: str, jobs: int, panels: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), engine="bench-paced", workers=1, public_url="")
        api = make_service(settings, roles=SERVE if layout == "same process" else API_ONLY)
        worker = None if layout == "same process" else make_service(settings, roles=WORKER)
        token, _ = api.store.create_key("bench")
        timestamp_commits((worker or api).store)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(api), port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        if worker is not None:
            worker.start()
        try:
            while not server.started:
                time.sleep(0.02)
            return _stream(f"http://127.0.0.1:{port}", token, jobs, panels)
        finally:
            if worker is not None:
                worker.stop()
            server.should_exit = True
            thread.join(30)


def _stream(url: str, token: str, jobs: int, panels: int) -> list[float]:
    body = {
        "model": "seedream-4-0-250828",
        "prompt": f"a series of {panels} images",
        "image": data_uri(png()),
        "size": "64x64",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": panels},
        "watermark": False,
        "stream": True,
    }
    lags: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=60) as client:
        for _ in range(jobs):
            with client.stream("POST", f"{url}/api/v3/images/generations", json=body, headers=headers) as r:
                r.raise_for_status()
                pid = r.headers["x-seqedit-prediction-id"]
                for line in r.iter_lines():
                    if not line.startswith("data: {"):
                        continue
                    seen = time.perf_counter()
                    event = json.loads(line[6:])
                    if event["type"] == "image_generation.partial_succeeded":
                        lags.append(seen - COMMITS[(pid, event["image_index"])])
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--panels", type=int, default=5)
    args = parser.parse_args()
    print(f"commit → SSE event, {args.jobs} streams × {args.panels} panels, poll {ark.STREAM_POLL * 1000:g} ms")
    for layout in ("same process", "separate worker"):
        ms = sorted(x * 1000 for x in run(layout, args.jobs, args.panels))
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(
            f"  {layout:16s} n={len(ms):4d}  p50 {statistics.median(ms):6.1f} ms  p99 {p99:6.1f} ms  "
            f"max {ms[-1]:6.1f} ms  (target p99 ≤ 100 ms)"
        )


if __name__ == "__main__":
    main()
