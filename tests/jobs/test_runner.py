"""``jobs.runner``: one prediction end to end in-process, with the fixture engines."""

from __future__ import annotations

import io
import threading
import time

from PIL import Image

from fixtures.images import data_uri, png
from seqedit.jobs.runner import Reaper
from seqedit.jobs.store import Status
from seqedit.storage import OBJECT_REF

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
    from seqedit.jobs.runner import Runner

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
