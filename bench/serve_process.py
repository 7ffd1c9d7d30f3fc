"""A real ``seqedit serve`` in a subprocess for the benchmarks: a free port, its own data dir, the
bench engines (``bench_engines``) loaded as a plugin, the first key read from its log."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SEQEDIT = Path(sys.executable).with_name("seqedit")
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``seqedit serve --engine ENGINE --data-dir DATA_DIR ARGS…`` with ``ENV`` added to the environment."""

    def __init__(self, data_dir: Path, engine: str, *args: str, **env: str) -> None:
        self.port = free_port()
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
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            m = re.search(r"store it now\): (sk_\S+)", self.log.read_text())
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

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
