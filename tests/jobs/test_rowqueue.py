"""``jobs.rowqueue``: the queue in the prediction rows (the default), on SQLite and PostgreSQL — each
row taken once in queue order, a local enqueue wakes a sleeping consumer, a handler's bug does not
stop it, the database going away does not kill it, and nothing is taken after ``stop``."""

from __future__ import annotations

import threading
import time

from seqedit.jobs.rowqueue import RowQueue
from seqedit.jobs.store import Claim

REQ = {"prompt": "p", "images": ["x"], "size": "64*64", "max_images": 1, "seed": 1, "output_format": "jpeg"}


def submit(store, priority: float = 0.0, now: float | None = None) -> str:
    row, _ = store.create(
        key_id="k",
        model="m",
        input={},
        request=REQ,
        total=1,
        output_format="jpeg",
        cost="0",
        retention=60,
        prioritize=lambda _n, _lowest: priority,
        now=now,
    )
    return row["id"]


class Handler:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.seen: list[str] = []
        self.threads: set[str] = set()
        self.fail = fail or set()
        self.lock = threading.Lock()

    def __call__(self, claim: Claim) -> None:
        pid = claim.row["id"]
        with self.lock:
            self.seen.append(pid)
            self.threads.add(threading.current_thread().name)
        if pid in self.fail:
            raise RuntimeError("a handler bug")


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def make(store, handler, **kw) -> RowQueue:
    return RowQueue(store, lambda: store.claim_next(lease=30, max_attempts=3), handler, **kw)


def test_rows_wait_until_consumers_start_then_each_runs_once_in_queue_order(store):
    ids = [submit(store, priority=p, now=100 + i) for i, p in enumerate([0.0, 1.0, 0.0, -1.0])]
    handler = Handler()
    warmed = []
    q = make(store, handler, on_worker_start=lambda: warmed.append(1))
    assert q.pending() == 4 and not q.running
    q.start(1)
    try:
        assert wait_for(lambda: len(handler.seen) == 4)
        assert handler.seen == [ids[1], ids[0], ids[2], ids[3]]  # priority, then age
        assert q.running and warmed == [1] and q.pending() == 0
    finally:
        q.stop()


def test_several_consumers_take_each_row_once(store):
    handler = Handler()
    q = make(store, handler)
    q.start(4)
    try:
        ids = {submit(store) for _ in range(40)}
        for pid in ids:
            q.enqueue(pid)
        assert wait_for(lambda: len(handler.seen) == 40)
        time.sleep(0.1)
        assert sorted(handler.seen) == sorted(ids)  # none twice
        assert len(handler.threads) >= 1 and all(t.startswith("seqedit-consumer-") for t in handler.threads)
    finally:
        q.stop()


def test_an_enqueue_wakes_a_consumer_in_its_longest_sleep(store):
    handler = Handler()
    q = make(store, handler, initial_delay=30.0, poll_max_delay=30.0)  # it would sleep 30 s unwoken
    q.start(1)
    try:
        time.sleep(0.2)  # the consumer found nothing and sleeps
        pid = submit(store)
        q.enqueue(pid)
        assert wait_for(lambda: handler.seen == [pid], timeout=5.0)
    finally:
        q.stop()


def test_a_forwarded_wake_reaches_on_enqueue(store):
    forwarded = []
    q = make(store, Handler(), on_enqueue=lambda: forwarded.append(1))
    q.enqueue("any")
    assert forwarded == [1]  # the service sends it on to its child consumer process


def test_a_handler_bug_does_not_stop_the_consumer(store):
    bad = submit(store, now=100)
    good = submit(store, now=101)
    handler = Handler(fail={bad})
    q = make(store, handler)
    q.start(1)
    try:
        assert wait_for(lambda: handler.seen == [bad, good])
    finally:
        q.stop()


def test_a_database_outage_does_not_kill_the_consumer(store, caplog):
    handler = Handler()
    broken = threading.Event()
    broken.set()

    def take():
        if broken.is_set():
            import sqlalchemy.exc

            raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))
        return store.claim_next(lease=30, max_attempts=3)

    q = RowQueue(store, take, handler, poll_max_delay=0.05)
    q.start(1)
    try:
        pid = submit(store)
        time.sleep(0.3)
        assert handler.seen == []
        broken.clear()
        assert wait_for(lambda: handler.seen == [pid])
    finally:
        q.stop()
    warnings = [r for r in caplog.records if r.name == "seqedit.queue" and r.levelname == "WARNING"]
    assert len(warnings) == 1  # one line per outage, not one per poll


def test_nothing_is_taken_after_stop(store):
    handler = Handler()
    q = make(store, handler)
    q.start(2)
    q.stop()
    assert not q.running
    time.sleep(0.3)  # a consumer that was sleeping wakes, sees the stop, and ends
    pid = submit(store)
    q.enqueue(pid)
    time.sleep(0.3)
    assert handler.seen == [] and store.get(pid)["status"] == "created"


def test_pending_counts_the_queued_rows(store):
    q = make(store, Handler())
    assert q.pending() == 0
    for _ in range(3):
        submit(store)
    assert q.pending() == 3
