"""One heartbeat loop per runner (``jobs.heartbeat``): every running job's lease renewed by one thread,
cancel and fencing carried through it, nothing renewed after ``quiesce``; and ``Runner.run_claimed``.

The jobs here run on a gated engine (it renders when the test opens its gate) with progress writes
throttled away (``progress_interval`` of an hour), so every renewal while it waits is the loop's."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
from PIL import Image

from fixtures.images import data_uri, png
from seqedit.engines.base import Cancelled
from seqedit.jobs.heartbeat import THREAD_NAME, Heartbeat
from seqedit.jobs.runner import Reaper, Runner
from seqedit.jobs.store import Status

from .conftest import SECRET
from .test_runner import db_gone, submit

LEASE = 0.6  # the loop renews every min(LEASE / 3, 0.5) = 0.2 s


def wait_for(cond: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def heart_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == THREAD_NAME}


class Gated:
    """An engine whose panels wait for ``gate``; it honours ``cancelled()`` unless told not to."""

    name = "test-gated"

    def __init__(self, *, honour_cancel: bool = True) -> None:
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)  # released once per job that reached ``generate``
        self.honour_cancel = honour_cancel

    def analyse(self, plan):
        return []

    def check(self, plan, refs=None):
        return []

    def generate(self, plan, refs, progress):
        self.started.release()
        while not self.gate.wait(0.01):
            if self.honour_cancel and progress.cancelled():
                raise Cancelled()
        for _ in range(plan.count):
            yield Image.new("RGB", (plan.size.width, plan.size.height), (10, 20, 30))


class Renewals:
    """A spy on ``Store.renew``: every call with its attempt, thread and answer (or exception)."""

    def __init__(self, store, monkeypatch) -> None:
        self.real = store.renew
        self.calls: list[tuple[str, int, str, object]] = []
        self.lock = threading.Lock()
        self.before: Callable[[str, int], None] = lambda _pid, _attempt: None
        monkeypatch.setattr(store, "renew", self)

    def __call__(self, prediction_id, attempt, **kwargs):
        self.before(prediction_id, attempt)
        try:
            answer = self.real(prediction_id, attempt, **kwargs)
        except Exception as exc:
            answer = exc
            raise
        finally:
            with self.lock:
                self.calls.append((prediction_id, attempt, threading.current_thread().name, answer))
        return answer

    def by_loop(self, pid: str, attempt: int | None = None) -> list[object]:
        with self.lock:
            return [
                a for p, n, t, a in self.calls if p == pid and t == THREAD_NAME and (attempt is None or n == attempt)
            ]


@pytest.fixture
def gated(store, storage, settings):
    settings.lease_seconds = LEASE
    settings.progress_interval = 3600.0
    engine = Gated()
    runner = Runner(store, storage, settings, secret=SECRET, engine_factory=lambda *_a, **_k: engine)
    yield runner, engine
    engine.gate.set()
    runner.close()


def start(runner: Runner, pid: str) -> tuple[threading.Thread, dict[str, Status | None]]:
    result: dict[str, Status | None] = {}
    t = threading.Thread(target=lambda: result.setdefault("status", runner.run(pid)))
    t.start()
    return t, result


def test_concurrent_jobs_share_one_heartbeat_thread(store, settings, gated):
    runner, engine = gated
    before = heart_threads()
    pids = [submit(store, [data_uri(png())], n=1) for _ in range(4)]
    runs = [start(runner, pid) for pid in pids]  # four consumer threads
    for _ in pids:
        assert engine.started.acquire(timeout=10)
    assert runner.running() == 4 and runner._heart.beating() == 4
    wait_for(lambda: all(store.get(pid)["lease_until"] > 0 for pid in pids), "the claims")
    mine = heart_threads() - before
    assert len(mine) == 1  # one heartbeat thread for the four jobs
    assert not [t for t in threading.enumerate() if t.name.startswith("lease-")]  # no thread per job
    engine.gate.set()
    for t, result in runs:
        t.join(10)
        assert result["status"] is Status.COMPLETED
    assert runner._heart.beating() == 0
    assert heart_threads() - before == mine  # still the same one thread, idle, until close


def test_a_long_jobs_lease_is_renewed_by_the_loop_and_the_reaper_leaves_it(store, settings, gated, monkeypatch):
    runner, engine = gated
    spy = Renewals(store, monkeypatch)
    pid = submit(store, [data_uri(png())], n=1)
    t, result = start(runner, pid)
    assert engine.started.acquire(timeout=10)
    first = store.get(pid)["lease_until"]
    wait_for(lambda: time.time() > first + 0.1, "the first lease to run out")
    wait_for(lambda: len(spy.by_loop(pid)) >= 2, "two renewals by the loop")
    assert store.get(pid)["lease_until"] > first  # moved forward while it runs
    assert Reaper(store, lambda _pid: None, settings).run_once() == []  # not taken: the lease is fresh
    engine.gate.set()
    t.join(10)
    assert result["status"] is Status.COMPLETED
    row = store.get(pid)
    assert row["status"] == "completed" and row["attempt"] == 1
    assert all(answer is False for answer in spy.by_loop(pid))  # renewed, not fenced, no cancel


def test_a_cancel_on_the_row_reaches_a_running_job_through_the_loop(store, gated, monkeypatch):
    runner, engine = gated
    spy = Renewals(store, monkeypatch)
    pid = submit(store, [data_uri(png())], n=2)
    t, result = start(runner, pid)
    assert engine.started.acquire(timeout=10)
    store.cancel(pid)  # the durable flag only, not ``cancel_local``
    t.join(10)
    assert result["status"] is Status.CANCELLED
    assert store.get(pid)["status"] == "cancelled"
    assert True in spy.by_loop(pid)  # the loop's renewal read the flag


def test_a_fenced_job_is_dropped_from_the_loop_and_stops(store, storage, settings, monkeypatch):
    settings.lease_seconds = LEASE
    settings.progress_interval = 3600.0
    engine = Gated(honour_cancel=False)  # keeps running after the fence broke, so the drop shows
    runner = Runner(store, storage, settings, secret=SECRET, engine_factory=lambda *_a, **_k: engine)
    spy = Renewals(store, monkeypatch)
    try:
        pid = submit(store, [data_uri(png())], n=2)
        t, result = start(runner, pid)
        assert engine.started.acquire(timeout=10)
        newer = store.claim(pid, lease=60, max_attempts=3, now=time.time() + 3600)  # another worker took it
        assert newer.attempt == 2
        wait_for(lambda: None in spy.by_loop(pid, 1), "the loop to find the fence broken")
        wait_for(lambda: runner._heart.beating() == 0, "the fenced job to leave the loop")
        fenced_at = len(spy.by_loop(pid, 1))
        time.sleep(3 * LEASE / 3)  # three intervals: a job still in the loop would be renewed again
        assert runner.running() == 1  # still running (it ignores cancel) ...
        assert len(spy.by_loop(pid, 1)) == fenced_at  # ... but no longer renewed
        engine.gate.set()
        t.join(10)
        assert result["status"] is None  # superseded
        row = store.get(pid)
        assert row["status"] == "processing" and row["attempt"] == 2 and row["outputs"] == []
        assert not spy.by_loop(pid, 2)  # the newer attempt's lease is its own business
    finally:
        engine.gate.set()
        runner.close()


def test_after_quiesce_no_renewal_lands_even_one_in_flight(store, settings, gated, monkeypatch):
    """A clean shutdown while the loop is inside a renewal of the job: the hand-back waits for that
    renewal, and none follows it, so ``release``'s lease (0) is what stays on the row."""
    runner, engine = gated
    spy = Renewals(store, monkeypatch)
    inside, go = threading.Event(), threading.Event()

    def hold(_pid, _attempt):  # the loop's second renewal waits inside ``renew`` for the test
        if threading.current_thread().name == THREAD_NAME and spy.by_loop(_pid):
            inside.set()
            go.wait(10)

    spy.before = hold
    events: list[str] = []
    release = store.release

    def releasing(pid, attempt, **kwargs):
        events.append("release")
        return release(pid, attempt, **kwargs)

    monkeypatch.setattr(store, "release", releasing)
    pid = submit(store, [data_uri(png())], n=2)
    t, _ = start(runner, pid)
    assert engine.started.acquire(timeout=10)
    assert inside.wait(10)  # the loop is now inside a renewal of this attempt
    shutdown = threading.Thread(target=runner.release_all, kwargs={"timeout": 10})
    shutdown.start()
    time.sleep(0.3)  # the job saw the cancel at once; its hand-back must wait for the renewal
    assert events == [] and runner.running() == 1
    go.set()
    shutdown.join(10)
    t.join(10)
    assert events == ["release"]
    renewals = len(spy.by_loop(pid))
    time.sleep(3 * LEASE / 3)  # three intervals
    assert len(spy.by_loop(pid)) == renewals  # none after the hand-back
    row = store.get(pid)
    assert row["status"] == "processing" and row["releases"] == 1 and row["lease_until"] == 0.0


def test_one_failing_renewal_does_not_stop_the_others(store, settings, gated, monkeypatch, caplog):
    runner, engine = gated
    spy = Renewals(store, monkeypatch)
    broken, fine = (submit(store, [data_uri(png())], n=1) for _ in range(2))

    def fail_one(pid, _attempt):
        if pid == broken and threading.current_thread().name == THREAD_NAME:
            raise db_gone()

    spy.before = fail_one
    runs = [start(runner, broken), start(runner, fine)]
    for _ in runs:
        assert engine.started.acquire(timeout=10)
    wait_for(lambda: len(spy.by_loop(fine)) >= 3, "three renewals of the healthy job")
    failed = [
        r for r in caplog.records if r.getMessage() == "lease renewal failed" and getattr(r, "prediction", "") == broken
    ]
    assert len(failed) >= 2  # tried again each beat, one line each
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in failed)  # an outage: no traceback
    assert all(answer is False for answer in spy.by_loop(fine))
    engine.gate.set()
    for t, result in runs:
        t.join(10)
        assert result["status"] is Status.COMPLETED


def test_close_ends_the_thread_and_a_later_job_starts_a_fresh_one(store, runner):
    before = heart_threads()
    assert runner.run(submit(store, [data_uri(png())], n=1)) is Status.COMPLETED
    (thread,) = heart_threads() - before
    runner.close()
    assert not thread.is_alive()
    assert runner.run(submit(store, [data_uri(png())], n=1)) is Status.COMPLETED
    (fresh,) = heart_threads() - before
    assert fresh is not thread
    runner.close()
    assert not fresh.is_alive() and heart_threads() - before == set()


def test_run_claimed_runs_a_claim_made_elsewhere(store, settings, runner, caplog):
    """A queue that claims rows itself hands the ``Claim`` over: the same run, logs and ending."""
    caplog.set_level(logging.INFO, logger="seqedit.runner")
    pid = submit(store, [data_uri(png())], n=2)
    claim = store.claim(pid, lease=settings.lease_seconds, max_attempts=settings.max_attempts)
    assert claim is not None
    assert runner.run_claimed(claim) is Status.COMPLETED
    row = store.get(pid)
    assert row["status"] == "completed" and row["attempt"] == 1 and len(row["outputs"]) == 2
    lines = [r.getMessage() for r in caplog.records if getattr(r, "prediction", "") == pid]
    assert lines == ["job started", "job completed"]
    assert runner.running() == 0 and runner._heart.beating() == 0


# ---------------------------------------------------------------- the loop on its own


def test_the_loop_drops_a_pulse_whose_beat_says_leave_and_survives_one_that_raises():
    heart = Heartbeat()
    counts = {"leave": 0, "raise": 0, "steady": 0}

    def leave() -> bool:
        counts["leave"] += 1
        return False

    def boom() -> bool:
        counts["raise"] += 1
        raise RuntimeError("a bug in one beat")

    def steady() -> bool:
        counts["steady"] += 1
        return True

    try:
        pulses = [heart.add(leave, 0.02), heart.add(boom, 0.02), heart.add(steady, 0.02)]
        wait_for(lambda: counts["steady"] >= 5 and counts["raise"] >= 5, "the loop to beat on")
        assert counts["leave"] == 1 and heart.beating() == 2  # left after its one beat
        for pulse in pulses:
            pulse.stop()
        assert heart.beating() == 0
        stopped = dict(counts)
        time.sleep(0.1)  # five intervals
        assert counts == stopped  # no beat after stop
    finally:
        heart.close()
