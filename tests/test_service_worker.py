"""``seqedit worker`` as an operator runs it: a real subprocess on a shared data dir (SQLite rows and
queue), the slow fixture engine. SIGTERM drains: the running job finishes within ``drain_seconds``
and the process exits 0; a job that cannot finish in time is handed back (not a lost attempt) and
another worker completes it. ``--concurrency`` is the flag (``--workers`` its hidden old name)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import fixtures.engines  # noqa: F401  (registers the test engines)
from fixtures.images import data_uri, png
from fixtures.server import SEQEDIT, TESTS
from seqedit.api.app import make_service
from seqedit.config import Settings
from seqedit.jobs.submit import Submission
from seqedit.request import EditRequest

PANEL = 0.3  # seconds per panel of the test-slow engine


def until(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not met in time"
        time.sleep(0.05)


class Worker:
    def __init__(self, data_dir: Path, *args: str, **env: str) -> None:
        self.path = data_dir / f"worker-{time.monotonic_ns()}.log"
        self._log = self.path.open("wb")
        self.proc = subprocess.Popen(
            [str(SEQEDIT), "worker", "--engine", "test-slow", "--data-dir", str(data_dir), *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "SEQEDIT_PLUGINS": "fixtures.engines",
                "SEQEDIT_TEST_PANEL_SECONDS": str(PANEL),
                "SEQEDIT_LEASE_SECONDS": "5",
                "SEQEDIT_REAPER_INTERVAL": "0.5",
                "SEQEDIT_HEARTBEAT_SECONDS": "0.5",
                "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                **env,
            },
        )

    def log(self) -> str:
        return self.path.read_text(errors="replace")

    def wait_started(self) -> None:
        until(lambda: "seqedit worker:" in self.log() or self.proc.poll() is not None, 60, "worker start")
        assert self.proc.poll() is None, self.log()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


@pytest.fixture
def api(tmp_path):
    """The submitting side, in this process: rows and queue messages in ``tmp_path`` (no consumers)."""
    service = make_service(Settings(data_dir=tmp_path, engine="test-slow"), roles={"api"})
    key = service.store.create_key("k")[1]

    def submit(panels: int) -> str:
        req = EditRequest.create(prompt="p", images=[data_uri(png())], max_images=panels, size="64*64")
        return service.submissions.submit(key, Submission(model="m", request=req))[0]["id"]

    service.submit = submit  # type: ignore[attr-defined]
    yield service
    service.stop()


def test_sigterm_lets_the_running_job_finish_then_exits_0(tmp_path, api):
    worker = Worker(tmp_path)
    try:
        worker.wait_started()
        pid = api.submit(4)  # 1.2 s of panels
        until(lambda: api.store.get(pid)["progress_fraction"] > 0, what="the job running")
        assert worker.stop() == 0, worker.log()
        row = api.store.get(pid)
        assert row["status"] == "completed" and len(row["outputs"]) == 4 and row["attempt"] == 1
        log = worker.log()
        assert "draining: 1 running job(s) may finish within 30 s" in log
        assert "service stopped: 0 job(s) handed back (released on stop), 1 finished while draining" in log
        assert api.store.live_workers(60) == []  # marked stopped, not left to age out
    finally:
        worker.stop(signal.SIGKILL)


def test_a_job_longer_than_the_drain_is_handed_back_and_finished_by_another_worker(tmp_path, api):
    worker = Worker(tmp_path, SEQEDIT_DRAIN_SECONDS="0.3")
    second = None
    try:
        worker.wait_started()
        pid = api.submit(15)  # 4.5 s of panels: longer than the drain
        until(lambda: api.store.get(pid)["progress_fraction"] > 0, what="the job running")
        assert worker.stop() == 0, worker.log()
        row = api.store.get(pid)
        assert row["status"] == "processing" and row["releases"] == 1 and row["lease_until"] == 0.0, row
        assert "service stopped: 1 job(s) handed back (released on stop), 0 finished while draining" in worker.log()
        second = Worker(tmp_path)
        until(lambda: api.store.get(pid)["status"] == "completed", what="the job completed by the second worker")
        row = api.store.get(pid)
        assert row["attempt"] == 2 and row["releases"] == 1 and len(row["outputs"]) == 15
        assert all("/2/" in key for key in row["outputs"])
    finally:
        worker.stop(signal.SIGKILL)
        if second is not None:
            assert second.stop() == 0, second.log()


def test_concurrency_is_the_flag_and_workers_its_old_name(tmp_path, api):
    worker = Worker(tmp_path, "--concurrency", "2")
    try:
        worker.wait_started()
        assert "seqedit worker: 2 consumer(s), engine test-slow" in worker.log()
        until(lambda: any(w["concurrency"] == 2 for w in api.store.live_workers(60)), what="the heartbeat row")
    finally:
        assert worker.stop() == 0
    old = Worker(tmp_path, "--workers", "3")
    try:
        old.wait_started()
        assert "seqedit worker: 3 consumer(s)" in old.log()
    finally:
        assert old.stop() == 0
    for args, message in (
        (("--concurrency", "0"), "--concurrency must be at least 1, got 0"),
        (("--concurrency", "2", "--workers", "3"), "--concurrency and --workers (its old name) disagree"),
    ):
        bad = Worker(tmp_path, *args)
        assert bad.proc.wait(60) == 2
        bad._log.close()
        assert message in bad.log()
