"""Schema migrations (``jobs/migrate.py``, ``jobs/migrations``, ``seqedit db``) on SQLite and PostgreSQL.

A database the last release made (a frozen copy of its ``create_all``, with rows in every table) is
upgraded by the real CLI in a subprocess and stays readable and writable through ``Store``; a
database at head is exactly ``store.metadata`` (Alembic's autogenerate comparison finds nothing, so a
column added without a revision fails here); concurrent starts, unknown revisions, release tables
that do not match, and ``serve``/``worker`` on a PostgreSQL database behind head are each refused or
handled as ``migrate``'s docstring says.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fixtures.server import SEQEDIT, TESTS
from jobs import legacy_schema
from seqedit.jobs import migrate, signins
from seqedit.jobs import store as store_module
from seqedit.jobs.store import Status, Store

TIMEOUT = 120  # a hang guard for subprocesses, never a measurement
ENV = {
    **os.environ,
    "SEQEDIT_PLUGINS": "fixtures.engines",
    "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
}
for _name in ("SEQEDIT_DB_URL", "SEQEDIT_DATA_DIR", "SEQEDIT_DB_AUTO_UPGRADE", "SEQEDIT_QUEUE_URL"):
    ENV.pop(_name, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A URL of a database that does not hold anything yet, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'seqedit.db'}"
    server = request.getfixturevalue("pg_server")
    if server is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not available")
    from fixtures.postgres import fresh_database

    return fresh_database(server)


@pytest.fixture
def pg_url(pg_server):
    if pg_server is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not available")
    from fixtures.postgres import fresh_database

    return fresh_database(pg_server)


def seqedit(*args: str, timeout: float = TIMEOUT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SEQEDIT), *args], capture_output=True, text=True, env={**ENV, **env}, timeout=timeout, cwd="/tmp"
    )


def differences(url: str, *metadatas: sa.MetaData) -> list:
    """What Alembic's autogenerate would write to bring the database to ``metadatas`` (default: the
    store's and the sign-ins' tables): empty when the schema is exactly theirs."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            context = MigrationContext.configure(c, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, list(metadatas or (store_module.metadata, signins.metadata))))
    finally:
        engine.dispose()


def revision_rows(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return [r[0] for r in c.exec_driver_sql("SELECT version_num FROM alembic_version")]
    finally:
        engine.dispose()


def set_revision(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


# ------------------------------------------------------------------------------------ the revisions


def test_the_revisions_are_the_scripts_and_freeze_their_schema():
    """``REVISIONS``/``HEAD`` (read without Alembic on the hot path) are the scripts' own chain, and a
    revision never imports the store's metadata (it would change when the metadata does)."""
    chain = migrate.history()
    assert [r for r, _, _ in chain] == list(migrate.REVISIONS)
    assert [d for _, d, _ in chain] == [None, *migrate.REVISIONS[:-1]]
    assert migrate._scripts().get_current_head() == migrate.HEAD
    for path in (migrate.MIGRATIONS / "versions").glob("v*.py"):
        text = path.read_text()
        assert "seqedit" not in text.split('"""', 2)[2], f"{path.name} imports seqedit code"


def test_a_database_at_head_is_exactly_the_store_metadata(db_url, monkeypatch):
    """Autogenerate's comparison (types and server defaults included) finds no difference between a
    database brought to head by the revisions and ``store.metadata`` + the sign-ins table: a column,
    table or index added to the code without a revision fails here, and the assertion says what the
    revision must do. (SQLite's copy of the schema is the revisions' exactly: the test after next.)"""
    monkeypatch.setattr(migrate, "_sqlite_schema", None)  # the revisions themselves, not a copy
    Store(db_url).close()
    assert differences(db_url) == []
    assert revision_rows(db_url) == [migrate.HEAD]


def test_the_comparison_finds_a_column_or_index_without_a_revision(tmp_path):
    """The no-difference test can fail: the head schema compared with a metadata that has one more
    column and one more index reports both."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store(url).close()
    grown = sa.MetaData()
    for table in store_module.metadata.tables.values():
        table.to_metadata(grown)
    sa.Table("predictions", grown, sa.Column("region", sa.String(32), nullable=True), extend_existing=True)
    sa.Index("ix_predictions_region", grown.tables["predictions"].c.region)
    found = {d[0] if isinstance(d, tuple) else d[0][0] for d in differences(url, grown, signins.metadata)}
    assert {"add_column", "add_index"} <= found


def test_the_sqlite_copy_is_the_revisions_schema(tmp_path, monkeypatch):
    """A blank SQLite database gets the statements the revisions left in the first one's
    ``sqlite_master``: the same objects, the same SQL."""
    monkeypatch.setattr(migrate, "_sqlite_schema", None)
    Store(f"sqlite:///{tmp_path / 'a.db'}").close()  # the revisions
    Store(f"sqlite:///{tmp_path / 'b.db'}").close()  # the copy

    def schema(name: str) -> list[tuple]:
        with sqlite3.connect(tmp_path / name) as c:
            return c.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid").fetchall()

    assert schema("a.db") == schema("b.db") and len(schema("a.db")) > 20
    assert revision_rows(f"sqlite:///{tmp_path / 'b.db'}") == [migrate.HEAD]


def test_a_store_that_does_not_migrate_leaves_the_schema_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store(url, migrate=False).close()
    engine = sa.create_engine(url)
    assert sa.inspect(engine).get_table_names() == []
    assert migrate.current(engine) == migrate.State(None, False)
    engine.dispose()


# ------------------------------------------------------------------- a database the release made


def test_a_release_database_is_upgraded_by_the_cli_without_losing_a_row(db_url):
    made = legacy_schema.create_release_database(db_url)
    ids = made["ids"]

    before = seqedit("db", "current", "--db-url", db_url)
    assert before.returncode == 0, before.stderr
    assert "revision: none (the tables of a release before migrations" in before.stdout

    up = seqedit("db", "upgrade", "--db-url", db_url)
    assert up.returncode == 0, up.stderr
    assert f"upgraded from no revision (release tables, stamped 0001) to {migrate.HEAD} (head)" in up.stdout

    after = seqedit("db", "current", "--db-url", db_url)
    assert after.returncode == 0 and f"revision: {migrate.HEAD} (head)" in after.stdout

    again = seqedit("db", "upgrade", "--db-url", db_url)  # twice: a no-op
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert revision_rows(db_url) == [migrate.HEAD]
    assert differences(db_url) == []

    store = Store(db_url)
    try:
        key = store.find_key(legacy_schema.LEGACY_TOKEN)
        assert key is not None and key["id"] == legacy_schema.KEY_ID and key["webhook_secret"] == "whsec_legacy"
        for status, pid in ids.items():
            row = store.get(pid, legacy_schema.KEY_ID)
            assert row is not None and row["status"] == status
            assert row["input"] == {"prompt": f"legacy {status}", "max_images": 2}
            assert row["priority"] == 0  # the new column's default: the old rows keep their order
        done = store.get(ids["completed"])
        assert done["outputs"] == [f"outputs/{ids['completed']}/0.jpeg", f"outputs/{ids['completed']}/1.jpeg"]
        assert done["warnings"] == ["a legacy warning"] and done["plan"] == {"panels": 2}
        assert store.get(ids["failed"])["code"] == 1500
        rows, total = store.history(legacy_schema.KEY_ID)
        assert total == 5 and {r["id"] for r in rows} == set(ids.values())
        assert store.by_idempotency(legacy_schema.KEY_ID, "idem-created")["id"] == ids["created"]
        due = store.due_webhooks()
        assert [(w["prediction_id"], w["attempts"], w["last_error"]) for w in due] == [
            (ids["completed"], 1, "connection refused")
        ]
        assert store.upload_by_object("uploads/legacy/input.png")["size"] == 1234
        assert [(u["images"], u["cost"]) for u in store.usage_summary() if u["key_id"] == legacy_schema.KEY_ID]
        assert store.queue_position(ids["created"]) == 0

        # the new tables work, and so does a new job from start to finish
        store.heartbeat("w1", host="h", pid=1, roles="consumers", concurrency=1)
        assert [w["id"] for w in store.live_workers(60)] == ["w1"]
        assert store.take_tick("reaper", "w1", 60) and not store.take_tick("reaper", "w2", 60)
        row, created = store.create(
            key_id=legacy_schema.KEY_ID,
            model="m",
            input={"prompt": "new"},
            request={"prompt": "new"},
            total=1,
            output_format="png",
            cost="0.03",
            retention=3600,
            prioritize=lambda active, _lowest: 5.0,
        )
        assert created and store.queue_position(row["id"]) == 0  # priority 5 goes before the old row
        assert store.queue_position(ids["created"]) == 1
        claim = store.claim(row["id"], lease=30, max_attempts=3)
        assert claim is not None
        assert store.add_output(row["id"], claim.attempt, f"outputs/{row['id']}/0.png", lease=30)
        assert store.finish(row["id"], claim.attempt, Status.COMPLETED)
        assert store.get(row["id"])["status"] == "completed"
    finally:
        store.close()


def test_a_database_made_by_an_unreleased_build_is_completed(db_url):
    """Builds between the release and migrations created some of 0002's objects themselves: the
    release tables plus ``signin_tokens`` (sign-ins came first), or everything but it (the fleet's
    tables, by ``create_all``). Either is stamped 0001 and 0002 adds what it lacks."""
    legacy_schema.create_release_database(db_url)
    engine = sa.create_engine(db_url)
    signins.metadata.create_all(engine)
    engine.dispose()
    Store(db_url).close()
    assert differences(db_url) == [] and revision_rows(db_url) == [migrate.HEAD]


def test_a_database_made_by_the_pre_migration_create_all_is_completed(db_url):
    engine = sa.create_engine(db_url)
    store_module.metadata.create_all(engine)  # what Store did one commit before migrations
    engine.dispose()
    Store(db_url).close()
    assert differences(db_url) == [] and revision_rows(db_url) == [migrate.HEAD]


def test_a_release_database_from_before_the_key_status_index_gets_it(db_url):
    """The release created a predictions index added after a database was made at every start; a
    database it never opened (one from before ``ix_predictions_key_status``) gets it at the upgrade."""
    legacy_schema.create_release_database(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as c:
        c.exec_driver_sql("DROP INDEX ix_predictions_key_status")
    engine.dispose()
    Store(db_url).close()
    assert differences(db_url) == [] and revision_rows(db_url) == [migrate.HEAD]


def test_release_tables_that_do_not_match_are_refused_and_left_alone(db_url):
    legacy_schema.create_release_database(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as c:
        c.exec_driver_sql("ALTER TABLE uploads ADD COLUMN colour VARCHAR(10)")
        c.exec_driver_sql("DROP INDEX ix_usage_key_id")
    engine.dispose()
    with pytest.raises(migrate.SchemaError) as refused:
        Store(db_url)
    message = str(refused.value)
    assert "not the last release's (0001)" in message
    assert "uploads has column(s) no seqedit release made: colour" in message
    assert "usage lacks index(es) ix_usage_key_id" in message
    engine = sa.create_engine(db_url)
    assert "alembic_version" not in sa.inspect(engine).get_table_names()  # nothing was changed
    engine.dispose()
    up = seqedit("db", "upgrade", "--db-url", db_url)
    assert up.returncode == 2 and "colour" in up.stderr and "Traceback" not in up.stderr


# --------------------------------------------------------------------------- refusals and locking


def test_a_database_at_an_unknown_revision_is_refused_everywhere(db_url, tmp_path):
    """A newer seqedit's database: Store, `db upgrade` and `serve` (SQLite included) refuse it;
    `db current` names it."""
    Store(db_url).close()
    set_revision(db_url, "0099")
    with pytest.raises(migrate.SchemaError, match="revision 0099, which this seqedit does not know"):
        Store(db_url)
    current = seqedit("db", "current", "--db-url", db_url)
    assert current.returncode == 0 and "0099 (unknown to this seqedit" in current.stdout
    up = seqedit("db", "upgrade", "--db-url", db_url)
    assert up.returncode == 2 and "a newer seqedit upgraded it" in up.stderr
    serve = seqedit("serve", "--engine", "test-fast", "--data-dir", str(tmp_path / "d"), SEQEDIT_DB_URL=db_url)
    assert serve.returncode == 2 and "revision 0099" in serve.stderr and "Traceback" not in serve.stderr
    assert revision_rows(db_url) == ["0099"]


def test_concurrent_starts_on_one_fresh_database_all_succeed(db_url):
    """Four processes open a Store on one blank database at once: one migrates under the lock, the
    others wait and find it at head; none fails, one revision row."""
    code = "import sys; from seqedit.jobs.store import Store; Store(sys.argv[1]).close(); print('ok')"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=TIMEOUT) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [r[1].decode()[-2000:] for r in results]
    assert revision_rows(db_url) == [migrate.HEAD]
    assert differences(db_url) == []


@pytest.mark.parametrize("meanwhile", ["head", "newer"])
def test_a_start_that_waited_for_the_lock_reads_the_revision_again(pg_url, meanwhile):
    """The PostgreSQL lock, deterministically: a Store start that found the database blank waits for
    the advisory lock another session holds; that session brings it to head (or a newer seqedit's
    revision) and lets go; the waiting start then goes by what it reads under the lock: head, nothing
    to do; a newer revision, refused."""
    import threading

    holder = sa.create_engine(pg_url)
    results: list[object] = []
    with holder.connect() as c:
        c.execute(sa.select(sa.func.pg_advisory_lock(migrate.SCHEMA_LOCK)))
        c.commit()
        starter = threading.Thread(target=lambda: results.append(_store_or_error(pg_url)))
        starter.start()
        deadline = time.monotonic() + TIMEOUT
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        while not c.exec_driver_sql(waiting).scalar():  # the starter is past its read, at the lock
            c.commit()
            assert starter.is_alive() and time.monotonic() < deadline, results
            time.sleep(0.02)
        migrate._run(c, migrate.HEAD)  # what the other process does while it holds the lock
        if meanwhile == "newer":
            c.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
        c.commit()
        c.execute(sa.select(sa.func.pg_advisory_unlock(migrate.SCHEMA_LOCK)))
        c.commit()
        starter.join(TIMEOUT)
    holder.dispose()
    if meanwhile == "head":
        assert results == ["ok"]
        assert revision_rows(pg_url) == [migrate.HEAD]
    else:
        assert len(results) == 1 and isinstance(results[0], migrate.SchemaError), results
        assert "revision 0099, which this seqedit does not know" in str(results[0])
        assert revision_rows(pg_url) == ["0099"]


def _store_or_error(url: str) -> object:
    try:
        Store(url).close()
        return "ok"
    except Exception as exc:  # the assertion shows it
        return exc


def test_serve_and_worker_refuse_a_postgresql_database_behind_head(pg_url, tmp_path):
    """On PostgreSQL the operator upgrades: `serve` and `worker` exit 2 naming the revisions and the
    command, with the URL's password hidden; with SEQEDIT_DB_AUTO_UPGRADE=1 a worker upgrades and runs."""
    legacy_schema.create_release_database(pg_url)
    secret_url = pg_url.replace("postgres@", "postgres:hunter2@")  # trust auth: any password connects
    data = tmp_path / "data"
    data.mkdir()
    for command in (["serve", "--port", "9"], ["worker"]):
        r = seqedit(*command, "--engine", "test-fast", "--data-dir", str(data), SEQEDIT_DB_URL=secret_url)
        assert r.returncode == 2, r.stderr
        flat = " ".join(r.stderr.split())
        at = "is at revision none (tables from a release before migrations)"
        assert f"{at}, this seqedit needs {migrate.HEAD}" in flat
        assert "run `seqedit db upgrade`" in flat and "postgres:***@" in flat
        assert "hunter2" not in r.stderr + r.stdout and "Traceback" not in r.stderr
    assert "alembic_version" not in sa.inspect(sa.create_engine(pg_url)).get_table_names()

    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [str(SEQEDIT), "worker", "--engine", "test-fast", "--data-dir", str(data)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**ENV, "SEQEDIT_DB_URL": secret_url, "SEQEDIT_DB_AUTO_UPGRADE": "1"},
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while "seqedit worker:" not in log.read_text():
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=TIMEOUT)
    assert revision_rows(pg_url) == [migrate.HEAD]
    assert "upgraded the database at postgresql+psycopg://postgres:***@" in log.read_text()
    assert "hunter2" not in log.read_text()


def test_serve_on_an_empty_postgresql_database_creates_it_at_head(pg_url):
    """Nothing in it to change: the check passes (``Store`` then creates the schema at head)."""
    assert migrate.check_current(pg_url, auto_upgrade=False) == migrate.State(None, False)
    legacy_schema.create_release_database(pg_url)
    with pytest.raises(migrate.SchemaError, match="run `seqedit db upgrade`"):
        migrate.check_current(pg_url, auto_upgrade=False)
    assert migrate.check_current(pg_url, auto_upgrade=True).legacy


def test_sqlite_behind_head_is_not_refused_it_upgrades_itself(tmp_path):
    url = f"sqlite:///{tmp_path / 'seqedit.db'}"
    legacy_schema.create_release_database(url)
    assert migrate.check_current(url, auto_upgrade=False).legacy
    assert migrate.check_current(f"sqlite:///{tmp_path / 'absent.db'}", auto_upgrade=False).empty
    assert not (tmp_path / "absent.db").exists()
    Store(url).close()
    assert revision_rows(url) == [migrate.HEAD]


# ---------------------------------------------------------------------------------- the db commands


def test_db_commands_on_a_data_dir(tmp_path):
    missing = tmp_path / "nowhere"
    for command in ("current", "upgrade"):
        r = seqedit("db", command, "--data-dir", str(missing))
        assert r.returncode == 2 and str(missing) in r.stderr and "does not exist" in r.stderr
    assert not missing.exists()

    data = tmp_path / "data"
    data.mkdir()
    r = seqedit("db", "current", "--data-dir", str(data))
    assert r.returncode == 2 and "there is no database at" in r.stderr
    assert not (data / "seqedit.db").exists()

    r = seqedit("db", "upgrade", "--data-dir", str(data))
    assert r.returncode == 0 and f"upgraded from empty to {migrate.HEAD} (head)" in r.stdout
    assert (data / "seqedit.db").stat().st_mode & 0o077 == 0  # the owner's only, as serve's
    r = seqedit("db", "current", SEQEDIT_DATA_DIR=str(data))
    assert r.returncode == 0 and f"revision: {migrate.HEAD} (head)" in r.stdout

    r = seqedit("db", "history")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(migrate.REVISIONS)
    assert f"{migrate.HEAD} (head)" in lines[-1] and "f49214a" in lines[0]


def test_urls_are_shown_without_their_password():
    assert migrate.redact("postgresql+psycopg://u:pw@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    assert migrate.redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert "pw" not in migrate.redact("not a url :pw@")


def test_a_bad_or_unreachable_database_is_one_line(tmp_path):
    from fixtures.server import free_port

    r = seqedit("db", "current", "--db-url", "nosuchdialect://x")
    assert r.returncode == 2 and "cannot open the database at" in r.stderr and "Traceback" not in r.stderr
    nobody = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{free_port()}/seqedit"
    for args in (["db", "current"], ["db", "upgrade"]):
        r = seqedit(*args, "--db-url", nobody)
        assert r.returncode == 2 and "the database at postgresql+psycopg://postgres:***@" in r.stderr
        assert "hunter2" not in r.stderr and "Traceback" not in r.stderr
    r = seqedit("worker", "--engine", "test-fast", "--data-dir", str(tmp_path), SEQEDIT_DB_URL=nobody)
    assert r.returncode == 2 and "cannot read the database at" in r.stderr and "hunter2" not in r.stderr
    r = seqedit("serve", "--engine", "test-fast", "--data-dir", str(tmp_path), SEQEDIT_DB_URL="nosuchdialect://x")
    assert r.returncode == 2 and "cannot open the database at" in r.stderr and "Traceback" not in r.stderr
