"""The cluster's promise under failures (``scripts/cluster`` with the ``test-slow`` fixture engine, whose
panels take ``SEQEDIT_TEST_PANEL_SECONDS`` each): no accepted job lost, none committed twice, webhooks
delivered once each, with only API replicas and workers alive.

Each test leaves every component running again for the next one (``start`` in a ``finally``)."""

from __future__ import annotations

import socket
import time

import pytest

from cluster.lib import Cluster, finished, plugin_env, poll, reference, running, submit, until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PANEL_SECONDS = 0.4
SETTINGS = {
    "SEQEDIT_TEST_PANEL_SECONDS": str(PANEL_SECONDS),
    "SEQEDIT_LEASE_SECONDS": "3",  # a dead worker's job is taken over soon
    "SEQEDIT_REAPER_INTERVAL": "0.5",
    "SEQEDIT_MAX_ATTEMPTS": "5",  # a restarted database may cost a job an attempt or two; never the job
    "SEQEDIT_WEBHOOK_BACKOFF": "0.2",
    "SEQEDIT_RETRY_DELAY": "0.5",
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    env = [a for k, v in SETTINGS.items() for a in ("--env", f"{k}={v}")]
    args = ["--api", "2", "--workers", "2", "--engine", "test-slow", "--webhooks", *plugin_env(), *env]
    with running(tmp_path_factory.mktemp("failures"), *args) as c:
        yield c


@pytest.fixture(scope="module")
def ref():
    return reference(32)


def job(ref: str, n: int) -> dict:
    return {"prompt": f"a set of {n} images", "images": [ref], "size": "64*64", "max_images": n}


def ensure_running(fleet: Cluster) -> None:
    stopped = [n for n, c in fleet.state["components"].items() if c.get("state") != "running"]
    if stopped:
        fleet.run("start", *stopped)


def redis_command(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(command + b"\r\n")
        return s.recv(256)


def webhooks_received(fleet: Cluster, ids: list[str]) -> list[str]:
    """The ``webhook-id``s the receiver got for ``ids`` (sorted, duplicates kept), once every outbox row is
    marked delivered and one more second has passed (a duplicate still in flight lands by then)."""

    def all_delivered():
        outbox = fleet.outbox(ids)
        return len(outbox) == len(ids) and all(r["delivered_at"] for r in outbox)

    until(all_delivered, 60, "every outbox row delivered")
    time.sleep(1.0)  # not a timing assert: it only gives a duplicate the chance to show
    return sorted(d["webhook_id"] for d in fleet.deliveries() if d["webhook_id"].split("-")[0] in ids)


def started_by(fleet: Cluster, prediction_id: str) -> list[str]:
    """The workers whose log has a ``job started`` line for ``prediction_id`` (the runner's job lines)."""
    names = []
    for name in ("worker-1", "worker-2"):
        with open(fleet.component(name)["log"], encoding="utf-8", errors="replace") as f:
            if any("job started" in line and prediction_id in line for line in f):
                names.append(name)
    return names


def test_a_worker_sigkilled_mid_job_is_rerun_by_the_other_and_committed_once(fleet: Cluster, ref: str):
    """Both workers run; the one that took the job (its own log line says so) is SIGKILLed mid-job, and
    the other, alive all along, re-runs it once the lease runs out."""
    hook = fleet.component("receiver")["url"]
    try:
        with fleet.http(fleet.apis[0]) as http:
            pid = submit(http, job(ref, 6), webhook=hook)

            def mid_job():
                row = fleet.rows([pid])[pid]
                return row["status"] == "processing" and row["progress_done"] >= 1

            until(mid_job, 120, "a worker committed a panel")
            (holder,) = until(lambda: started_by(fleet, pid), 30, "the worker's job started line")
            other = "worker-2" if holder == "worker-1" else "worker-1"
            fleet.run("kill", holder)  # mid-job: its lease runs out, and the other worker re-runs it
            row = finished(fleet, [pid])[pid]
            data = poll(http, pid)
        assert row["status"] == "completed", row["error"]
        assert row["attempt"] == 2  # the killed attempt, then the other worker's
        assert other in started_by(fleet, pid)
        assert len(row["outputs"]) == 6 and all(k.startswith(f"outputs/{pid}/2/") for k in row["outputs"])
        assert len(data["outputs"]) == 6 and fleet.usage_count(pid) == 1
        assert webhooks_received(fleet, [pid]) == [f"{pid}-completed"]
    finally:
        ensure_running(fleet)


def test_webhooks_are_delivered_exactly_once_by_api_replicas_and_workers(fleet: Cluster, ref: str):
    """Every process that sends webhooks polls the same outbox; the receiver takes 1.5 s to answer, so
    every delivery is still in flight when the other senders look: each must still arrive once."""
    hook = fleet.component("receiver")["url"] + "/slow/1.5"
    ids = []
    for k in range(8):
        with fleet.http(fleet.apis[k % 2]) as http:
            ids.append(submit(http, job(ref, 1), webhook=hook))
    rows = finished(fleet, ids)
    assert {r["status"] for r in rows.values()} == {"completed"}
    assert webhooks_received(fleet, ids) == sorted(f"{i}-completed" for i in ids), "each job's webhook once"


def test_redis_restarted_with_jobs_queued_loses_none(fleet: Cluster, ref: str):
    """Workers stopped, jobs queued, Redis restarted (no persistence: every message is gone), workers
    started: the rows are the truth, and every job completes once."""
    try:
        fleet.run("stop", "worker-1", "worker-2")
        with fleet.http(fleet.apis[1]) as http:
            ids = [submit(http, job(ref, 2)) for _ in range(6)]
        assert {r["status"] for r in fleet.rows(ids).values()} == {"created"}
        fleet.run("restart", "redis")
        assert redis_command(fleet.component("redis")["port"], b"DBSIZE") == b":0\r\n"  # the messages are gone
        fleet.run("start", "worker-1", "worker-2")
        rows = finished(fleet, ids, timeout=150)
        assert {r["status"] for r in rows.values()} == {"completed"}
        assert all(len(r["outputs"]) == 2 and fleet.usage_count(i) == 1 for i, r in rows.items())
    finally:
        ensure_running(fleet)


def test_postgres_restarted_mid_run_the_api_answers_503_and_nothing_accepted_is_lost(fleet: Cluster, ref: str):
    try:
        with fleet.http(fleet.apis[0]) as http:
            ids = [submit(http, job(ref, 3)) for _ in range(6)]
            until(lambda: any(r["status"] == "processing" for r in fleet.rows(ids).values()), 120, "a job running")
            fleet.run("stop", "postgres")
            for url in fleet.apis:
                with fleet.http(url) as down:
                    assert down.get("/readyz").status_code == 503
                    r = down.post("/api/v3/bytedance/seedream-v4/edit-sequential", json=job(ref, 1))
                    assert r.status_code == 503, r.text[:300]
                    assert down.get(f"/api/v3/predictions/{ids[0]}/result").status_code == 503
            fleet.run("start", "postgres")
            rows = finished(fleet, ids, timeout=150)
            assert {r["status"] for r in rows.values()} == {"completed"}, {i: r["error"] for i, r in rows.items()}
            for i, r in rows.items():
                assert len(r["outputs"]) == 3 and fleet.usage_count(i) == 1
                assert all(k.startswith(f"outputs/{i}/{r['attempt']}/") for k in r["outputs"])
                assert len(poll(http, i)["outputs"]) == 3
    finally:
        ensure_running(fleet)
