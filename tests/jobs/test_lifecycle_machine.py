"""A Hypothesis state machine over the job lifecycle in ``jobs.store``: submit, claim (several
workers, some stale), progress, outputs, complete, fail, release (clean shutdown), retry later (a
transient fault: a counted attempt handed back after a backoff), cancel, lease expiry (a clock), reaper.

Invariants: terminal states are sticky (status, outputs, code and error never change again); no write
from a stale attempt succeeds; a completed job has exactly N outputs (never more, never a completion with fewer), all
from the attempt that completed it; lost attempts never exceed the maximum (released ones do not
count); a processing job always has an attempt.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from seqedit.jobs.store import Status, Store

MAX_ATTEMPTS = 3
LEASE = 10.0
REQ = {"prompt": "p", "images": ["x"], "max_images": 1}


class Lifecycle(RuleBasedStateMachine):
    predictions = Bundle("predictions")
    workers = Bundle("workers")

    url = "sqlite://"

    def __init__(self) -> None:
        super().__init__()
        self.store = Store(self.url() if callable(self.url) else self.url)
        self.now = 1000.0
        self.n: dict[str, int] = {}
        self.terminal: dict[str, dict] = {}

    def teardown(self) -> None:
        self.store.close()

    def row(self, pid: str) -> dict:
        return self.store.get(pid)

    def owns(self, worker) -> bool:
        pid, attempt = worker
        row = self.row(pid)
        return row["status"] == "processing" and row["attempt"] == attempt

    @rule(target=predictions, n=st.integers(1, 4))
    def submit(self, n):
        row, _ = self.store.create(
            key_id="k",
            model="m",
            input={},
            request={**REQ, "max_images": n},
            total=n,
            output_format="jpeg",
            cost="0",
            retention=1e9,
            now=self.now,
        )
        self.n[row["id"]] = n
        return row["id"]

    @rule(target=workers, pid=predictions)
    def claim(self, pid):
        before = self.row(pid)
        expect = (
            not before["cancel_requested"]
            and before["attempt"] - before["releases"] < MAX_ATTEMPTS
            and (
                before["status"] == "created" or (before["status"] == "processing" and before["lease_until"] < self.now)
            )
        )
        got = self.store.claim(pid, lease=LEASE, max_attempts=MAX_ATTEMPTS, now=self.now)
        assert (got is not None) == expect
        if got is None:
            return (pid, -1)  # a worker that never got the job: all its writes must fail
        assert got.attempt == before["attempt"] + 1 and got.row["outputs"] == []
        return (pid, got.attempt)

    @rule(worker=workers)
    def progress(self, worker):
        pid, attempt = worker
        owned = self.owns(worker)
        answer = self.store.renew(pid, attempt, lease=LEASE, now=self.now, progress_total=self.n[pid])
        assert (answer is not None) == owned

    @rule(worker=workers)
    def output(self, worker):
        pid, attempt = worker
        owned = self.owns(worker)
        before = self.row(pid)["outputs"]
        if owned and len(before) >= self.n[pid]:
            with pytest.raises(ValueError):  # never more than N outputs
                self.store.add_output(pid, attempt, f"outputs/{pid}/{attempt}/x.jpg", lease=LEASE, now=self.now)
            return
        ok = self.store.add_output(
            pid, attempt, f"outputs/{pid}/{attempt}/{len(before)}.jpg", lease=LEASE, now=self.now
        )
        assert ok == owned
        if not ok:
            assert self.row(pid)["outputs"] == before

    @rule(worker=consumes(workers))
    def complete(self, worker):
        pid, attempt = worker
        while self.owns(worker) and len(self.row(pid)["outputs"]) < self.n[pid]:
            k = len(self.row(pid)["outputs"])
            assert self.store.add_output(pid, attempt, f"outputs/{pid}/{attempt}/{k}.jpg", lease=LEASE, now=self.now)
        owned = self.owns(worker)
        assert self.store.finish(pid, attempt, Status.COMPLETED, now=self.now) == owned

    @rule(worker=workers)
    def complete_too_early(self, worker):
        pid, attempt = worker
        if self.owns(worker) and len(self.row(pid)["outputs"]) < self.n[pid]:
            with pytest.raises(ValueError):
                self.store.finish(pid, attempt, Status.COMPLETED, now=self.now)

    @rule(worker=consumes(workers), code=st.sampled_from([1401, 1402, 1403, 5000]))
    def fail(self, worker, code):
        pid, attempt = worker
        owned = self.owns(worker)
        assert self.store.finish(pid, attempt, Status.FAILED, code=code, error="e", now=self.now) == owned

    @rule(worker=consumes(workers))
    def release(self, worker):
        """A clean shutdown hands the job back without counting the attempt."""
        pid, attempt = worker
        owned = self.owns(worker)
        before = self.row(pid)
        assert self.store.release(pid, attempt) == owned
        if owned:
            after = self.row(pid)
            assert after["releases"] == before["releases"] + 1 and after["attempt"] == attempt
            assert after["status"] == "processing" and after["lease_until"] == 0.0 and after["outputs"] == []

    @rule(worker=consumes(workers), delay=st.sampled_from([0.0, 2.0, 20.0]))
    def retry_later(self, worker, delay):
        """A transient fault hands the job back after a backoff; unlike a release, the attempt counts."""
        pid, attempt = worker
        owned = self.owns(worker)
        before = self.row(pid)
        assert self.store.retry_later(pid, attempt, reason="disk full", delay=delay, now=self.now) == owned
        after = self.row(pid)
        if not owned:
            assert after == before
            return
        assert after["releases"] == before["releases"] and after["attempt"] == attempt
        assert after["status"] == "processing" and after["outputs"] == [] and after["error"] == "disk full"
        assert after["lease_until"] == self.now + delay
        if delay > 0:  # no one takes it during the backoff: neither a claim nor the reaper
            assert self.store.claim(pid, lease=LEASE, max_attempts=MAX_ATTEMPTS, now=self.now) is None
            assert pid not in self.store.reap(max_attempts=MAX_ATTEMPTS, stale=LEASE, now=self.now)
        lost = after["attempt"] - after["releases"] >= MAX_ATTEMPTS
        later = self.store.reap(max_attempts=MAX_ATTEMPTS, stale=LEASE, now=self.now + delay + 0.5)
        if not after["cancel_requested"] and not lost:  # after the backoff the reaper re-enqueues it
            assert pid in later
        self.now += delay + 0.5

    @rule(pid=predictions)
    def cancel(self, pid):
        before = self.row(pid)
        after = self.store.cancel(pid, now=self.now)
        if before["status"] == "created":
            assert after["status"] == "cancelled"
        elif before["status"] == "processing":
            assert after["status"] == "processing" and after["cancel_requested"]

    @rule(dt=st.sampled_from([1.0, 5.0, 11.0, 30.0]))
    def tick(self, dt):
        self.now += dt

    @rule()
    def reap(self):
        again = self.store.reap(max_attempts=MAX_ATTEMPTS, stale=LEASE, now=self.now)
        for pid in again:
            assert self.row(pid)["status"] in ("created", "processing")

    @invariant()
    def terminal_states_are_sticky(self):
        for pid in self.n:
            row = self.row(pid)
            snap = {k: row[k] for k in ("status", "outputs", "code", "error", "attempt")}
            if pid in self.terminal:
                assert snap == self.terminal[pid]
            elif Status(row["status"]).is_terminal():
                self.terminal[pid] = snap

    @invariant()
    def shapes(self):
        for pid, n in self.n.items():
            row = self.row(pid)
            assert 0 <= row["releases"] <= row["attempt"]
            assert row["attempt"] - row["releases"] <= MAX_ATTEMPTS
            if row["status"] == "processing":
                assert row["attempt"] >= 1
            if row["status"] == "completed":
                assert len(row["outputs"]) == n
                assert all(k.startswith(f"outputs/{pid}/{row['attempt']}/") for k in row["outputs"])
            if row["status"] in ("failed", "cancelled", "created"):
                assert row["outputs"] == []
            if row["status"] == "failed" and row["code"] == 5000 and "worker lost" in row["error"]:
                assert row["attempt"] - row["releases"] == MAX_ATTEMPTS


Lifecycle.TestCase.settings = settings(
    max_examples=120, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLifecycle = Lifecycle.TestCase


def test_lifecycle_on_postgresql(pg_server):
    """The same machine on a real PostgreSQL (a fresh database per example; fewer examples)."""
    if pg_server is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not available")
    from hypothesis.stateful import run_state_machine_as_test

    from fixtures.postgres import fresh_database

    class OnPostgres(Lifecycle):
        url = staticmethod(lambda: fresh_database(pg_server))

    run_state_machine_as_test(
        OnPostgres,
        settings=settings(
            max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
