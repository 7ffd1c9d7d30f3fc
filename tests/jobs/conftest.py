from __future__ import annotations

import pytest

import fixtures.engines  # noqa: F401  (registers the test engines)
from seqedit.config import Settings
from seqedit.jobs.runner import Runner
from seqedit.jobs.store import Store
from seqedit.storage import FileSigner, ObjectStorage

SECRET = b"test-secret"


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, engine="test-fast", lease_seconds=5, progress_interval=0.05)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """Every store and runner test runs on SQLite and on a real PostgreSQL (skipped if absent)."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    else:
        server = request.getfixturevalue("pg_server")
        if server is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not available")
        from fixtures.postgres import fresh_database

        s = Store(fresh_database(server))
    yield s
    s.close()


@pytest.fixture
def storage(tmp_path):
    return ObjectStorage(tmp_path / "objects", signer=FileSigner(SECRET, "http://127.0.0.1:9"))


@pytest.fixture
def runner(store, storage, settings):
    r = Runner(store, storage, settings, secret=SECRET)
    yield r
    r.close()  # its heartbeat thread
