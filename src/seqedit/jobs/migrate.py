"""The schema's revision: read it, bring a database to ``HEAD`` (Alembic), or refuse it with a reason.

The revisions are the hand-written files in ``jobs/migrations/versions`` (0001: the last release's
``create_all`` schema; 0002: the queue priority, the fleet's tables, sign-in tokens), run through
Alembic's ``MigrationContext`` on a connection we hand it: no ``alembic.ini``, no ``env.py``.

What a database can be, and what happens to it (``upgrade``)::

    empty (none of seqedit's tables)      → created at HEAD: every revision from the base
    legacy (seqedit's tables, no version) → its release tables are checked against 0001 (column and
                                            index names); they match: stamped 0001, then up to HEAD;
                                            they do not: refused (SchemaError naming the differences)
    behind (a known revision < HEAD)      → the revisions after it, in one transaction
    at HEAD                               → nothing (the common case: two queries, Alembic not imported)
    unknown revision (a newer seqedit)    → refused, everywhere: old code must not write to a newer schema

Who upgrades (decided here, documented in docs/service.md):

* ``Store(url)`` upgrades by default (``migrate=True``): embedded SQLite always brings itself to head
  at start, and so do tests and library use on any database.
* ``seqedit serve`` and ``seqedit worker`` first call ``check_current``: on a non-SQLite database that
  holds seqedit's tables at an older revision (or none) they refuse to start (exit 2: "… run `seqedit db
  upgrade`") unless ``SEQEDIT_DB_AUTO_UPGRADE=1``. In a fleet the other replicas still run the old
  code against that database; the operator upgrades once, deliberately (``seqedit db upgrade``, with
  the rollout). An empty database is created at head: there is nothing in it to change.
* ``seqedit db upgrade`` / ``db current`` (``client/cli_db.py``) do it by hand.

Concurrency: the upgrade runs in one transaction that first takes a lock and then reads the revision
again: PostgreSQL ``pg_advisory_xact_lock(SCHEMA_LOCK)`` (released at commit), SQLite the database's
write lock (the ``Store`` engine begins every write transaction with ``BEGIN IMMEDIATE``). Of N processes
starting on one database at once, one migrates and the others wait, then find it at head. Within a
process one lock serialises upgrades: Alembic's ``op`` is a module-level proxy. DDL is transactional
on both backends, so a failed upgrade leaves the database at its old revision.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:  # Alembic is imported only when a database is not at head
    from alembic.script import ScriptDirectory

__all__ = [
    "HEAD",
    "REVISIONS",
    "SchemaError",
    "State",
    "current",
    "upgrade",
    "check_current",
    "history",
    "redact",
]

REVISIONS = ("0001", "0002")  # oldest first; tests check that it is the scripts' own order
HEAD = REVISIONS[-1]
MIGRATIONS = Path(__file__).with_name("migrations")
SCHEMA_LOCK = 0x5EED_ED17_0000_0001  # pg_advisory_xact_lock key: "seqedit schema upgrade"

# The tables builds before migrations created by themselves (create_all, SignIns): one of them and no
# alembic_version is a legacy database. Frozen: every later database carries its revision.
_PRE_MIGRATION = frozenset(
    {"predictions", "api_keys", "uploads", "usage", "webhook_outbox", "workers", "ticks", "signin_tokens"}
)
_RELEASE_TABLES = ("predictions", "api_keys", "uploads", "usage", "webhook_outbox")  # 0001's
_ADDED_BEFORE_0002 = {"predictions": {"priority"}}  # columns 0002 adds that unreleased builds had already

log = logging.getLogger("seqedit.jobs.migrate")
_upgrading = threading.Lock()
_scripts_loaded: ScriptDirectory | None = None
_sqlite_schema: list[str] | None = None  # see _sqlite_copy


class SchemaError(Exception):
    """The database's schema is not one this seqedit can use or bring to head; ``str()`` says why."""


@dataclass(frozen=True)
class State:
    """Where a database stands. ``revision``: its ``alembic_version`` row (None: no row, no table);
    ``tables``: whether any of seqedit's tables is there (tells an empty database from a legacy one)."""

    revision: str | None
    tables: bool

    @property
    def at_head(self) -> bool:
        return self.revision == HEAD

    @property
    def known(self) -> bool:
        return self.revision is None or self.revision in REVISIONS

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.tables

    @property
    def legacy(self) -> bool:
        return self.revision is None and self.tables

    def describe(self) -> str:
        if self.at_head:
            return f"{HEAD} (head)"
        if self.empty:
            return f"none (an empty database; this seqedit needs {HEAD})"
        if self.legacy:
            return f"none (the tables of a release before migrations, 0001 once checked; this seqedit needs {HEAD})"
        if not self.known:
            return f"{self.revision} (unknown to this seqedit, which knows {', '.join(REVISIONS)}: a newer seqedit's)"
        return f"{self.revision} (behind head {HEAD})"


def redact(url: str | sa.URL) -> str:
    """The URL with its password, if any, replaced by ``***`` (for messages and logs)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<a database URL that cannot be parsed>"


def _read(conn: Connection) -> State:
    inspector = sa.inspect(conn)
    if inspector.has_table("alembic_version"):
        found = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
        if len(found) > 1:
            raise SchemaError(f"the database has {len(found)} Alembic heads ({', '.join(found)}); seqedit has one")
        if found:
            return State(found[0], True)
    return State(None, bool(_PRE_MIGRATION & set(inspector.get_table_names())))


def current(engine: Engine) -> State:
    """The database's state, read without a lock and without changing anything."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="DEFERRED")  # the Store engine's BEGIN: a read takes no write lock
        return _read(conn)


def _refuse_unknown(state: State, engine: Engine) -> None:
    if not state.known:
        raise SchemaError(
            f"the database at {redact(engine.url)} is at revision {state.revision}, which this seqedit "
            f"does not know (it knows {', '.join(REVISIONS)}): a newer seqedit upgraded it; run that version"
        )


def upgrade(engine: Engine) -> tuple[State, State]:
    """Bring the database to ``HEAD``; returns its state before and after. Raises ``SchemaError`` for a
    revision this seqedit does not know or legacy tables that are not the release's."""
    before = current(engine)
    if before.at_head:
        return before, before
    _refuse_unknown(before, engine)
    with _upgrading, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        before = _read(conn)  # again, under the lock: another process may have done it meanwhile
        if not before.at_head:
            _refuse_unknown(before, engine)
            if before.legacy:
                _check_release_tables(conn, engine)
            if not _sqlite_copy(conn):
                _run(conn, HEAD, stamp="0001" if before.legacy else None)
            if before.tables:  # a blank database made at head is not news; an upgrade is
                log.info("upgraded the database at %s from %s to %s", redact(engine.url), before.describe(), HEAD)
    return before, State(HEAD, True)


def _sqlite_copy(conn: Connection) -> bool:
    """A blank SQLite database (tests make thousands) gets the schema the revisions made in this
    process's first blank one: SQLite keeps each object's CREATE statement, as altered, in
    ``sqlite_master``, so replaying them, oldest first, is that schema. Runs the revisions (and keeps
    their statements) the first time; False when the database is not SQLite or not blank."""
    global _sqlite_schema
    if conn.dialect.name != "sqlite" or conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
        return False
    if _sqlite_schema is None:
        _run(conn, HEAD)
        found = conn.exec_driver_sql(  # SQLite's own objects (autoindexes, sqlite_sequence) come by themselves
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite%' ORDER BY rowid"
        )
        _sqlite_schema = [row[0] for row in found]
        return True
    for statement in _sqlite_schema:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (HEAD,))
    return True


def check_current(url: str, *, auto_upgrade: bool) -> State:
    """What ``seqedit serve``/``worker`` ask before they start: raises ``SchemaError`` for a revision this
    seqedit does not know, and — on a database other than SQLite, unless ``auto_upgrade`` — for one
    with seqedit's tables at an older revision (or none). Returns the state otherwise (``Store`` then
    brings an empty, SQLite or auto-upgraded database to head). Creates nothing: a SQLite file that is
    not there yet is an empty database."""
    parsed = sa.make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and (not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).exists()):
        return State(None, False)
    engine = sa.create_engine(parsed)
    try:
        state = current(engine)
    finally:
        engine.dispose()
    _refuse_unknown(state, engine)
    if state.at_head or state.empty or is_sqlite or auto_upgrade:
        return state
    at = state.revision or "none (tables from a release before migrations)"
    raise SchemaError(
        f"the database at {redact(parsed)} is at revision {at}, this seqedit needs {HEAD}: "
        "run `seqedit db upgrade` (or set SEQEDIT_DB_AUTO_UPGRADE=1 to let this process do it)"
    )


def history() -> list[tuple[str, str | None, str]]:
    """``(revision, down_revision, first line of its docstring)`` for every revision, oldest first."""
    out = []
    for script in reversed(list(_scripts().walk_revisions())):
        down = script.down_revision
        doc = (script.module.__doc__ or "").strip().splitlines()
        out.append((script.revision, down if isinstance(down, str) or down is None else ",".join(down), doc[0]))
    return out


# ---------------------------------------------------------------------------------------------- internals


def _scripts() -> ScriptDirectory:
    """The revision files, loaded once per process (parsing them is most of an upgrade's own cost)."""
    global _scripts_loaded
    if _scripts_loaded is None:
        from alembic.script import ScriptDirectory

        _scripts_loaded = ScriptDirectory(str(MIGRATIONS))
    return _scripts_loaded


def _run(conn: Connection, target: str, *, stamp: str | None = None) -> None:
    """Run the revisions from the connection's recorded one (after ``stamp``, when given) to ``target``,
    inside the caller's transaction."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    scripts = _scripts()

    def steps(heads: Any, _context: MigrationContext) -> Iterable[Any]:
        return scripts._upgrade_revs(target, heads)  # what alembic.command.upgrade hands the context

    context = MigrationContext.configure(connection=conn, opts={"fn": steps})
    if stamp is not None:
        context.stamp(scripts, stamp)
    with Operations.context(context):
        context.run_migrations()


def _shape(conn: Connection, tables: Iterable[str]) -> dict[str, tuple[set[str], dict[str, list[str]]]]:
    """``table -> (column names, {named index: its columns})`` as the database has them."""
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    return {
        t: (
            {c["name"] for c in inspector.get_columns(t)},
            {
                i["name"]: [str(c) for c in i["column_names"]]
                for i in inspector.get_indexes(t)
                if i["name"] and i["name"].startswith("ix_")
            },
        )
        for t in tables
        if t in present
    }


_release_shape: dict[str, tuple[set[str], dict[str, list[str]]]] | None = None


def _release() -> dict[str, tuple[set[str], dict[str, list[str]]]]:
    """0001's tables, columns and indexes, from revision 0001 itself run on a scratch SQLite database."""
    global _release_shape
    if _release_shape is None:
        scratch = sa.create_engine("sqlite://")
        with scratch.begin() as conn:
            _run(conn, "0001")
            _release_shape = _shape(conn, _RELEASE_TABLES)
        scratch.dispose()
    return _release_shape


def _check_release_tables(conn: Connection, engine: Engine) -> None:
    """A database without a revision but with seqedit's tables is stamped 0001 only if it has 0001's
    tables with exactly their columns (plus the columns 0002 adds, which unreleased builds created)
    and their indexes; otherwise ``SchemaError`` lists what differs. The one exception is what the
    release repaired itself at every start: a ``predictions`` index added after a database was made
    (``ix_predictions_key_status``) is created here, as that release's ``Store`` did."""
    found, expected = _shape(conn, _RELEASE_TABLES), _release()
    problems, repairs = [], []
    for table, (columns, indexes) in expected.items():
        if table not in found:
            problems.append(f"table {table} is missing")
            continue
        has_columns, has_indexes = found[table]
        if missing := sorted(columns - has_columns):
            problems.append(f"{table} lacks column(s) {', '.join(missing)}")
        if extra := sorted(has_columns - columns - _ADDED_BEFORE_0002.get(table, set())):
            problems.append(f"{table} has column(s) no seqedit release made: {', '.join(extra)}")
        absent = sorted(set(indexes) - set(has_indexes))
        if table == "predictions":
            repairs += [f"CREATE INDEX {name} ON predictions ({', '.join(indexes[name])})" for name in absent]
        elif absent:
            problems.append(f"{table} lacks index(es) {', '.join(absent)}")
    if problems:
        raise SchemaError(
            f"the database at {redact(engine.url)} has seqedit's tables but no schema revision, and they are "
            f"not the last release's (0001): {'; '.join(problems)}. Nothing was changed; restore a backup "
            "made by a seqedit release, or move the data to a fresh database"
        )
    for statement in repairs:
        conn.exec_driver_sql(statement)
