"""``jobs.submit``: the protocol-neutral submission use case, on a real store, storage and queue."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from fixtures.images import data_uri, png
from seqedit.config import Settings
from seqedit.errors import NotFound, RequestError
from seqedit.jobs.notify import Notifier
from seqedit.jobs.store import LimitExceeded, Status
from seqedit.jobs.submit import Submission, Submissions
from seqedit.request import EditRequest
from seqedit.storage import OBJECT_REF

from .conftest import SECRET


class ListQueue:
    """A queue that records what was enqueued (the contract's consumers are tested in test_queue)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def enqueue(self, prediction_id: str, priority: float = 0.0) -> None:
        self.ids.append(prediction_id)


@pytest.fixture
def use_case(store, storage, tmp_path):
    settings = Settings(data_dir=tmp_path, allow_hosts="", key_concurrency=2, max_image_pixels=10_000)
    return Submissions(store, storage, ListQueue(), settings, secret=SECRET, notifier=Notifier())


@pytest.fixture
def key(store):
    return store.create_key("k")[1]


def sub(*images: str, **kw) -> Submission:
    req = EditRequest.create(prompt="a series of 2", images=list(images), max_images=2, size="64*64")
    return Submission(model="m", request=req, echo={"prompt": "a series of 2"}, **kw)


def test_inline_images_are_stored_and_the_row_enqueued_once(use_case, store, storage, key):
    row, created = use_case.submit(key, sub(data_uri(png()), base64.b64encode(png()).decode()))
    assert created and use_case.queue.ids == [row["id"]] and row["status"] == Status.CREATED.value
    refs = row["request"]["images"]
    assert all(r.startswith(OBJECT_REF + "uploads/") for r in refs)
    assert storage.get(refs[0].removeprefix(OBJECT_REF)) == png()
    assert store.upload_by_object(refs[1].removeprefix(OBJECT_REF))["key_id"] == key["id"]
    assert row["input"] == {"prompt": "a series of 2"} and row["cost"]


def test_idempotent_repeat_returns_the_first_without_rechecking(use_case, key):
    first, created = use_case.submit(key, sub(data_uri(png()), idempotency_key="abc"))
    again, created_again = use_case.submit(key, sub("not even an image", idempotency_key="abc"))
    assert created and not created_again and again["id"] == first["id"] and use_case.queue.ids == [first["id"]]


def test_bad_references_name_the_image_and_create_nothing(use_case, store, key, storage):
    cases = {
        "http://127.0.0.1/x.png": ("images[1]", RequestError, "a public http(s) URL"),
        "%%% not base64": ("images[1]", RequestError, "http(s) URL | data: URI | base64"),
        OBJECT_REF + "uploads/u/a.png": ("images[1]", RequestError, "http(s) URL | data: URI | base64"),
        data_uri(png(200, 200)): ("images[1]", RequestError, "pixels"),
    }
    storage.put("uploads/other/a.png", png())
    store.create_upload(
        key_id="someone-else",
        object_key="uploads/other/a.png",
        filename="a.png",
        content_type="image/png",
        size=10,
        state="stored",
        ticket_seconds=0,
        retention=60,
    )
    cases[storage.url("uploads/other/a.png", int(time.time()) + 60)] = ("images[1]", NotFound, "your own files")
    for ref, (field, error, limit) in cases.items():
        with pytest.raises(error) as info:
            use_case.submit(key, sub(data_uri(png()), ref))
        assert info.value.field == field and limit in info.value.limit, ref
    assert use_case.queue.ids == [] and store.history(key["id"], page=1, page_size=10)[1] == 0


def test_webhook_must_pass_the_ssrf_guard(use_case, key):
    with pytest.raises(RequestError) as info:
        use_case.submit(key, sub(data_uri(png()), webhook="http://169.254.169.254/hook"))
    assert info.value.field == "webhook"


def test_per_key_limit(use_case, key):
    use_case.submit(key, sub(data_uri(png())))
    use_case.submit(key, sub(data_uri(png())))
    with pytest.raises(LimitExceeded):
        use_case.submit(key, sub(data_uri(png())))


def test_wait_returns_the_terminal_row_or_the_row_at_the_deadline(use_case, store, key):
    row, _ = use_case.submit(key, sub(data_uri(png())))
    t0 = time.monotonic()
    waited = asyncio.run(use_case.wait(row["id"], 0.3))
    assert waited["status"] == "created" and time.monotonic() - t0 >= 0.3
    cancelled = use_case.cancel(row["id"], key["id"])
    assert cancelled["status"] == "cancelled"
    assert asyncio.run(use_case.wait(row["id"], 5))["status"] == "cancelled"
    assert use_case.cancel(row["id"], "another key") is None


def _uploads(store) -> int:
    import sqlalchemy as sa

    from seqedit.jobs.store import uploads

    with store.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(uploads)).scalar_one())


def _objects(storage, tmp_path) -> list:
    return [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]


def test_refused_submits_leave_no_uploads_and_no_objects(use_case, store, storage, key, tmp_path):
    """W3: a 400 on images[2], or the key's limit, used to keep the inline images it had stored."""
    good = data_uri(png())
    for _ in range(3):
        with pytest.raises(RequestError):
            use_case.submit(key, sub(good, good, "%%% not base64"))
    use_case.submit(key, sub(good))
    use_case.submit(key, sub(good))  # the key is now at its limit of 2
    assert _uploads(store) == 2 and len(_objects(storage, tmp_path)) == 2
    for _ in range(3):
        with pytest.raises(LimitExceeded):
            use_case.submit(key, sub(good, good))
    assert _uploads(store) == 2 and len(_objects(storage, tmp_path)) == 2


def test_a_limit_reached_between_check_and_insert_removes_the_stored_images(
    use_case, store, storage, key, tmp_path, monkeypatch
):
    use_case.submit(key, sub(data_uri(png())))
    use_case.submit(key, sub(data_uri(png())))
    monkeypatch.setattr(store, "active_count", lambda key_id, at_most=None: 0)  # another submit won the race
    with pytest.raises(LimitExceeded):
        use_case.submit(key, sub(data_uri(png()), data_uri(png())))
    assert _uploads(store) == 2 and len(_objects(storage, tmp_path)) == 2


def test_fair_priority_is_round_robin_between_keys_with_sync_first_among_equals():
    from seqedit.jobs.submit import fair_priority

    assert fair_priority(0, sync=False) > fair_priority(1, sync=True) > fair_priority(1, sync=False)
    assert fair_priority(0, sync=True) > fair_priority(0, sync=False)


def test_each_new_job_is_enqueued_behind_the_keys_own_earlier_ones(use_case, store, key):
    priorities = []
    use_case.queue.enqueue = lambda pid, priority=0.0: priorities.append(priority)
    use_case.settings.key_concurrency = 0
    for _ in range(3):
        use_case.submit(key, sub(data_uri(png())))
    assert priorities == [0.0, -1.0, -2.0]


def test_a_new_job_never_overtakes_its_own_keys_older_queued_ones(use_case, store, key):
    """FIFO within a key: the rank counted at submit falls as the key's earlier jobs finish; the new
    job still queues behind the key's older queued ones (claimed in submit order)."""
    from seqedit.jobs.store import Status

    use_case.settings.key_concurrency = 0
    ids = [use_case.submit(key, sub(data_uri(png())))[0]["id"] for _ in range(6)]
    for pid in ids[:4]:  # four of them run and finish: the key's active count drops from 6 to 2
        claim = store.claim(pid, lease=30, max_attempts=3)
        store.finish(pid, claim.attempt, Status.FAILED, code=1403, error="x")
    # ids[4] and ids[5] wait at -4 and -5; a rank counted now (2, 3) would put the new ones above both
    later = use_case.submit(key, sub(data_uri(png())))[0]["id"]  # floored to -5: after ids[5]
    sync = use_case.submit(key, sub(data_uri(png()), sync=True))[0]["id"]  # -5 + 0.5: first of that rank
    order = []
    while (claim := store.claim_next(lease=30, max_attempts=3)) is not None:
        order.append(claim.row["id"])
    assert order == [ids[4], sync, ids[5], later]
