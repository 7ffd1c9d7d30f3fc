"""The service on a real Redis queue: a restart of Redis (no persistence) loses every queued message,
and the reaper pass notices that the queue holds fewer messages than there are queued rows and
re-enqueues them from the rows, with their priority — no job waits out ``created_stale`` (300 s)."""

from __future__ import annotations

import logging
import re
import time

import pytest

import fixtures.engines  # noqa: F401  (registers the test engines)
from fixtures.images import data_uri, png
from fixtures.redis import redis_fixture  # noqa: F401  (the `redis` fixture)
from seqedit.api.envelope import webhook_body
from seqedit.config import Settings
from seqedit.jobs.submit import Submission
from seqedit.request import EditRequest
from seqedit.service import WORKER, Service


def until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.parametrize("rows", ["sqlite", "postgresql"])
def test_jobs_queued_before_a_redis_restart_all_complete(redis, tmp_path, rows, request, caplog):
    caplog.set_level(logging.INFO, logger="seqedit")
    db_url = ""
    if rows == "postgresql":
        server = request.getfixturevalue("pg_server")
        if server is None:
            pytest.skip("PostgreSQL binaries not available")
        from fixtures.postgres import fresh_database

        db_url = fresh_database(server)
    settings = Settings(
        data_dir=tmp_path,
        engine="test-fast",
        db_url=db_url,
        queue_url=redis.url,
        reaper_interval=0.3,
        lost_queue_seconds=0.2,
        heartbeat_seconds=0.5,
    )
    api = Service(settings, roles={"api"}, webhook_body=webhook_body)  # no consumer anywhere yet
    key = api.store.create_key("k")[1]
    req = EditRequest.create(prompt="p", images=[data_uri(png())], max_images=2, size="64*64")
    ids = [api.submissions.submit(key, Submission(model="m", request=req))[0]["id"] for _ in range(8)]
    assert api.queue.pending() == 8
    redis.restart()  # empty: every message is gone, the rows are not
    assert api.queue.pending() == 0
    worker = Service(settings, roles=WORKER, webhook_body=webhook_body)
    worker.start()
    try:
        until(lambda: all(api.store.get(i)["status"] == "completed" for i in ids))
        assert all(api.store.get(i)["attempt"] == 1 for i in ids)
        # a row younger than lost_queue_seconds at the first pass is found by a later one
        found = re.findall(r"the queue holds \d+ message\(s\) for \d+ queued job\(s\): re-enqueued (\d+)", caplog.text)
        assert found and sum(map(int, found)) >= 8, caplog.text
    finally:
        worker.stop()
        api.stop()


def test_a_re_enqueued_row_keeps_its_priority(redis, tmp_path):
    """After the restart, the rows go back in queue order: a second key's job still comes before the
    rest of a first key's burst."""
    settings = Settings(data_dir=tmp_path, engine="test-fast", queue_url=redis.url, lost_queue_seconds=0.01)
    api = Service(settings, roles={"api"}, webhook_body=webhook_body)
    a, b = api.store.create_key("a")[1], api.store.create_key("b")[1]
    req = EditRequest.create(prompt="p", images=[data_uri(png())], max_images=1, size="64*64")
    burst = [api.submissions.submit(a, Submission(model="m", request=req))[0]["id"] for _ in range(4)]
    other = api.submissions.submit(b, Submission(model="m", request=req))[0]["id"]
    redis.restart()
    time.sleep(0.05)  # older than lost_queue_seconds
    assert api.recover_lost_queue() == [burst[0], other, *burst[1:]]
    assert api.recover_lost_queue() == []  # the queue holds a message per queued row again
    popped = []
    while (task := api.queue.huey.dequeue()) is not None:  # type: ignore[attr-defined]
        popped.append(task.args[0])
    assert popped == [burst[0], other, *burst[1:]]
    api.stop()
