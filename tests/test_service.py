"""``service``: each process runs exactly the roles it was given, all through one ``Service.start``;
``seqedit serve``, ``serve --workers 0`` and ``seqedit worker`` are role sets of it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

import fixtures.engines  # noqa: F401  (registers the test engines)
from fixtures.server import SEQEDIT, TESTS, Server
from seqedit.api.envelope import webhook_body
from seqedit.config import Settings
from seqedit.service import API_ONLY, ROLES, SERVE, WORKER, Service

BACKGROUND = {"reaper": "seqedit-reaper", "webhooks": "seqedit-webhooks", "sweep": "seqedit-retention"}


def threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


@pytest.mark.parametrize("roles", [SERVE, API_ONLY, WORKER, frozenset({"api"})], ids=["serve", "api", "worker", "bare"])
def test_start_runs_exactly_the_roles_given(tmp_path, roles):
    service = Service(
        Settings(data_dir=tmp_path, engine="test-fast", queue_url="memory://"), roles=roles, webhook_body=webhook_body
    )
    before = threads()
    service.start()
    try:
        started = threads() - before
        for role, thread in BACKGROUND.items():
            assert (thread in started) == (role in roles), role
        assert service.queue.running == ("consumers" in roles)
        assert service.roles == roles and service.owns_data == ({"api", "consumers"} <= roles)
    finally:
        service.stop()


def test_roles_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown role"):
        Service(Settings(data_dir=tmp_path), roles={"api", "gpu"})
    with pytest.raises(ValueError, match="webhook_body"):
        Service(Settings(data_dir=tmp_path), roles={"webhooks"})
    assert set(SERVE) == set(ROLES) and API_ONLY == SERVE - {"consumers"}


def _started_line(log: str) -> str:
    return next(line for line in log.splitlines() if "service starting: roles" in line)


@pytest.mark.slow
def test_the_commands_are_role_sets_of_one_start(tmp_path):
    """A real `serve`, `serve --workers 0` and `worker`: each logs the roles its Service.start ran."""
    serve = Server(tmp_path / "a").start()
    api = Server(tmp_path / "b", workers=0).start()
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [str(SEQEDIT), "worker", "--engine", "test-fast", "--data-dir", str(tmp_path / "b")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "SEQEDIT_PLUGINS": "fixtures.engines",
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        },
    )
    try:
        deadline = time.monotonic() + 30
        while "service starting" not in (tmp_path / "worker.log").read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.05)
        assert _started_line(serve.log()).endswith("roles api, consumers, reaper, webhooks, sweep")
        assert _started_line(api.log()).endswith("roles api, reaper, webhooks, sweep")
        assert _started_line((tmp_path / "worker.log").read_text()).endswith("roles consumers, reaper, webhooks, sweep")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        log.close()
        serve.kill(signal.SIGTERM)
        api.kill(signal.SIGTERM)


def test_a_job_handed_back_after_a_transient_fault_is_re_enqueued_when_its_backoff_ends(tmp_path):
    """Not at the reaper's next pass (a minute away here): the service re-enqueues it itself."""
    import errno

    from fixtures.images import data_uri, png
    from seqedit.jobs.submit import Submission
    from seqedit.request import EditRequest

    settings = Settings(data_dir=tmp_path, engine="test-fast", retry_delay=0.3, reaper_interval=60, lease_seconds=5)
    service = Service(settings, roles=WORKER | {"api"}, webhook_body=webhook_body)
    real_put, failures = service.storage.put, []

    def put(key, data):
        if key.startswith("outputs/") and not failures:
            failures.append(key)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_put(key, data)

    service.storage.put = put  # type: ignore[method-assign]
    service.start()
    try:
        key = service.store.create_key("k")[1]
        req = EditRequest.create(prompt="p", images=[data_uri(png())], max_images=1, size="64*64")
        row, _ = service.submissions.submit(key, Submission(model="m", request=req))
        deadline = time.monotonic() + 10
        while service.store.get(row["id"])["status"] != "completed":
            assert time.monotonic() < deadline, service.store.get(row["id"])
            time.sleep(0.05)
        assert failures and service.store.get(row["id"])["attempt"] == 2
    finally:
        service.stop()


# ---------------------------------------------------------------------------------------- fleet duties


def _submitter(service):
    from fixtures.images import data_uri, png
    from seqedit.jobs.submit import Submission
    from seqedit.request import EditRequest

    key = service.store.create_key("k")[1]

    def submit(panels: int = 1) -> str:
        req = EditRequest.create(prompt="p", images=[data_uri(png())], max_images=panels, size="64*64")
        return service.submissions.submit(key, Submission(model="m", request=req))[0]["id"]

    return submit


def _until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Counting:
    """An engine factory that counts the engines it builds and how many ``generate`` run at once."""

    def __init__(self, thread_safe: bool = True, seconds: float = 0.0) -> None:
        self.built = 0
        self.now = self.most = 0
        self.lock = threading.Lock()
        self.thread_safe = thread_safe
        self.seconds = seconds

    def __call__(self, name, **options):
        from seqedit.engines.base import create

        self.built += 1
        inner = create("test-fast")
        factory = self

        class Engine:
            thread_safe = factory.thread_safe

            def __init__(self) -> None:
                self.name = inner.name

            def analyse(self, plan):
                return inner.analyse(plan)

            def check(self, plan, refs=None):
                return inner.check(plan, refs)

            def generate(self, plan, refs, progress):
                with factory.lock:
                    factory.now += 1
                    factory.most = max(factory.most, factory.now)
                try:
                    time.sleep(factory.seconds)
                    yield from inner.generate(plan, refs, progress)
                finally:
                    with factory.lock:
                        factory.now -= 1

        return Engine()


def test_one_engine_per_process_shared_by_every_consumer_and_the_plan_endpoint(tmp_path):
    factory = Counting()
    settings = Settings(data_dir=tmp_path, engine="test-fast", workers=3)
    service = Service(settings, roles=SERVE, engine_factory=factory, webhook_body=webhook_body)
    service.start()
    try:
        submit = _submitter(service)
        ids = [submit() for _ in range(6)]
        _until(lambda: all(service.store.get(i)["status"] == "completed" for i in ids))
        assert service.planning_engine() is service.check_engine()
        assert factory.built == 1
    finally:
        service.stop()


def test_an_engine_that_is_not_thread_safe_runs_one_job_at_a_time(tmp_path):
    factory = Counting(thread_safe=False, seconds=0.2)
    settings = Settings(data_dir=tmp_path, engine="test-fast", workers=3)
    service = Service(settings, roles=SERVE, engine_factory=factory, webhook_body=webhook_body)
    service.start()
    try:
        submit = _submitter(service)
        ids = [submit() for _ in range(4)]
        _until(lambda: all(service.store.get(i)["status"] == "completed" for i in ids))
        assert factory.built == 1 and factory.most == 1
    finally:
        service.stop()


def test_only_an_embedded_process_with_api_and_consumers_owns_its_data(tmp_path):
    def owns(roles, **kw):
        service = Service(Settings(data_dir=tmp_path, **kw), roles=roles, webhook_body=webhook_body)
        try:
            return service.owns_data
        finally:
            service.store.close()

    assert owns(SERVE) and owns(SERVE, queue_url="memory://")
    assert not owns(API_ONLY) and not owns(WORKER)
    assert not owns(SERVE, queue_url="redis://127.0.0.1:9/0")  # other workers may be running
    assert not owns(SERVE, db_url=f"sqlite:///{tmp_path / 'other.db'}", queue_url="redis://127.0.0.1:9/0")


def test_a_distributed_serve_leaves_other_workers_leases_alone(tmp_path):
    settings = Settings(data_dir=tmp_path, engine="test-fast", queue_url="redis://127.0.0.1:9/0")
    service = Service(settings, roles=SERVE, webhook_body=webhook_body)
    row, _ = service.store.create(
        key_id="k", model="m", input={}, request={}, total=1, output_format="jpeg", cost="0", retention=60
    )
    claim = service.store.claim(row["id"], lease=60, max_attempts=3)  # another worker's job, running
    assert claim is not None
    service.store.expire_leases = lambda: pytest.fail("voided the fleet's leases")  # type: ignore[method-assign]
    service.start()
    try:
        assert service.store.get(row["id"])["lease_until"] > time.time() + 30
    finally:
        service.stop()


def test_the_reaper_pass_and_the_sweep_run_once_per_tick_across_processes(tmp_path):
    settings = Settings(data_dir=tmp_path, engine="test-fast", reaper_interval=60, sweep_interval=60)
    fleet = [Service(settings, roles=API_ONLY, webhook_body=webhook_body) for _ in range(3)]
    passes, sweeps = [], []
    for s in fleet:
        s.reaper.run_once = lambda s=s: passes.append(s.id) or []  # type: ignore[method-assign]
        s.sweep = lambda now=None, s=s: sweeps.append(s.id) or (0, 0)  # type: ignore[method-assign]
    try:
        for _ in range(3):
            for s in fleet:
                s.reaper_pass()
                s._sweep_tick()
        assert len(passes) == 1 and len(sweeps) == 1  # one process took each tick; the others skipped
        with fleet[0].store._write() as c:  # the tick's period is over: the next pass is anyone's, once
            c.exec_driver_sql("UPDATE ticks SET until = 0")
        for s in fleet:
            s.reaper_pass()
        assert len(passes) == 2
    finally:
        for s in fleet:
            s.store.close()


def test_start_and_stop_say_what_was_resumed_and_handed_back(tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="seqedit.service")
    settings = Settings(data_dir=tmp_path, engine="test-slow", lease_seconds=5)
    first = Service(settings, roles={"api"}, webhook_body=webhook_body)
    submit = _submitter(first)
    queued = [submit(), submit()]  # queued by a process that then went away
    first.stop()
    os.environ["SEQEDIT_TEST_PANEL_SECONDS"] = "0.3"
    try:
        service = Service(settings, roles=SERVE, webhook_body=webhook_body)
        service.start()
        try:
            assert "resumed 2 job(s) at start: re-enqueued (0 lease(s) of the previous process voided)" in caplog.text
            _until(lambda: service.store.get(queued[0])["status"] == "processing")
        finally:
            service.stop()
    finally:
        os.environ.pop("SEQEDIT_TEST_PANEL_SECONDS", None)
    assert "service stopped: 1 job(s) handed back (released on stop), 0 finished while draining" in caplog.text
    assert service.store.get(queued[0])["releases"] == 1


def test_a_fleet_of_an_api_replica_and_two_workers_delivers_each_webhook_once(tmp_path):
    """No `serve` with consumers: two workers and an API replica (all with the webhooks role) on one
    database and queue; every job's webhook reaches the receiver exactly once."""
    import collections

    from fixtures.images import data_uri, png
    from fixtures.receiver import Receiver
    from seqedit.jobs.submit import Submission
    from seqedit.request import EditRequest

    receiver = Receiver()
    settings = Settings(data_dir=tmp_path, engine="test-fast", allow_hosts="127.0.0.1", public_url="http://api.example")
    api = Service(settings, roles=API_ONLY, webhook_body=webhook_body)
    workers = [Service(settings, roles=WORKER, webhook_body=webhook_body) for _ in range(2)]
    for s in (api, *workers):
        s.start()
    try:
        key = api.store.create_key("k")[1]
        req = EditRequest.create(prompt="p", images=[data_uri(png())], max_images=1, size="64*64")
        ids = [
            api.submissions.submit(key, Submission(model="m", request=req, webhook=receiver.url))[0]["id"]
            for _ in range(12)
        ]
        _until(lambda: len(receiver.deliveries) >= 12)
        time.sleep(0.5)  # a second post of any of them would arrive meanwhile
        posted = collections.Counter(h["webhook-id"] for h, _ in receiver.deliveries)
        assert posted == {f"{i}-completed": 1 for i in ids}
        assert {api.store.get(i)["status"] for i in ids} == {"completed"}
    finally:
        for s in (*workers, api):
            s.stop()
        receiver.close()
