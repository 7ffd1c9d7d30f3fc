from __future__ import annotations

import pytest

import fixtures.engines  # noqa: F401  (registers the test engines)
from seqedit.config import Settings
from seqedit.jobs.runner import Runner
from seqedit.jobs.store import Store
from seqedit.storage import ObjectStorage

SECRET = b"test-secret"


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, engine="test-fast", lease_seconds=5, progress_interval=0.05)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


@pytest.fixture
def storage(tmp_path):
    return ObjectStorage(tmp_path / "objects")


@pytest.fixture
def runner(store, storage, settings):
    return Runner(store, storage, settings, secret=SECRET)
