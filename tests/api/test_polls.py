"""Polls that cost nothing, over a real HTTP server on loopback (``seqedit serve``'s uvicorn config in a
thread, so the test can count the statements its store executes): a poll of a running job reads no
row, a poll after each change shows it at once (panels, completion, cancel, deletion), ETag and 304,
the long poll (``?wait=``), and an API process that does not see every change reads every time."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from fixtures.images import data_uri, png
from fixtures.server import free_port
from seqedit.api.app import create_app, make_service
from seqedit.api.server import make_config
from seqedit.service import API_ONLY, WORKER

from .conftest import make_settings

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
TERMINAL = ("completed", "failed", "cancelled")


class Live:
    """``service`` behind uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, service) -> None:
        self.service = service
        self.url = f"http://127.0.0.1:{free_port()}"
        self.server = uvicorn.Server(
            make_config(create_app(service), service.settings, host="127.0.0.1", port=int(self.url.rsplit(":", 1)[1]))
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        self.key, _ = service.store.create_key("a")
        self.other, _ = service.store.create_key("b")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(30)

    def submit(self, panels: int = 1, **extra) -> dict:
        body = {"prompt": "a series of images", "images": [data_uri(png())], "size": "64*64", "max_images": panels}
        r = self.http.post(MODEL, json={**body, **extra})
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def poll(self, pid: str, **params) -> httpx.Response:
        return self.http.get(f"/api/v3/predictions/{pid}/result", params=params)

    def data(self, pid: str) -> dict:
        r = self.poll(pid)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def until(self, pid: str, test, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            d = self.data(pid)
            if test(d):
                return d
            assert time.monotonic() < deadline, f"not reached in time: {d['status']} {d['progress']}"
            time.sleep(0.02)


class Statements:
    """Counts the reads of the predictions table a store's engine executes (any thread)."""

    READ = re.compile(r"^\s*SELECT\b.*\bFROM predictions\b", re.S | re.I)

    def __init__(self, engine) -> None:
        self.engine = engine
        self.reads = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.READ.search(statement):
            self.reads += 1

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def slow(tmp_path, monkeypatch):
    """An embedded ``seqedit serve`` (api + consumers: it sees every change) with the slow engine; no
    progress writes within a panel and no reaper pass during a test."""
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "30")
    service = make_service(make_settings(tmp_path, engine="test-slow", progress_interval=60, reaper_interval=3600))
    assert service.sees_every_change
    live = Live(service)
    yield live
    live.stop()


def eventually(test, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def quiet(live: Live, pid: str) -> None:
    """Until the job runs and is past its first progress write (in the store: the fraction shown is
    rounded): then nothing changes until its 30 s panel ends."""
    live.until(pid, lambda d: d["status"] == "processing")
    eventually(lambda: live.service.store.get(pid)["progress_fraction"] > 0)


def visible(d: dict) -> tuple:
    return d["status"], d["progress"]["done"], len(d["outputs"]), d["error"], d.get("queue_position")


def truth(row: dict) -> tuple:
    """What a poll must show of a store row (the prediction object's fields that change)."""
    status = row["status"]
    outputs = len(row["outputs"]) if status == "completed" else 0
    error = row["error"] if status in ("failed", "cancelled") else ""
    return status, row["progress_done"], outputs, error


def test_polls_of_a_running_job_read_no_row(slow):
    d = slow.submit(panels=2)
    quiet(slow, d["id"])
    count = Statements(slow.service.store.engine)
    try:
        first = slow.poll(d["id"])
        assert first.status_code == 200
        filled = count.reads
        hits = slow.service.rows.hits
        for _ in range(50):
            r = slow.poll(d["id"])
            assert r.status_code == 200 and r.content == first.content
            assert r.json()["data"]["status"] == "processing"
        assert count.reads == filled  # 50 polls, not one read of the predictions table
        assert slow.service.rows.hits - hits == 50
        assert slow.http.get(f"/api/v3/predictions/{d['id']}").content == first.content  # the aliases too
        assert slow.http.get(f"/api/v2/predictions/{d['id']}/result").content == first.content
        other = {"Authorization": f"Bearer {slow.other}"}  # another key's cached row: 404, still no read
        assert slow.http.get(f"/api/v3/predictions/{d['id']}/result", headers=other).status_code == 404
        assert count.reads == filled
        slow.service.rows.forget(d["id"])  # the counter sees reads: a dropped entry is read again
        assert slow.poll(d["id"]).status_code == 200 and count.reads == filled + 1
    finally:
        count.close()


def test_a_poll_after_each_change_shows_it(slow, monkeypatch):
    """Right after each committed change (in the writing thread, before anything else moves), a poll
    over HTTP shows what the store holds: queued, claimed, planned, each panel, completed; a cancel of a
    running job; then the sweep's deletion is a 404."""
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.2")
    store = slow.service.store
    seen: list[tuple] = []
    wrong: list[str] = []
    watching = threading.Event()
    poller = httpx.Client(base_url=slow.url, headers={"Authorization": f"Bearer {slow.key}"}, timeout=30)

    def check(pid: str) -> None:
        if not watching.is_set():
            return
        row = store.get(pid)
        r = poller.get(f"/api/v3/predictions/{pid}/result")
        if row is None:
            if r.status_code != 404:
                wrong.append(f"{pid}: deleted, poll answered {r.status_code}")
            return
        shown = visible(r.json()["data"])[:4]
        seen.append(shown)
        # another thread (the consumer, a cancel) may commit the next change between the read and the
        # poll: the poll may show that newer state, never one older than what the store held before it
        later = store.get(pid)
        if shown != truth(row) and (later is None or shown != truth(later)):
            wrong.append(f"{pid}: the store holds {truth(row)}, the poll showed {shown}")

    slow.service.notifier.subscribe(check)
    watching.set()
    try:
        done = slow.submit(panels=3)
        slow.until(done["id"], lambda d: d["status"] in TERMINAL)
        eventually(lambda: seen[-1][:3] == ("completed", 3, 3))
        assert {0, 1, 2} <= {s[1] for s in seen if s[0] == "processing"} and ("created", 0, 0, "") in seen

        monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "30")
        running = slow.submit(panels=2)
        slow.until(running["id"], lambda d: d["status"] == "processing")
        assert slow.http.post(f"/api/v3/predictions/{running['id']}/cancel").status_code == 200
        ended = slow.until(running["id"], lambda d: d["status"] in TERMINAL)
        assert ended["status"] == "cancelled"
        eventually(lambda: seen[-1][0] == "cancelled")

        assert slow.service.sweep(now=time.time() + 10 * 86400)[0] == 2  # both rows
        for pid in (done["id"], running["id"]):
            assert slow.poll(pid).status_code == 404
    finally:
        watching.clear()
        poller.close()
    assert wrong == []
    assert len(seen) >= 8


def test_etag_and_304(slow, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.05")
    d = slow.submit(panels=2)
    slow.until(d["id"], lambda d: d["status"] == "completed")
    r = slow.poll(d["id"])
    tag = r.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    assert re.fullmatch(r"private, max-age=\d+", r.headers["cache-control"])
    assert 0 < int(r.headers["cache-control"].split("=")[1]) <= 3600
    for match in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        again = slow.http.get(f"/api/v3/predictions/{d['id']}/result", headers={"If-None-Match": match})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    stale = slow.http.get(f"/api/v3/predictions/{d['id']}/result", headers={"If-None-Match": '"nope"'})
    assert stale.status_code == 200 and stale.content == r.content and stale.headers["etag"] == tag

    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "30")
    running = slow.submit(panels=1)
    quiet(slow, running["id"])
    r = slow.poll(running["id"])
    assert r.headers["cache-control"] == "no-cache" and r.json()["data"]["status"] == "processing"
    headers = {"If-None-Match": r.headers["etag"]}
    assert slow.http.get(f"/api/v3/predictions/{running['id']}/result", headers=headers).status_code == 304
    slow.http.post(f"/api/v3/predictions/{running['id']}/cancel")
    slow.until(running["id"], lambda d: d["status"] == "cancelled")
    changed = slow.http.get(f"/api/v3/predictions/{running['id']}/result", headers=headers)
    assert changed.status_code == 200 and changed.headers["etag"] != r.headers["etag"]
    assert changed.json()["data"]["status"] == "cancelled"


def test_long_poll_returns_when_the_job_ends_or_at_the_deadline(slow, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.3")
    d = slow.submit(panels=2)
    r = slow.poll(d["id"], wait="60")  # the client's timeout is 30 s: it must come back early
    assert r.status_code == 200 and r.json()["data"]["status"] == "completed"
    assert len(r.json()["data"]["outputs"]) == 2
    again = slow.poll(d["id"], wait="60")  # terminal: answered at once
    assert again.json()["data"]["status"] == "completed" and again.headers["etag"] == r.headers["etag"]

    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "30")
    running = slow.submit(panels=1)
    slow.until(running["id"], lambda d: d["status"] == "processing")
    started = time.monotonic()
    r = slow.poll(running["id"], wait="0.6")
    assert r.status_code == 200 and r.json()["data"]["status"] == "processing"
    assert time.monotonic() - started >= 0.6  # it held the request until the deadline (a lower bound only)
    assert slow.poll("0" * 32, wait="1").status_code == 404


@pytest.mark.parametrize("wait", ["abc", "-1", "61", "60.5", "nan", "inf", "1e400", "1" * 40])
def test_wait_out_of_range_or_not_a_number_is_a_400_naming_it(slow, wait):
    d = slow.submit(panels=1)
    r = slow.poll(d["id"], wait=wait)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == "wait" and body["limit"] == "a number of seconds 0-60"
    assert body["code"] == 400 and body["data"] is None and body["message"] == body["error"]
    assert body["message"].startswith("wait: ")


def _one_job_running(tmp_path, monkeypatch, *, lag: float):
    """A service whose one consumer holds a 30 s job (so later submits wait), with ``QUEUED_LAG`` =
    ``lag``: the live client and the running job."""
    from seqedit.api import wavespeed

    monkeypatch.setattr(wavespeed, "QUEUED_LAG", lag)
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "30")
    service = make_service(make_settings(tmp_path, engine="test-slow", progress_interval=60, reaper_interval=3600))
    live = Live(service)
    running = live.submit()
    live.until(running["id"], lambda d: d["status"] == "processing")
    return live, running


def test_a_queued_rows_position_is_never_stale(tmp_path, monkeypatch):
    """With no lag allowed, a waiting job's position follows the queue at once."""
    live, running = _one_job_running(tmp_path, monkeypatch, lag=0.0)
    try:
        queued = [live.submit() for _ in range(2)]
        assert [live.data(q["id"])["queue_position"] for q in queued] == [0, 1]
        assert live.data(queued[1]["id"])["queue_position"] == 1
        live.http.post(f"/api/v3/predictions/{queued[0]['id']}/cancel")  # the one ahead leaves the queue
        assert live.data(queued[1]["id"])["queue_position"] == 0  # at once
        live.http.post(f"/api/v3/predictions/{running['id']}/cancel")  # the consumer takes the next
        d = live.until(queued[1]["id"], lambda d: d["status"] != "created")
        assert d["status"] == "processing" and "queue_position" not in d
    finally:
        live.stop()


def test_a_queued_rows_position_lags_at_most_queued_lag_and_its_status_never(tmp_path, monkeypatch):
    """By default a waiting job's answer is reused for QUEUED_LAG s while other rows change (its
    position and ETA may be that old); a change of its own row shows at once."""
    from seqedit.api import wavespeed

    live, _running = _one_job_running(tmp_path, monkeypatch, lag=3600.0)  # as long as the test: the lag shows
    try:
        queued = [live.submit() for _ in range(3)]
        assert live.data(queued[2]["id"])["queue_position"] == 2
        live.http.post(f"/api/v3/predictions/{queued[0]['id']}/cancel")
        assert live.data(queued[2]["id"])["queue_position"] == 2  # the lag: the answer is reused
        monkeypatch.setattr(wavespeed, "QUEUED_LAG", 0.0)
        assert live.data(queued[2]["id"])["queue_position"] == 1  # once past the lag, it follows
        monkeypatch.setattr(wavespeed, "QUEUED_LAG", 3600.0)
        live.data(queued[1]["id"])
        live.http.post(f"/api/v3/predictions/{queued[1]['id']}/cancel")
        assert live.data(queued[1]["id"])["status"] == "cancelled"  # its own change: at once
    finally:
        live.stop()


def test_sync_mode_waits_through_the_cache(slow, monkeypatch):
    """A sync waiter reads the row only after a notification, not every half second of its wait."""
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "1.5")
    notes: list[str] = []
    slow.service.notifier.subscribe(notes.append)
    reads = slow.service.rows.reads
    d = slow.submit(panels=2, enable_sync_mode=True)
    assert d["status"] == "completed" and len(d["outputs"]) == 2
    waited = slow.service.rows.reads - reads
    assert 1 <= waited <= notes.count(d["id"]) + 1  # reading every 0.5 s round of a 3 s job would be more


def test_an_api_process_that_does_not_see_every_change_reads_every_poll(tmp_path, monkeypatch):
    """An API-only service sharing its database with a worker service (its own store and notifier, as
    another process would be): live rows are read on every poll and a poll is never stale; terminal
    rows are still answered from memory."""
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.3")
    settings = make_settings(tmp_path, engine="test-slow", progress_interval=60, reaper_interval=3600)
    api = make_service(settings, roles=API_ONLY)
    assert not api.sees_every_change
    worker = make_service(settings, roles=WORKER)
    live = Live(api)
    wrong: list[str] = []
    polled: list[str] = []
    poller = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {live.key}"}, timeout=30)

    def check(pid: str) -> None:  # the worker's writes, as they commit: the API's next poll shows each
        row = worker.store.get(pid)
        if row is None:
            return
        shown = visible(poller.get(f"/api/v3/predictions/{pid}/result").json()["data"])[:4]
        polled.append(shown[0])
        if shown != truth(row):
            wrong.append(f"the store holds {truth(row)}, the poll showed {shown}")

    worker.notifier.subscribe(check)
    worker.start()
    try:
        d = live.submit(panels=2)
        live.until(d["id"], lambda d: d["status"] in TERMINAL, timeout=60)
        # the worker's check of its last write may still be polling when this thread has seen it complete
        eventually(lambda: polled[-1] == "completed")
        assert wrong == [] and "processing" in polled and polled[-1] == "completed"

        monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "30")
        running = live.submit(panels=1)
        live.until(running["id"], lambda d: d["status"] == "processing", timeout=60)
        count = Statements(api.store.engine)
        try:
            for _ in range(5):
                assert live.data(running["id"])["status"] == "processing"
            assert count.reads >= 5  # each poll of a live row read it
            before = count.reads
            for _ in range(5):
                assert live.data(d["id"])["status"] == "completed"
            assert count.reads - before <= 1  # a terminal row: read once, then from memory
        finally:
            count.close()
        live.http.post(f"/api/v3/predictions/{running['id']}/cancel")
        assert live.until(running["id"], lambda d: d["status"] in TERMINAL, timeout=60)["status"] == "cancelled"
    finally:
        worker.stop()
        live.stop()
        poller.close()
    assert wrong == []


def test_a_rendered_poll_skips_the_routes_and_keeps_its_log_line(slow, monkeypatch, caplog):
    """Once a poll's bytes are rendered, later polls are answered by ``FastPolls`` before routing
    (the route's renderer is not called again) with the same bytes and headers, a 304 included, and
    each still has its access-log line naming the key. A query (``?wait=``) goes to the route."""
    import logging

    from seqedit.api import wavespeed

    d = slow.submit(panels=2)
    quiet(slow, d["id"])
    first = slow.poll(d["id"])
    calls = []
    real = wavespeed._poll_answer

    async def counting(*args, **kw):
        calls.append(1)
        return await real(*args, **kw)

    monkeypatch.setattr(wavespeed, "_poll_answer", counting)
    caplog.set_level(logging.INFO, logger="seqedit.access")
    for path in (f"/api/v3/predictions/{d['id']}/result", f"/api/v3/predictions/{d['id']}"):
        r = slow.http.get(path)
        assert r.status_code == 200 and r.content == first.content
        assert {k: r.headers[k] for k in ("etag", "cache-control", "content-type")} == {
            k: first.headers[k] for k in ("etag", "cache-control", "content-type")
        }
    r = slow.http.get(f"/api/v3/predictions/{d['id']}/result", headers={"If-None-Match": first.headers["etag"]})
    assert r.status_code == 304 and r.content == b""
    assert calls == []
    key_id = slow.service.store.find_key(slow.key)["id"]

    def lines() -> list[tuple[int, str]]:
        return [(r.status, r.key_id) for r in caplog.records if r.name == "seqedit.access" and d["id"] in r.path]

    # the access log writes its line once the answer is sent: the client can read it a moment earlier
    eventually(lambda: len(lines()) >= 3)
    assert lines() == [(200, key_id), (200, key_id), (304, key_id)]
    assert slow.poll(d["id"], wait="0").content == first.content and calls == [1]
    other = {"Authorization": f"Bearer {slow.other}"}  # another key: the route's 404
    assert slow.http.get(f"/api/v3/predictions/{d['id']}/result", headers=other).status_code == 404
    assert httpx.get(f"{slow.url}/api/v3/predictions/{d['id']}/result").status_code == 401  # no key


def test_the_wire_bytes_are_those_of_the_standard_encoder(slow, monkeypatch):
    """orjson and the prebuilt envelope head write exactly the compact bytes Starlette's JSONResponse
    wrote (non-ASCII raw, quotes and slashes as before, key order kept)."""
    from fastapi.responses import JSONResponse

    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.05")
    d = slow.submit(panels=2, prompt='2 panels: é ✓ "quoted" </script> \\ back\tslash 🚀')
    slow.until(d["id"], lambda d: d["status"] == "completed")
    for r in (slow.poll(d["id"]), slow.http.post("/api/v3/predictions", json={"page": 1})):
        assert r.status_code == 200
        assert r.content == JSONResponse(r.json()).body
    bad = slow.poll(d["id"], wait="x")
    assert bad.status_code == 400 and bad.content == JSONResponse(bad.json()).body


def test_serve_with_its_consumer_process_follows_every_change(tmp_path):
    """A real ``seqedit serve``, its consumers in a child process whose change notices feed the poll
    cache and wake the waiters: a long poll comes back when the job completes (well before its 30 s,
    or the client's 10 s timeout fails the test), polls never go back to an older state, and the
    completed answer is tagged, cacheable and answered 304."""
    from fixtures.server import Server

    server = Server(tmp_path / "serve", engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="0.4").start()
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
            body = {"prompt": "a series of 3 images", "images": [data_uri(png())], "size": "64*64", "max_images": 3}
            pid = http.post(MODEL, json=body).json()["data"]["id"]
            url = f"/api/v3/predictions/{pid}/result"
            done = 0
            while (d := http.get(url).json()["data"])["status"] != "processing" or d["progress"]["done"] < 1:
                assert d["progress"]["done"] >= done and d["status"] != "completed"
                done = d["progress"]["done"]
            r = http.get(url, params={"wait": "30"})
            assert r.status_code == 200 and r.json()["data"]["status"] == "completed"
            assert len(r.json()["data"]["outputs"]) == 3
            final = http.get(url)
            assert final.content == r.content and final.headers["etag"] == r.headers["etag"]
            assert final.headers["cache-control"].startswith("private, max-age=")
            assert http.get(url, headers={"If-None-Match": final.headers["etag"]}).status_code == 304
    finally:
        server.kill()
