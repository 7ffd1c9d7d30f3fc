"""``service``: each process runs exactly the roles it was given, all through one ``Service.start``;
``seqedit serve``, ``serve --workers 0`` and ``seqedit worker`` are role sets of it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

import fixtures.engines  # noqa: F401  (registers the test engines)
from fixtures.server import SEQEDIT, TESTS, Server
from seqedit.api.envelope import webhook_body
from seqedit.config import Settings
from seqedit.service import API_ONLY, ROLES, SERVE, WORKER, Service

BACKGROUND = {"reaper": "seqedit-reaper", "webhooks": "seqedit-webhooks", "sweep": "seqedit-retention"}


def threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


@pytest.mark.parametrize("roles", [SERVE, API_ONLY, WORKER, frozenset({"api"})], ids=["serve", "api", "worker", "bare"])
def test_start_runs_exactly_the_roles_given(tmp_path, roles):
    service = Service(
        Settings(data_dir=tmp_path, engine="test-fast", queue_url="memory://"), roles=roles, webhook_body=webhook_body
    )
    before = threads()
    service.start()
    try:
        started = threads() - before
        for role, thread in BACKGROUND.items():
            assert (thread in started) == (role in roles), role
        assert service.queue.running == ("consumers" in roles)
        assert service.roles == roles and service.owns_data == ({"api", "consumers"} <= roles)
    finally:
        service.stop()


def test_roles_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown role"):
        Service(Settings(data_dir=tmp_path), roles={"api", "gpu"})
    with pytest.raises(ValueError, match="webhook_body"):
        Service(Settings(data_dir=tmp_path), roles={"webhooks"})
    assert set(SERVE) == set(ROLES) and API_ONLY == SERVE - {"consumers"}


def _started_line(log: str) -> str:
    return next(line for line in log.splitlines() if "service starting: roles" in line)


@pytest.mark.slow
def test_the_commands_are_role_sets_of_one_start(tmp_path):
    """A real `serve`, `serve --workers 0` and `worker`: each logs the roles its Service.start ran."""
    serve = Server(tmp_path / "a").start()
    api = Server(tmp_path / "b", workers=0).start()
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [str(SEQEDIT), "worker", "--engine", "test-fast", "--data-dir", str(tmp_path / "b")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "SEQEDIT_PLUGINS": "fixtures.engines",
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        },
    )
    try:
        deadline = time.monotonic() + 30
        while "service starting" not in (tmp_path / "worker.log").read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.05)
        assert _started_line(serve.log()).endswith("roles api, consumers, reaper, webhooks, sweep")
        assert _started_line(api.log()).endswith("roles api, reaper, webhooks, sweep")
        assert _started_line((tmp_path / "worker.log").read_text()).endswith("roles consumers, reaper, webhooks, sweep")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        log.close()
        serve.kill(signal.SIGTERM)
        api.kill(signal.SIGTERM)


def test_a_job_handed_back_after_a_transient_fault_is_re_enqueued_when_its_backoff_ends(tmp_path):
    """Not at the reaper's next pass (a minute away here): the service re-enqueues it itself."""
    import errno

    from fixtures.images import data_uri, png
    from seqedit.jobs.submit import Submission
    from seqedit.request import EditRequest

    settings = Settings(data_dir=tmp_path, engine="test-fast", retry_delay=0.3, reaper_interval=60, lease_seconds=5)
    service = Service(settings, roles=WORKER | {"api"}, webhook_body=webhook_body)
    real_put, failures = service.storage.put, []

    def put(key, data):
        if key.startswith("outputs/") and not failures:
            failures.append(key)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_put(key, data)

    service.storage.put = put  # type: ignore[method-assign]
    service.start()
    try:
        key = service.store.create_key("k")[1]
        req = EditRequest.create(prompt="p", images=[data_uri(png())], max_images=1, size="64*64")
        row, _ = service.submissions.submit(key, Submission(model="m", request=req))
        deadline = time.monotonic() + 10
        while service.store.get(row["id"])["status"] != "completed":
            assert time.monotonic() < deadline, service.store.get(row["id"])
            time.sleep(0.05)
        assert failures and service.store.get(row["id"])["attempt"] == 2
    finally:
        service.stop()
