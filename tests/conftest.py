"""Fixtures every test package shares."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pg_server():
    """One throw-away PostgreSQL server for the whole run (``None`` when its binaries are missing)."""
    from fixtures.postgres import postgres_server

    with postgres_server() as url:
        yield url
