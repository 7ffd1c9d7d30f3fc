"""``jobs.runner``: one prediction end to end in-process, with the fixture engines."""

from __future__ import annotations

import errno
import io
import threading
import time

import pytest
from PIL import Image

from fixtures.images import data_uri, png
from seqedit.jobs.runner import Reaper, Runner
from seqedit.jobs.store import Status
from seqedit.storage import OBJECT_REF, FileSigner, ObjectStorage

from .conftest import SECRET


def submit(store, images, *, n=3, size="96*64", seed=7, key="k1"):
    req = {
        "prompt": "make a series",
        "images": images,
        "size": size,
        "max_images": n,
        "seed": seed,
        "output_format": "jpeg",
    }
    row, _ = store.create(
        key_id=key, model="m", input={}, request=req, total=n, output_format="jpeg", cost="0.081", retention=60
    )
    return row["id"]


def test_completes_with_n_outputs_at_the_size(store, storage, runner):
    storage.put("uploads/u1/a.png", png())
    pid = submit(store, [OBJECT_REF + "uploads/u1/a.png", data_uri(png(colour=(0, 0, 255)))])
    assert runner.run(pid) is Status.COMPLETED
    row = store.get(pid)
    assert row["status"] == "completed" and row["error"] == "" and len(row["outputs"]) == 3
    assert row["progress_done"] == 3 and row["plan"]["count"] == 3 and row["seed"] == 7
    assert "test-fast paints solid colours" in row["warnings"]
    for key in row["outputs"]:
        im = Image.open(io.BytesIO(storage.get(key)))
        assert im.size == (96, 64) and im.format == "JPEG"
    assert runner.run(pid) is None  # terminal: nothing to claim


def test_own_signed_url_is_read_without_http(store, storage, runner):
    storage.put("uploads/u2/b.png", png())
    url = storage.url("uploads/u2/b.png", int(time.time()) + 60)
    pid = submit(store, [url], n=1)
    assert runner.run(pid) is Status.COMPLETED


def test_ssrf_url_fails_1402_naming_the_image(store, runner):
    pid = submit(store, [data_uri(png()), "http://127.0.0.1:1/x.png"], n=1)
    assert runner.run(pid) is Status.FAILED
    row = store.get(pid)
    assert row["code"] == 1402 and row["error"].startswith("images[1]")
    for word in ("HTTP 5", "429", "timeout", "connection"):
        assert word not in row["error"]


def test_undecodable_image_fails_1401(store, runner):
    pid = submit(store, [data_uri(b"not an image at all")], n=1)
    assert runner.run(pid) is Status.FAILED
    row = store.get(pid)
    assert row["code"] == 1401 and "images[0]" in row["error"]


def test_unsupported_edit_fails_1403(store, storage, settings, runner):
    settings.engine = "test-failing"
    pid = submit(store, [data_uri(png())], n=2)
    assert runner.run(pid) is Status.FAILED
    row = store.get(pid)
    assert row["code"] == 1403 and "cannot do" in row["error"] and row["outputs"] == []


def test_engine_crash_fails_5000_and_leaves_no_partial_outputs(store, storage, settings, runner):
    settings.engine = "test-crashing"
    pid = submit(store, [data_uri(png())], n=3)
    assert runner.run(pid) is Status.FAILED
    row = store.get(pid)
    assert row["code"] == 5000 and row["outputs"] == []
    assert storage.delete_prefix(f"outputs/{pid}/") == 0


def test_cancel_while_running(store, settings, runner, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.3")
    settings.engine = "test-slow"
    pid = submit(store, [data_uri(png())], n=10)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("s", runner.run(pid)))
    t.start()
    deadline = time.monotonic() + 10
    while store.get(pid)["progress_done"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    deadline = time.monotonic() + 10
    while store.get(pid)["progress_fraction"] <= 0.1 and time.monotonic() < deadline:
        time.sleep(0.02)  # the engine's own fine-grained reports reach the row (throttled)
    assert 0.1 < store.get(pid)["progress_fraction"] < 1.0
    store.cancel(pid)  # the durable flag only: the heartbeat must carry it to the engine
    t.join(10)
    assert result["s"] is Status.CANCELLED
    row = store.get(pid)
    assert row["status"] == "cancelled" and row["progress_done"] < 10


def test_superseded_attempt_stops_without_writing(store, settings, runner, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.2")
    settings.engine = "test-slow"
    pid = submit(store, [data_uri(png())], n=5)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("s", runner.run(pid)))
    t.start()
    deadline = time.monotonic() + 10
    while store.get(pid)["status"] != "processing" and time.monotonic() < deadline:
        time.sleep(0.01)
    # another worker takes over (as if our lease had expired)
    newer = store.claim(pid, lease=60, max_attempts=3, now=time.time() + 3600)
    assert newer.attempt == 2
    t.join(10)
    assert result["s"] is None
    row = store.get(pid)
    assert row["status"] == "processing" and row["attempt"] == 2 and row["outputs"] == []


def test_reaper_recovers_a_lost_job(store, settings, runner):
    pid = submit(store, [data_uri(png())], n=1)
    store.claim(pid, lease=0.01, max_attempts=3)  # a worker that died right after claiming
    time.sleep(0.02)
    enqueued = []
    Reaper(store, enqueued.append, settings).run_once()
    assert enqueued == [pid]
    assert runner.run(pid) is Status.COMPLETED
    assert store.get(pid)["attempt"] == 2


def test_redirect_to_loopback_fails_1402(store, settings, runner):
    """Submit can only check the first host; the worker refuses a redirect to a forbidden address."""
    import http.server

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/private.png")
            self.end_headers()

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        settings.allow_hosts = f"127.0.0.1:{port}"  # only the redirector itself is allow-listed
        pid = submit(store, [f"http://127.0.0.1:{port}/a.png"], n=1)
        assert runner.run(pid) is Status.FAILED
        row = store.get(pid)
        assert row["code"] == 1402 and row["error"].startswith("images[0]") and "127.0.0.1" in row["error"]
    finally:
        httpd.shutdown()


def test_clean_shutdown_hands_the_job_back_without_counting_it(store, settings, runner, monkeypatch):
    monkeypatch.setenv("SEQEDIT_TEST_PANEL_SECONDS", "0.3")
    settings.engine = "test-slow"
    settings.max_attempts = 1
    pid = submit(store, [data_uri(png())], n=6)
    t = threading.Thread(target=runner.run, args=(pid,))
    t.start()
    deadline = time.monotonic() + 10
    while store.get(pid)["progress_done"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.release_all(timeout=10) == 1
    t.join(10)
    row = store.get(pid)
    assert row["status"] == "processing" and row["releases"] == 1 and row["lease_until"] == 0.0
    settings.engine = "test-fast"
    fresh = Runner(store, runner.storage, settings, secret=SECRET)  # the next process
    assert fresh.run(pid) is Status.COMPLETED  # max_attempts=1, yet not "worker lost"
    assert store.get(pid)["attempt"] == 2


def test_a_panel_at_the_wrong_size_fails_the_job_instead_of_being_resized(store, storage, settings, runner):
    settings.engine = "test-wrong-size"
    pid = submit(store, [data_uri(png())], n=2, size="64*64")
    assert runner.run(pid) is Status.FAILED
    row = store.get(pid)
    assert row["code"] == 5000 and "returned panel 2 at 32x64, expected 64x64" in row["error"]
    assert row["outputs"] == [] and not storage.exists(f"outputs/{pid}/1/0.jpg")  # no partial set is kept


# ---------------------------------------------------------------- transient faults: retried, not fatal


def failing(fn, exc, times=1):
    """``fn`` that raises ``exc`` on its next ``times`` calls (-1: always), then behaves."""
    left = [times]

    def call(*args, **kwargs):
        if left[0] != 0:
            left[0] -= 1
            raise exc
        return fn(*args, **kwargs)

    return call


def db_gone():
    import sqlite3

    import sqlalchemy.exc

    return sqlalchemy.exc.OperationalError(
        "UPDATE predictions", {}, sqlite3.OperationalError("unable to open database file")
    )


def reap(store, settings):
    enqueued = []
    Reaper(store, enqueued.append, settings).run_once()
    return enqueued


def wait_until(t):
    time.sleep(max(0.0, t - time.time()) + 0.02)


@pytest.fixture
def disk(tmp_path):
    """Objects on a small disk: a real tmpfs when one can be mounted, else a storage that raises
    ENOSPC (as the kernel would) while the disk is 'full'."""
    from fixtures.disk import small_disk

    with small_disk(tmp_path / "disk") as d:
        storage = ObjectStorage(d.path / "objects", signer=FileSigner(SECRET, "http://127.0.0.1:9"))
        if not d.real:
            put = storage.put

            def put_unless_full(key, data):
                if d.full:
                    raise OSError(errno.ENOSPC, "No space left on device")
                put(key, data)

            storage.put = put_unless_full
        d.storage = storage
        yield d


def test_disk_full_retries_after_a_backoff_and_completes_once_space_returns(store, settings, disk):
    settings.retry_delay = 1.0
    runner = Runner(store, disk.storage, settings, secret=SECRET)
    pid = submit(store, [data_uri(png())], n=3)
    disk.fill()
    assert runner.run(pid) is None  # not failed: handed back
    row = store.get(pid)
    assert row["status"] == "processing" and row["attempt"] == 1 and row["releases"] == 0
    assert "disk full (ENOSPC" in row["error"] and "storing panel 1 of 3" in row["error"], row["error"]
    assert row["outputs"] == [] and row["progress_done"] == 0
    assert not [p for p in (disk.path / "objects").rglob("*") if p.is_file()]  # no partial output left
    lease = row["lease_until"]
    assert lease > time.time() + 0.5  # the backoff
    time.sleep(0.6)  # longer than a heartbeat: none renewed the lease after the hand-back
    assert store.get(pid)["lease_until"] == lease
    assert runner.run(pid) is None and store.get(pid)["attempt"] == 1  # no claim before the backoff ends
    assert reap(store, settings) == []
    disk.free()
    wait_until(lease)
    assert reap(store, settings) == [pid]
    assert runner.run(pid) is Status.COMPLETED
    row = store.get(pid)
    assert row["attempt"] == 2 and row["error"] == "" and len(row["outputs"]) == 3
    assert all(k.startswith(f"outputs/{pid}/2/") for k in row["outputs"])
    assert all(disk.storage.exists(k) for k in row["outputs"])


def test_out_of_file_descriptors_while_storing_is_retried_not_5000(store, storage, settings, runner, monkeypatch):
    settings.retry_delay = 0.05
    monkeypatch.setattr(storage, "put", failing(storage.put, OSError(errno.EMFILE, "Too many open files")))
    pid = submit(store, [data_uri(png())], n=2)
    assert runner.run(pid) is None
    row = store.get(pid)
    assert row["status"] == "processing" and "too many open files in this process (EMFILE" in row["error"]
    wait_until(row["lease_until"])
    assert reap(store, settings) == [pid]
    assert runner.run(pid) is Status.COMPLETED and store.get(pid)["attempt"] == 2


def test_a_fault_reading_a_stored_reference_is_retried_not_1402(store, storage, settings, runner, monkeypatch):
    settings.retry_delay = 0.05
    storage.put("uploads/u9/a.png", png())
    monkeypatch.setattr(storage, "get", failing(storage.get, OSError(errno.EMFILE, "Too many open files")))
    pid = submit(store, [OBJECT_REF + "uploads/u9/a.png"], n=1)
    assert runner.run(pid) is None
    row = store.get(pid)
    assert row["status"] == "processing" and "while reading images[0]" in row["error"]
    wait_until(row["lease_until"])
    assert reap(store, settings) == [pid] and runner.run(pid) is Status.COMPLETED


def test_a_database_briefly_gone_is_retried(store, settings, runner, monkeypatch):
    settings.retry_delay = 0.05
    monkeypatch.setattr(store, "add_output", failing(store.add_output, db_gone()))
    pid = submit(store, [data_uri(png())], n=2)
    assert runner.run(pid) is None
    row = store.get(pid)
    assert row["status"] == "processing" and row["attempt"] == 1
    assert "the database is unavailable (unable to open database file) while committing panel 1" in row["error"]
    wait_until(row["lease_until"])
    assert reap(store, settings) == [pid] and runner.run(pid) is Status.COMPLETED


def test_a_database_gone_for_every_write_stops_the_run_and_the_reaper_recovers_it(store, settings, monkeypatch):
    """Nothing can be recorded: the run stops without raising (a consumer thread survives), its lease
    runs out, and the reaper re-enqueues the job (that attempt counts)."""
    settings.lease_seconds = 0.6
    runner = Runner(store, ObjectStorage(None), settings, secret=SECRET)
    pid = submit(store, [data_uri(png())], n=2)
    with monkeypatch.context() as m:
        for name in ("add_output", "retry_later", "finish", "renew", "release"):
            m.setattr(store, name, failing(getattr(store, name), db_gone(), times=-1))
        assert runner.run(pid) is None
    row = store.get(pid)
    assert row["status"] == "processing" and row["attempt"] == 1 and row["outputs"] == []
    wait_until(row["lease_until"])
    assert reap(store, settings) == [pid]
    assert runner.run(pid) is Status.COMPLETED and store.get(pid)["attempt"] == 2


def test_a_claim_that_cannot_reach_the_database_returns_none(store, runner, monkeypatch):
    pid = submit(store, [data_uri(png())], n=1)
    monkeypatch.setattr(store, "claim", failing(store.claim, db_gone()))
    assert runner.run(pid) is None
    assert store.get(pid)["status"] == "created"  # untouched: the reaper re-enqueues a long-queued row
    assert runner.run(pid) is Status.COMPLETED


def test_transient_faults_are_bounded_by_max_attempts_and_the_failure_names_the_fault(
    store, storage, settings, runner, monkeypatch
):
    settings.retry_delay = 0.3  # the backoff (0.3 s, then 0.6 s) stands well above a slow run's own time
    settings.max_attempts = 3
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(storage, "put", failing(storage.put, full, times=-1))
    pid = submit(store, [data_uri(png())], n=2)
    delays = []
    for _ in range(2):
        before = time.time()
        assert runner.run(pid) is None
        row = store.get(pid)
        delays.append(row["lease_until"] - before)
        wait_until(row["lease_until"])
        assert reap(store, settings) == [pid]
    assert delays[0] >= 0.3 and delays[1] >= 0.6  # the backoff doubles (lease_until = retry time + backoff)
    assert runner.run(pid) is Status.FAILED
    row = store.get(pid)
    assert row["status"] == "failed" and row["code"] == 5000 and row["attempt"] == 3 and row["outputs"] == []
    assert row["error"].startswith("disk full (ENOSPC: No space left on device) while storing panel 1 of 2")
    assert row["error"].endswith("gave up after 3 attempts") and "internal error" not in row["error"]
    assert runner.run(pid) is None  # terminal


def test_a_cancel_during_the_backoff_is_honoured(store, storage, settings, runner, monkeypatch):
    settings.retry_delay = 0.05
    monkeypatch.setattr(storage, "put", failing(storage.put, OSError(errno.ENOSPC, "No space left on device")))
    pid = submit(store, [data_uri(png())], n=1)
    assert runner.run(pid) is None
    store.cancel(pid)
    assert runner.run(pid) is None  # a cancel-requested job is never claimed
    wait_until(store.get(pid)["lease_until"])
    assert reap(store, settings) == []
    assert store.get(pid)["status"] == "cancelled"


def test_warm_loads_a_lazy_engines_model_once_before_the_first_job(store, storage, settings):
    """A worker's consumer threads each run ``warm`` at start: an engine that loads its model lazily
    (``load()``, as the diffusion engine does) is loaded then, once, not inside the first job's lease."""
    from seqedit.engines.base import create

    loads: list[str] = []

    class Lazy:
        def __init__(self) -> None:
            self.inner = create("test-fast")
            self.lock = threading.Lock()
            self.loaded = False

        def load(self) -> None:
            with self.lock:
                if not self.loaded:
                    loads.append(threading.current_thread().name)
                    self.loaded = True

        def __getattr__(self, name):
            return getattr(self.inner, name)

    shared = Lazy()
    runner = Runner(store, storage, settings, secret=SECRET, engine_factory=lambda *_a, **_k: shared)
    threads = [threading.Thread(target=runner.warm) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1


def test_warm_survives_an_engine_that_cannot_load(store, storage, settings, caplog):
    class Broken:
        def load(self) -> None:
            raise OSError("no such model directory")

    runner = Runner(store, storage, settings, secret=SECRET, engine_factory=lambda *_a, **_k: Broken())
    runner.warm()  # logged; the first job reports it on its row
    assert "could not load the test-fast engine" in caplog.text
