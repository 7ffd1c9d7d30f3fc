"""What the cluster tests share: ``scripts/cluster`` driven through subprocess, the cluster's state
(``DIR/cluster.json``), HTTP clients per API process, its database, and jobs (submit, wait, rows).

The cluster is the real thing the guide documents: PostgreSQL, Redis, an S3 server and separate
``seqedit serve --workers 0`` / ``seqedit worker`` processes on loopback. Tests assert behaviour (rows,
outputs, deliveries, order), never durations; every wait is a hang guard with a generous timeout.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SCRIPT = ROOT / "scripts" / "cluster"
MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
UP_SECONDS = 300  # `scripts/cluster up` on a loaded 2-core machine (hang guard)
JOB_SECONDS = 180  # a batch of jobs to finish (hang guard)


def script(*args: str, timeout: float = UP_SECONDS, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/cluster`` with this interpreter (so the servers run the code under test)."""
    env = {**os.environ, "SEQEDIT_PYTHON": sys.executable}
    done = subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
    if check and done.returncode != 0:
        raise AssertionError(f"scripts/cluster {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def missing() -> str | None:
    """Why a cluster cannot start here (a program not installed), else None."""
    done = script("check", check=False, timeout=60)
    return None if done.returncode == 0 else done.stdout.strip()


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state: dict[str, Any] = {}
        self.reload()
        self.db = sa.create_engine(self.env["SEQEDIT_DB_URL"], pool_pre_ping=True)

    def reload(self) -> None:
        self.state = json.loads((self.root / "cluster.json").read_text())

    @property
    def env(self) -> dict[str, str]:
        return self.state["env"]

    @property
    def key(self) -> str:
        return self.state["api_key"]

    @property
    def options(self) -> dict[str, Any]:
        return self.state["options"]

    def component(self, name: str) -> dict[str, Any]:
        return self.state["components"][name]

    @property
    def apis(self) -> list[str]:
        return [c["url"] for n, c in sorted(self.state["components"].items()) if c["kind"] == "api"]

    def http(self, url: str, key: str | None = None, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=timeout)

    def run(self, command: str, *names: str) -> None:
        """``scripts/cluster <command> DIR names…`` (kill, stop, start, restart), then the state again."""
        script(command, str(self.root), *names)
        self.reload()

    def seqedit(self, *args: str) -> str:
        """A ``seqedit`` command against the cluster's database (``DIR/env``'s settings)."""
        env = {**os.environ, **self.env, "SEQEDIT_DATA_DIR": str(self.root / "setup")}
        done = subprocess.run(
            [sys.executable, "-m", "seqedit", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"seqedit {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        return done.stdout

    def rows(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(ids)
        with self.db.connect() as c:
            found = c.execute(sa.text("SELECT * FROM predictions WHERE id = ANY(:ids)"), {"ids": ids}).mappings()
            return {r["id"]: dict(r) for r in found}

    def usage_count(self, prediction_id: str) -> int:
        with self.db.connect() as c:
            q = sa.text("SELECT count(*) FROM usage WHERE prediction_id = :p")
            return int(c.execute(q, {"p": prediction_id}).scalar_one())

    def outbox(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        with self.db.connect() as c:
            q = sa.text("SELECT * FROM webhook_outbox WHERE prediction_id = ANY(:ids)")
            return [dict(r) for r in c.execute(q, {"ids": list(ids)}).mappings()]

    def deliveries(self) -> list[dict[str, Any]]:
        """What the cluster's webhook receiver got, in order (``up --webhooks``)."""
        path = self.root / "webhooks.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        self.db.dispose()


@contextmanager
def running(root: Path, *args: str) -> Iterator[Cluster]:
    """``scripts/cluster up root args…``; always ``down`` afterwards, also when ``up`` or a test fails."""
    reason = missing()
    if reason:
        pytest.skip(f"no local cluster here: {reason}")
    cluster = None
    try:
        script("up", str(root), *args)
        cluster = Cluster(root)
        yield cluster
    finally:
        if cluster is not None:
            cluster.close()
        script("down", str(root), "--grace", "10", check=False, timeout=180)


def plugin_env() -> list[str]:
    """``--env`` arguments that make every process load the fixture engines (``test-slow``, …)."""
    path = os.pathsep.join(p for p in [str(TESTS), os.environ.get("PYTHONPATH", "")] if p)
    return ["--env", "SEQEDIT_PLUGINS=fixtures.engines", "--env", f"PYTHONPATH={path}"]


# ---------------------------------------------------------------------------- jobs


def reference(side: int = 96) -> str:
    """``examples/astronaut.jpg`` downscaled to ``side``², as an inline data URI."""
    with Image.open(ROOT / "examples" / "astronaut.jpg") as im:
        small = im.convert("RGB").resize((side, side))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def submit(http: httpx.Client, body: dict[str, Any], webhook: str | None = None) -> str:
    url = MODEL + (f"?webhook={webhook}" if webhook else "")
    r = http.post(url, json=body)
    assert r.status_code == 200, f"submit answered {r.status_code}: {r.text[:500]}"
    return r.json()["data"]["id"]


def poll(http: httpx.Client, prediction_id: str) -> dict[str, Any]:
    r = http.get(f"/api/v3/predictions/{prediction_id}/result")
    assert r.status_code == 200, f"poll answered {r.status_code}: {r.text[:500]}"
    return r.json()["data"]


def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Wait until ``predicate()`` is truthy and return it (a hang guard, not a timing assert)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.2)


def finished(cluster: Cluster, ids: Iterable[str], timeout: float = JOB_SECONDS) -> dict[str, dict[str, Any]]:
    """The rows of ``ids`` once every one is terminal."""
    ids = list(ids)

    def done() -> dict[str, dict[str, Any]] | None:
        rows = cluster.rows(ids)
        terminal = {i: r for i, r in rows.items() if r["status"] in ("completed", "failed", "cancelled")}
        return rows if len(terminal) == len(ids) else None

    def pending() -> str:
        rows = cluster.rows(ids)
        return ", ".join(f"{i[:8]} {r['status']} attempt {r['attempt']}" for i, r in rows.items())

    try:
        return until(done, timeout, f"{len(ids)} jobs terminal")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; now: {pending()}") from None


def decoded(content: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(content))
    im.load()
    return im
