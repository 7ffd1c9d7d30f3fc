"""``jobs.states.Rows``, the poll cache, on a real SQLite store: what it keeps, when it asks the store,
that a read racing a change never puts the older row back, its bound, and ``Notifier.subscribe``."""

from __future__ import annotations

import asyncio
import threading

import pytest

from seqedit.jobs.notify import Notifier
from seqedit.jobs.states import Rows
from seqedit.jobs.store import Status, Store


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


def create(store: Store, key_id: str = "k", retention: float = 3600.0) -> str:
    row, _ = store.create(
        key_id=key_id,
        model="m",
        input={"prompt": "p"},
        request={"prompt": "p", "images": []},
        total=1,
        output_format="jpeg",
        cost="0.027",
        retention=retention,
    )
    return row["id"]


def cancelled(store: Store, key_id: str = "k") -> str:
    pid = create(store, key_id)
    store.cancel(pid)
    return pid


class Counting:
    """Counts ``store.get`` calls (the only read ``Rows`` makes)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gets = 0
        self._get = store.get

        def get(*args, **kw):
            self.gets += 1
            return self._get(*args, **kw)

        store.get = get  # type: ignore[method-assign]


def wired(store: Store, trust: bool, **kw) -> Rows:
    """A cache fed by the store's change feed, as ``Service`` wires it."""
    notifier = Notifier()
    store.watch(notifier.notify)
    rows = Rows(store, trust_live=trust, **kw)
    notifier.subscribe(rows.forget)
    return rows


def test_terminal_rows_are_cached_in_every_mode(store):
    pid = cancelled(store)
    count = Counting(store)
    rows = Rows(store, trust_live=False)
    first = rows.get(pid)
    assert first is not None and first.terminal and first.row["status"] == "cancelled"
    for _ in range(20):
        assert rows.get(pid) is first
    assert count.gets == 1 and rows.hits == 20 and rows.reads == 1


def test_live_rows_are_read_every_time_unless_trusted(store):
    pid = create(store)
    count = Counting(store)
    rows = Rows(store, trust_live=False)
    for _ in range(5):
        entry = rows.get(pid)
        assert entry is not None and entry.row["status"] == "created" and not entry.terminal
    assert count.gets == 5 and rows.peek(pid) is None and len(rows) == 0


def test_a_trusted_live_row_is_kept_until_it_is_notified(store):
    pid = create(store)
    rows = wired(store, trust=True)
    count = Counting(store)
    assert rows.get(pid).row["status"] == "created"
    assert rows.get(pid).row["status"] == "created"
    assert count.gets == 1
    claim = store.claim(pid, lease=30, max_attempts=3)  # the change feed drops the entry
    assert claim is not None
    assert rows.peek(pid) is None
    assert rows.get(pid).row["status"] == "processing" and count.gets == 2
    assert store.renew(pid, claim.attempt, lease=30) is False  # a lease renewal alone shows nothing
    assert rows.peek(pid) is not None
    assert store.renew(pid, claim.attempt, lease=30, progress_fraction=0.5) is False  # progress does
    assert rows.get(pid).row["progress_fraction"] == 0.5 and count.gets == 3
    assert store.finish(pid, claim.attempt, Status.FAILED, code=5000, error="boom")
    entry = rows.get(pid)
    assert entry.terminal and entry.row["error"] == "boom" and count.gets == 4
    store.delete_prediction(pid)  # the sweep is notified too: a deleted row is gone at once
    assert rows.get(pid) is None and count.gets == 5


def test_another_keys_row_is_none_without_a_read(store):
    pid = cancelled(store, key_id="a")
    rows = Rows(store)
    assert rows.get(pid, "a") is not None
    count = Counting(store)
    assert rows.get(pid, "b") is None and rows.get(pid, "a") is not None
    assert count.gets == 0


def test_a_read_that_raced_a_change_is_not_cached(store):
    """The change commits and is notified after the read's SELECT and before it caches: the row it
    read is returned (it was current when read) but not kept, so the next read sees the change."""
    pid = create(store)
    rows = wired(store, trust=True)
    real_get = store.get

    def get_then_change(*args, **kw):
        row = real_get(*args, **kw)
        store.claim(pid, lease=30, max_attempts=3)  # commits and notifies: spoils the read in flight
        store.get = real_get  # type: ignore[method-assign]
        return row

    store.get = get_then_change  # type: ignore[method-assign]
    assert rows.get(pid).row["status"] == "created"
    assert rows.peek(pid) is None
    assert rows.get(pid).row["status"] == "processing"
    assert rows.peek(pid) is not None


def test_a_terminal_row_past_its_expiry_is_asked_again(store):
    now = [1000.0]
    pid = cancelled(store)
    rows = Rows(store, clock=lambda: now[0])
    entry = rows.get(pid)
    now[0] = entry.row["expires_at"] - 1
    assert rows.peek(pid) is entry
    now[0] = entry.row["expires_at"]  # the sweep (of any process) may delete it from now on
    assert rows.peek(pid) is None and len(rows) == 0
    count = Counting(store)
    assert rows.get(pid) is not None and count.gets == 1  # still there: the store says so


def test_the_cache_is_bounded_least_recently_used_first(store):
    ids = [cancelled(store) for _ in range(5)]
    rows = Rows(store, size=3)
    for pid in ids[:3]:
        rows.get(pid)
    rows.get(ids[0])  # used again: now the most recent
    rows.get(ids[3])
    rows.get(ids[4])
    assert len(rows) == 3
    assert rows.peek(ids[1]) is None and rows.peek(ids[2]) is None
    assert all(rows.peek(pid) is not None for pid in (ids[0], ids[3], ids[4]))
    with pytest.raises(ValueError):
        Rows(store, size=0)


def test_async_read_answers_from_memory_or_a_thread(store):
    pid = cancelled(store)
    rows = Rows(store)
    assert asyncio.run(rows.read(pid))["status"] == "cancelled"
    count = Counting(store)
    assert asyncio.run(rows.read(pid))["status"] == "cancelled" and count.gets == 0
    assert asyncio.run(rows.read("0" * 32)) is None and count.gets == 1


def test_concurrent_changes_and_reads_end_current(store):
    """Readers race a writer that keeps changing the row; once the writer stops, the cache holds the
    row as it is in the store (no read ever put back an older state)."""
    pid = create(store)
    rows = wired(store, trust=True)
    claim = store.claim(pid, lease=60, max_attempts=3)
    stop = threading.Event()
    seen: list[float] = []

    def reader() -> None:
        while not stop.is_set():
            entry = rows.get(pid)
            seen.append(entry.row["progress_fraction"])

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(1, 101):
        store.renew(pid, claim.attempt, lease=60, progress_fraction=i / 100)
    stop.set()
    for t in threads:
        t.join()
    assert rows.get(pid).row["progress_fraction"] == 1.0 == store.get(pid)["progress_fraction"]
    assert len(seen) > 0 and rows.reads >= 1


def test_notifier_subscribers_run_before_waiters_wake_and_failures_are_contained():
    notifier = Notifier()
    order: list[str] = []

    def broken(_pid: str) -> None:
        raise RuntimeError("a subscriber's bug")

    notifier.subscribe(broken)
    notifier.subscribe(lambda pid: order.append(f"subscriber {pid}"))

    async def main() -> None:
        with notifier.watching("x") as watch:
            threading.Thread(target=notifier.notify, args=("x", "processing")).start()
            assert await watch.changed(5.0) == (True, "processing")
        order.append("woken")

    asyncio.run(main())
    assert order == ["subscriber x", "woken"]


def test_a_watch_misses_no_notification_and_sees_the_latest_status():
    """Notifications between two ``changed`` calls are seen by the next one, with the latest status;
    with none, ``changed`` times out."""
    notifier = Notifier()

    async def main() -> None:
        with notifier.watching("x") as watch:
            notifier.notify("x", "processing")  # before anyone waits
            notifier.notify("x", "completed")
            await asyncio.sleep(0)  # the loop runs the queued wake-ups
            assert await watch.changed(5.0) == (True, "completed")
            assert await watch.changed(0.05) == (False, None)
        notifier.notify("x", "failed")  # after the block: nothing is watching, nothing is kept
        assert notifier._waiters == {}

    asyncio.run(main())
