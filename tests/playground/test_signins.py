"""``jobs.signins`` on SQLite and on a real PostgreSQL (skipped without its binaries): a token works
once, within its lifetime, for the key it was issued to; racing exchanges yield exactly one winner."""

from __future__ import annotations

import threading

import pytest

from seqedit.jobs.signins import SignIns
from seqedit.jobs.store import Store

SECRET = b"test-secret"


@pytest.fixture(params=["sqlite", "postgresql"])
def signins(request, tmp_path):
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'signins.db'}")
    else:
        server = request.getfixturevalue("pg_server")
        if server is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not available")
        from fixtures.postgres import fresh_database

        store = Store(fresh_database(server))
    yield SignIns(store.engine, SECRET)
    store.close()


def test_a_token_works_once_for_its_key(signins):
    token = signins.issue("key1")
    assert signins.consume(token) == "key1"
    assert signins.consume(token) is None
    row = signins.get(token.split(".")[0])
    assert row is not None and row["used_at"] is not None and row["key_id"] == "key1"


def test_a_token_expires(signins):
    token = signins.issue("key1", seconds=60, now=1_000_000.0)
    assert signins.consume(token, now=1_000_060.0) is None
    assert signins.consume(token, now=1_000_059.0) == "key1"


def test_a_token_signed_with_another_secret_is_refused_without_spending_the_real_one(signins):
    token = signins.issue("key1")
    other = SignIns(signins.engine, b"another secret")
    assert other.consume(token) is None
    assert signins.consume(token) == "key1"


def test_expired_tokens_are_cleared_when_new_ones_are_issued(signins):
    old = signins.issue("key1", seconds=60, now=1_000_000.0)
    signins.issue("key1", seconds=60, now=1_000_000.0 + 3600)
    assert signins.get(old.split(".")[0]) is None


def test_racing_exchanges_of_one_token_have_exactly_one_winner(signins):
    for _ in range(5):
        token = signins.issue("key1")
        won: list[str | None] = []
        barrier = threading.Barrier(4)

        def take(token: str = token, won: list[str | None] = won, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            won.append(signins.consume(token))

        threads = [threading.Thread(target=take) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(w for w in won if w) == ["key1"], won
