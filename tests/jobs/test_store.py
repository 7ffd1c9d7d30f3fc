"""Transitions of ``jobs.store``: fencing, sticky terminal states, idempotency, limits, the reaper."""

from __future__ import annotations

import time

import pytest

from seqedit.jobs.store import LimitExceeded, Status, hash_key

REQ = {"prompt": "p", "images": ["x"], "size": "64*64", "max_images": 2, "seed": 1, "output_format": "jpeg"}


def submit(store, key="k1", **kw):
    kw.setdefault("model", "m")
    row, created = store.create(
        key_id=key, input={"prompt": "p"}, request=REQ, total=2, output_format="jpeg", cost="0.054", retention=60, **kw
    )
    return row


def test_claim_fences_older_attempts(store):
    row = submit(store)
    first = store.claim(row["id"], lease=10, max_attempts=3, now=100)
    assert first.attempt == 1
    assert store.claim(row["id"], lease=10, max_attempts=3, now=105) is None  # lease still held
    second = store.claim(row["id"], lease=10, max_attempts=3, now=111)  # lease expired
    assert second.attempt == 2
    assert store.renew(row["id"], 1, lease=10, now=112) is None
    assert not store.add_output(row["id"], 1, "outputs/x/1/0.jpg", lease=10, now=112)
    assert not store.finish(row["id"], 1, Status.COMPLETED, now=112)
    assert store.add_output(row["id"], 2, "outputs/x/2/0.jpg", lease=10, now=112)
    with pytest.raises(ValueError):  # completed needs all N outputs
        store.finish(row["id"], 2, Status.COMPLETED, now=113)
    assert store.add_output(row["id"], 2, "outputs/x/2/1.jpg", lease=10, now=112)
    assert store.finish(row["id"], 2, Status.COMPLETED, now=113)
    got = store.get(row["id"])
    assert got["status"] == "completed" and got["attempt"] == 2
    assert got["outputs"] == ["outputs/x/2/0.jpg", "outputs/x/2/1.jpg"]


def test_terminal_states_are_sticky(store):
    row = submit(store)
    c = store.claim(row["id"], lease=10, max_attempts=3)
    assert store.finish(row["id"], c.attempt, Status.FAILED, code=1403, error="nope")
    assert not store.finish(row["id"], c.attempt, Status.COMPLETED)
    assert store.claim(row["id"], lease=10, max_attempts=3, now=10**10) is None
    assert store.cancel(row["id"])["status"] == "failed"
    assert store.reap(max_attempts=3, stale=0, now=10**10) == []
    got = store.get(row["id"])
    assert (got["status"], got["code"], got["error"]) == ("failed", 1403, "nope")


def test_cancel_queued_is_immediate_and_running_is_requested(store):
    a, b = submit(store), submit(store)
    assert store.cancel(a["id"])["status"] == "cancelled"
    assert store.claim(a["id"], lease=10, max_attempts=3) is None
    c = store.claim(b["id"], lease=10, max_attempts=3)
    assert store.cancel(b["id"])["cancel_requested"] is True
    assert store.renew(b["id"], c.attempt, lease=10) is True  # the runner learns of it on its next beat


def test_per_key_isolation(store):
    row = submit(store, key="k1")
    assert store.get(row["id"], key_id="k2") is None
    assert store.cancel(row["id"], key_id="k2") is None
    assert store.get(row["id"], key_id="k1")["id"] == row["id"]


def test_idempotency_key_returns_the_same_prediction(store):
    a = submit(store, idempotency_key="abc")
    b, created = store.create(
        key_id="k1",
        model="m",
        input={},
        request=REQ,
        total=2,
        output_format="jpeg",
        cost="0",
        retention=60,
        idempotency_key="abc",
    )
    assert not created and b["id"] == a["id"]
    assert submit(store, key="k2", idempotency_key="abc")["id"] != a["id"]  # per key


def test_limit_counts_queued_and_running(store):
    submit(store, limit=2)
    submit(store, limit=2)
    with pytest.raises(LimitExceeded):
        submit(store, limit=2)
    assert store.history("k1")[1] == 2  # nothing inserted by the refused submit


def test_reaper_requeues_then_fails_worker_lost(store):
    row = submit(store, now=0.0)
    for attempt in (1, 2, 3):
        now = attempt * 100.0
        assert store.claim(row["id"], lease=10, max_attempts=3, now=now).attempt == attempt
        assert store.reap(max_attempts=3, stale=0, now=now + 5) == []  # lease held
        again = store.reap(max_attempts=3, stale=0, now=now + 20)
        assert again == ([row["id"]] if attempt < 3 else [])
    got = store.get(row["id"])
    assert got["status"] == "failed" and got["code"] == 5000 and "worker lost" in got["error"]


def test_webhook_outbox_and_usage_written_with_the_terminal_state(store):
    row = submit(store, webhook_url="https://example.com/hook")
    c = store.claim(row["id"], lease=10, max_attempts=3)
    store.add_output(row["id"], c.attempt, "outputs/a/1/0.jpg", lease=10)
    store.add_output(row["id"], c.attempt, "outputs/a/1/1.jpg", lease=10)
    assert store.webhooks(row["id"]) == []
    store.finish(row["id"], c.attempt, Status.COMPLETED)
    hooks = store.webhooks(row["id"])
    assert len(hooks) == 1 and hooks[0]["message_id"] == f"{row['id']}-completed"
    [u] = store.usage_summary()
    assert u["images"] == 2 and str(u["cost"]) == "0.054"


def test_keys_are_stored_hashed(store):
    token, row = store.create_key("ci")
    assert token.startswith("sk_") and row["key_hash"] == hash_key(token)
    assert all(token not in str(v) for v in store.list_keys()[0].values())
    assert store.find_key(token)["id"] == row["id"]
    assert store.revoke_key(row["id"]) == 1
    assert store.find_key(token) is None


def test_upload_ticket_is_single_use(store):
    up = store.create_upload(
        key_id="k1",
        object_key="uploads/u1/a.png",
        filename="a.png",
        content_type="",
        size=3,
        state="pending",
        ticket_seconds=60,
        retention=60,
    )
    assert store.take_ticket(up["id"]) is not None
    assert store.take_ticket(up["id"]) is None
    up2 = store.create_upload(
        key_id="k1",
        object_key="uploads/u2/a.png",
        filename="a.png",
        content_type="",
        size=3,
        state="pending",
        ticket_seconds=60,
        retention=60,
        now=0,
    )
    assert store.take_ticket(up2["id"]) is None  # expired


def test_active_count_is_bounded_and_create_reports_the_rank(store):
    rows = [
        store.create(
            key_id="k",
            model="m",
            input={},
            request={},
            total=1,
            output_format="jpeg",
            cost="0",
            retention=60,
            count_active=3,
        )[0]
        for _ in range(5)
    ]
    assert [r["active_before"] for r in rows] == [0, 1, 2, 3, 3]  # counted up to count_active
    assert store.active_count("k") == 5 and store.active_count("k", at_most=2) == 2
    assert store.active_count("other") == 0


def test_worker_lost_names_the_last_transient_fault(store):
    row, _ = store.create(
        key_id="k", model="m", input={}, request={}, total=1, output_format="jpeg", cost="0", retention=60
    )
    claim = store.claim(row["id"], lease=30, max_attempts=1)
    assert store.retry_later(row["id"], claim.attempt, reason="database unreachable while storing panel 1", delay=0)
    store.reap(max_attempts=1, stale=0.0, now=time.time() + 1)
    got = store.get(row["id"])
    assert got["status"] == "failed" and "worker lost" in got["error"]
    assert got["error"].endswith("the last fault: database unreachable while storing panel 1")


# ---------------------------------------------------------------- the row queue and the change feed


def test_claim_next_takes_rows_in_queue_order(store):
    low = submit(store, prioritize=lambda _n, _lowest: -2.0, now=100)
    first = submit(store, prioritize=lambda _n, _lowest: 0.0, now=101)
    second = submit(store, prioritize=lambda _n, _lowest: 0.0, now=102)
    cancelled = submit(store, prioritize=lambda _n, _lowest: 5.0, now=103)
    store.cancel(cancelled["id"])
    order = []
    while (claim := store.claim_next(lease=10, max_attempts=3, now=200)) is not None:
        assert claim.attempt == 1 and claim.row["status"] == "processing"
        order.append(claim.row["id"])
    assert order == [first["id"], second["id"], low["id"]]  # priority, then age; never the cancelled one


def test_claim_next_rescues_only_reenqueued_expired_leases(store):
    row = submit(store, now=100)
    claim = store.claim_next(lease=10, max_attempts=3, now=100)
    assert store.claim_next(lease=10, max_attempts=3, now=200) is None  # expired, not re-enqueued yet
    assert store.reap(max_attempts=3, stale=0, now=200) == [row["id"]]
    again = store.claim_next(lease=10, max_attempts=3, now=201)
    assert again is not None and again.attempt == claim.attempt + 1
    assert store.renew(row["id"], claim.attempt, lease=10, now=202) is None  # the old attempt is fenced
    assert store.claim_next(lease=10, max_attempts=3, now=202) is None


def test_requeue_marks_a_job_whose_backoff_is_over(store):
    row = submit(store, now=100)
    claim = store.claim_next(lease=10, max_attempts=3, now=100)
    assert store.retry_later(row["id"], claim.attempt, reason="disk full", delay=30, now=101)
    assert not store.requeue(row["id"], now=120)  # still backing off
    assert store.claim_next(lease=10, max_attempts=3, now=140) is None  # not re-enqueued
    assert store.requeue(row["id"], now=140)
    assert store.claim_next(lease=10, max_attempts=3, now=141).attempt == 2


def test_claim_next_is_exactly_once_under_concurrency(store):
    import threading

    ids = {submit(store)["id"] for _ in range(30)}
    taken: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        while (claim := store.claim_next(lease=30, max_attempts=3)) is not None:
            with lock:
                taken.append(claim.row["id"])

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(ids)  # each row once, none twice


def test_watch_reports_every_change_a_poll_can_see(store):
    seen: list[str] = []
    statuses: list[str | None] = []
    store.watch(lambda pid, status: (seen.append(pid), statuses.append(status)))
    store.watch(lambda _id, _status: 1 / 0)  # a broken listener is logged, never raised into the write
    row = submit(store)
    pid = row["id"]
    assert seen == [pid]
    claim = store.claim_next(lease=10, max_attempts=3)
    assert store.renew(pid, claim.attempt, lease=10) is False  # a lease renewal alone: not reported
    assert seen == [pid, pid]
    store.renew(pid, claim.attempt, lease=10, progress_fraction=0.5)
    store.add_output(pid, claim.attempt, "outputs/a/1/0.jpg", lease=10)
    store.add_output(pid, claim.attempt, "outputs/a/1/1.jpg", lease=10)
    store.finish(pid, claim.attempt, Status.COMPLETED)
    assert len(seen) == 6
    assert statuses == ["created"] + ["processing"] * 4 + ["completed"]  # the status after each write
    assert not store.finish(pid, claim.attempt, Status.FAILED)  # fenced: nothing changed, nothing reported
    other = submit(store)["id"]
    store.cancel(other)
    store.delete_prediction(pid)
    assert seen[6:] == [other, other, pid]
