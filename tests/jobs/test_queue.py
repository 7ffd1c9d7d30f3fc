"""``jobs.queue``: the queue port's contract, run by every backend ``open_queue`` builds here (the
SQLite file, memory, and ``PriorityRedisHuey`` on a real ``redis-server``), then a real ``SqliteHuey``
with consumer threads running predictions through the runner, and a Redis consumer that outlives a
Redis restart."""

from __future__ import annotations

import logging
import signal
import threading
import time

import pytest

from fixtures.images import data_uri, png
from fixtures.redis import redis_fixture  # noqa: F401  (the `redis` fixture)
from seqedit.jobs.queue import Queue, open_queue


@pytest.fixture(params=["", "sqlite", "memory://", "redis"])
def queue_url(request, tmp_path) -> str:
    """The default (``<data_dir>/queue.db``), an explicit ``sqlite:///`` file, memory, and a real
    ``redis-server`` (skipped when it is not installed)."""
    if request.param == "redis":
        return request.getfixturevalue("redis").url
    return f"sqlite:///{tmp_path / 'q' / 'other.db'}" if request.param == "sqlite" else request.param


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.threads: set[str] = set()
        self.warmed = 0
        self.lock = threading.Lock()

    def __call__(self, prediction_id: str) -> None:
        if prediction_id == "boom":
            raise RuntimeError("a handler bug")
        with self.lock:
            self.seen.append(prediction_id)
            self.threads.add(threading.current_thread().name)

    def warm(self) -> None:
        with self.lock:
            self.warmed += 1


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


# ---------------------------------------------------------------------------------------- the contract


def test_messages_wait_until_consumers_start_then_all_run(queue_url, tmp_path):
    rec = Recorder()
    q: Queue = open_queue(queue_url, tmp_path, rec, on_worker_start=rec.warm)
    assert not q.running
    for i in range(5):
        q.enqueue(f"p{i}")
    assert q.pending() == 5 and rec.seen == []  # nothing runs without consumers
    q.start(2)
    try:
        assert q.running
        assert wait_for(lambda: len(rec.seen) == 5)
        assert sorted(rec.seen) == [f"p{i}" for i in range(5)] and q.pending() == 0
        assert wait_for(lambda: rec.warmed == 2)  # the start-up hook ran once per consumer thread
    finally:
        q.stop()
    assert not q.running


def test_higher_priority_first_and_fifo_among_equals(queue_url, tmp_path):
    rec = Recorder()
    q = open_queue(queue_url, tmp_path, rec)
    for pid, priority in (("a1", 0), ("a2", -1), ("a3", -2), ("b1", 0), ("b2", -1), ("c1", 0.5)):
        q.enqueue(pid, priority)
    q.start(1)
    try:
        assert wait_for(lambda: len(rec.seen) == 6)
        assert rec.seen == ["c1", "a1", "b1", "a2", "b2", "a3"]
    finally:
        q.stop()


def test_a_handler_that_raises_does_not_stop_the_consumer(queue_url, tmp_path):
    rec = Recorder()
    q = open_queue(queue_url, tmp_path, rec)
    q.start(1)
    try:
        q.enqueue("boom")
        q.enqueue("after")
        assert wait_for(lambda: rec.seen == ["after"])
    finally:
        q.stop()


class RecordingEvent(threading.Event):
    """The queue's wake event, noting when a consumer has gone into a long poll sleep on it."""

    def __init__(self) -> None:
        super().__init__()
        self.long_sleeps = 0

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and timeout >= 10:
            self.long_sleeps += 1
        return super().wait(timeout)


def test_a_local_enqueue_wakes_a_consumer_in_a_long_poll_sleep_and_signals_are_left_alone(queue_url, tmp_path):
    handler_before = signal.getsignal(signal.SIGTERM)
    rec = Recorder()
    q = open_queue(queue_url, tmp_path, rec)
    wake = RecordingEvent()
    q._wake = q.huey._seqedit_wake = wake  # type: ignore[attr-defined]
    q.start(1, poll_max_delay=30.0)
    try:
        assert signal.getsignal(signal.SIGTERM) is handler_before  # Huey left our signals alone
        if q.huey.storage.blocking:  # Redis: the pop itself blocks until a message comes, from any process
            assert wait_for(lambda: wake.long_sleeps == 0)
        else:
            for worker, _thread in q._consumer.worker_threads:  # as if it had backed off for a long time
                worker.delay = 30.0
            assert wait_for(lambda: wake.long_sleeps > 0)  # the consumer now sleeps up to 30 s between polls
        t0 = time.monotonic()
        q.enqueue("now")
        assert wait_for(lambda: rec.seen == ["now"], timeout=20)
        assert time.monotonic() - t0 < 10.0  # woken by the enqueue, not by its 30 s poll
    finally:
        q.stop()


def test_a_redis_consumer_outlives_a_redis_restart_and_the_restart_loses_the_queue(redis, tmp_path, caplog):
    """Redis goes away under a running consumer and comes back empty: the consumer keeps retrying (one
    warning, no crash), reconnects, and runs what is enqueued after; what was queued before is gone
    (no persistence), which ``pending()`` shows, and an enqueue while Redis is down does not raise."""
    caplog.set_level(logging.INFO, logger="seqedit.queue")
    rec = Recorder()
    q = open_queue(redis.url, tmp_path, rec)
    q.start(1)
    try:
        q.enqueue("before")
        assert wait_for(lambda: rec.seen == ["before"])
        redis.stop()
        q.enqueue("while-down")  # logged, not raised: the row is the truth
        assert q.pending() == -1
        assert wait_for(lambda: "the queue cannot be read" in caplog.text)
        assert q.running
        redis.start()  # empty: "while-down" never reached it
        assert wait_for(lambda: q.pending() == 0)
        q.enqueue("after")
        assert wait_for(lambda: rec.seen == ["before", "after"], timeout=30)
        assert "the queue answers again" in caplog.text
        assert caplog.text.count("the queue cannot be read") == 1  # one line per outage, not one per poll
        assert "could not enqueue prediction while-down" in caplog.text
    finally:
        q.stop()


def test_redis_messages_are_lost_on_restart_but_not_while_no_consumer_runs(redis, tmp_path):
    q = open_queue(redis.url, tmp_path, Recorder())
    for i in range(3):
        q.enqueue(f"p{i}")
    assert q.pending() == 3
    redis.restart()
    assert q.pending() == 0  # what the service's lost-queue detection compares with the queued rows


def test_unknown_queue_url_is_refused(tmp_path):
    with pytest.raises(ValueError, match="queue_url"):
        open_queue("amqp://x", tmp_path, Recorder())


# ---------------------------------------------------------------------------------------- with the runner


def test_embedded_consumer_runs_enqueued_predictions(tmp_path, store, runner):
    q = open_queue("", tmp_path, runner.run)
    q.start(workers=2)
    try:
        ids = []
        for _ in range(4):
            row, _ = store.create(
                key_id="k",
                model="m",
                input={},
                total=2,
                output_format="jpeg",
                cost="0",
                retention=60,
                request={"prompt": "p", "images": [data_uri(png())], "size": "64*64", "max_images": 2},
            )
            ids.append(row["id"])
            q.enqueue(row["id"])
        q.enqueue(ids[0])  # a duplicate delivery is harmless: the claim refuses it
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(store.get(i)["status"] != "completed" for i in ids):
            time.sleep(0.02)
        assert [store.get(i)["status"] for i in ids] == ["completed"] * 4
        assert all(store.get(i)["attempt"] == 1 for i in ids)
    finally:
        q.stop()
