"""The store's fleet tables: process heartbeats, periodic ticks, webhook delivery claims, queue position.
Run on SQLite and PostgreSQL (the ``store`` fixture of tests/jobs/conftest.py)."""

from __future__ import annotations

import threading

from seqedit.jobs.store import Status, Store


def _create(store: Store, key_id: str, *, now: float, priority: float = 0.0, webhook_url: str | None = None) -> str:
    row, _ = store.create(
        key_id=key_id,
        model="m",
        input={},
        request={"prompt": "x", "max_images": 1},
        total=1,
        output_format="jpeg",
        cost="0.027",
        retention=3600,
        now=now,
        webhook_url=webhook_url,
        prioritize=lambda _active, _lowest: priority,
    )
    return row["id"]


def test_queue_position_follows_priority_then_age(store: Store):
    a = _create(store, "k1", now=100.0, priority=0.0)
    b = _create(store, "k1", now=101.0, priority=-1.0)
    c = _create(store, "k2", now=102.0, priority=0.0)
    d = _create(store, "k2", now=103.0, priority=0.5)  # a sync job of the same rank
    assert [store.queue_position(x) for x in (d, a, c, b)] == [0, 1, 2, 3]
    assert store.claim(d, lease=30, max_attempts=3) is not None
    assert store.queue_position(d) is None  # running: not queued any more
    assert store.queue_position(a) == 0
    assert store.queue_position("nope") is None


def test_stored_priority_is_the_one_prioritize_returned(store: Store):
    seen = []
    row, _ = store.create(
        key_id="k",
        model="m",
        input={},
        request={"prompt": "x", "max_images": 1},
        total=1,
        output_format="jpeg",
        cost="0",
        retention=60,
        count_active=8,
        prioritize=lambda active, _lowest: seen.append(active) or -float(active),
    )
    assert seen == [0]
    assert store.get(row["id"])["priority"] == 0.0


def test_heartbeats_say_who_is_alive(store: Store):
    store.heartbeat("w1", host="h", pid=1, roles="consumers,reaper", engine="classic", concurrency=2, now=1000.0)
    store.heartbeat("a1", host="h", pid=2, roles="api", now=1000.0)
    assert {w["id"] for w in store.live_workers(10.0, now=1005.0)} == {"w1", "a1"}
    store.heartbeat("w1", host="h", pid=1, roles="consumers,reaper", engine="classic", concurrency=2, now=1012.0)
    alive = store.live_workers(10.0, now=1015.0)
    assert [(w["id"], w["concurrency"]) for w in alive] == [("w1", 2)]  # a1 went silent
    store.worker_stopped("w1", now=1016.0)
    assert store.live_workers(10.0, now=1016.5) == []
    store.heartbeat("w1", host="h", pid=1, roles="consumers", concurrency=1, now=1017.0)  # restarted
    assert [w["id"] for w in store.live_workers(10.0, now=1017.0)] == ["w1"]
    assert store.forget_workers(older_than=5.0, now=1017.0) == 1  # a1
    assert store.forget_workers(older_than=5.0, now=1017.0) == 0


def test_a_tick_is_taken_once_per_period(store: Store):
    assert store.take_tick("reaper", "p1", 10.0, now=100.0) is True
    assert store.take_tick("reaper", "p2", 10.0, now=105.0) is False
    assert store.take_tick("sweep", "p2", 10.0, now=105.0) is True  # ticks are independent
    assert store.take_tick("reaper", "p2", 10.0, now=110.0) is True
    assert store.take_tick("reaper", "p1", 10.0, now=110.5) is False


def test_concurrent_takers_win_one_tick(store: Store):
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def take(holder: str) -> None:
        barrier.wait()
        if store.take_tick("race", holder, 60.0, now=500.0):
            wins.append(holder)

    threads = [threading.Thread(target=take, args=(f"p{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_one_sender_claims_each_webhook_attempt(store: Store):
    pid = _create(store, "k", now=100.0, webhook_url="http://127.0.0.1:9/h")
    claim = store.claim(pid, lease=30, max_attempts=3, now=100.5)
    assert claim is not None
    assert store.finish(pid, claim.attempt, Status.FAILED, code=5000, error="x", now=101.0)
    (row,) = store.due_webhooks(now=102.0)
    assert store.claim_webhook(row["id"], row["next_attempt_at"], lease=30.0, now=102.0) is True
    assert store.claim_webhook(row["id"], row["next_attempt_at"], lease=30.0, now=102.0) is False  # taken
    assert store.due_webhooks(now=120.0) == []
    (again,) = store.due_webhooks(now=133.0)  # the sender died mid-attempt: due again after the lease
    assert store.claim_webhook(again["id"], again["next_attempt_at"], lease=30.0, now=133.0) is True
    store.webhook_attempted(again["id"], delivered=True, now=134.0)
    (listed,) = store.webhook_deliveries(prediction_id=pid)
    assert listed["delivered_at"] == 134.0 and listed["attempts"] == 1
    assert store.webhook_deliveries(prediction_id="other") == []
