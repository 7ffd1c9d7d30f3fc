"""``jobs.webhooks`` in a fleet: several senders polling one outbox (SQLite and PostgreSQL) post each
webhook once, to a real receiver on loopback; an attempt claimed by a sender that died is taken by
another once its claim lease has passed."""

from __future__ import annotations

import collections
import time

from fixtures.receiver import Receiver
from seqedit.config import Settings
from seqedit.jobs.webhooks import WebhookSender


def until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def cancelled_rows(store, url: str, n: int) -> tuple[dict, list[str]]:
    """``n`` predictions with a webhook, cancelled while queued: each leaves one due outbox row."""
    _token, key = store.create_key("k")
    ids = []
    for _ in range(n):
        row, _ = store.create(
            key_id=key["id"],
            model="m",
            input={},
            request={"prompt": "p", "images": ["x"], "max_images": 1},
            total=1,
            output_format="jpeg",
            cost="0",
            retention=60,
            webhook_url=url,
        )
        store.cancel(row["id"])
        ids.append(row["id"])
    return key, ids


def sender(store, settings) -> WebhookSender:
    return WebhookSender(
        store,
        settings,
        render=lambda pid: f'{{"id":"{pid}"}}'.encode(),
        secret_for=lambda key_id: (store.get_key(key_id) or {}).get("webhook_secret"),
        poll=0.01,
    )


def test_three_senders_on_one_outbox_post_each_webhook_once(store, tmp_path):
    receiver = Receiver()
    settings = Settings(data_dir=tmp_path, allow_hosts="127.0.0.1", webhook_timeout=5)
    key, ids = cancelled_rows(store, receiver.url, 30)
    senders = [sender(store, settings) for _ in range(3)]
    for s in senders:
        s.start()
    try:
        until(lambda: all(r["delivered_at"] is not None for r in store.webhook_deliveries(limit=100)))
        time.sleep(0.3)  # any second post of a delivered row would arrive meanwhile
        posted = collections.Counter(h["webhook-id"] for h, _ in receiver.deliveries)
        assert sorted(posted) == sorted(f"{i}-cancelled" for i in ids)
        assert set(posted.values()) == {1}, posted.most_common(3)
        assert receiver.attempts == 30
        assert all(r["attempts"] == 1 for r in store.webhook_deliveries(limit=100))
    finally:
        for s in senders:
            s.stop()
        receiver.close()


def test_an_attempt_claimed_by_a_sender_that_died_is_sent_by_another_after_its_lease(store, tmp_path):
    receiver = Receiver()
    settings = Settings(data_dir=tmp_path, allow_hosts="127.0.0.1", webhook_timeout=0.1)
    _key, ids = cancelled_rows(store, receiver.url, 1)
    dead = sender(store, settings)
    dead.claim_lease = 0.5
    row = store.due_webhooks()[0]
    assert store.claim_webhook(row["id"], row["next_attempt_at"], lease=dead.claim_lease)  # then it "dies"
    alive = sender(store, settings)
    assert alive.dispatch_due() == 0  # claimed: not due
    alive.start()
    try:
        until(lambda: store.webhook_deliveries()[0]["delivered_at"] is not None)
        assert [h["webhook-id"] for h, _ in receiver.deliveries] == [f"{ids[0]}-cancelled"]
    finally:
        alive.stop()
        dead.stop()
        receiver.close()
