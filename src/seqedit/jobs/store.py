"""The source of truth: prediction rows and their transitions (SQLAlchemy Core, SQLite or PostgreSQL).

Lifecycle::

    created ──claim──▶ processing ──finish──▶ completed | failed | cancelled    (terminal: sticky)
       │                 │   ▲
       │                 │   └─ claim again once the lease is over: the reaper re-enqueues an expired
       │                 │      lease (attempt − releases < max) or fails it 5000 "worker lost"
       │                 ├─ release (clean stop): lease void now, the attempt not counted (releases + 1)
       │                 └─ retry_later (transient fault): lease ends after a backoff, the attempt counted
       └──cancel──▶ cancelled

Fencing: ``claim`` increments ``attempt`` and sets ``lease_until``; every later write by that run is
``WHERE id=:id AND attempt=:mine AND status='processing'``. A run whose lease expired and whose job
was claimed again (a newer attempt) can therefore never write progress, outputs or a terminal state:
its UPDATEs hit zero rows and it stops. Terminal rows are never updated by a transition again.

The webhook outbox row and the usage row are written in the same transaction as the terminal state.
Other tables: ``api_keys`` (SHA-256 hashes, never the key), ``uploads`` (single-use PUT tickets and
their stored objects) and ``usage``.

Change feed: ``Store.watch(listener)`` registers ``listener(prediction_id, status)``, called after every
committed write that changes what a poll of that prediction shows (create, claim, progress, plan and
warning writes, each panel, terminal states, cancel, release, retry, the reaper's terminal writes,
deletion), in the writing thread, with the row's status after the write when the write knows it (a
waiter for the end of a job need not read the row for a change that is not its end). A lease renewal
alone changes nothing a poll shows and is not reported. The service fans the feed out to sync
waiters, streams and the poll cache; a listener's error is logged, never raised into the write.

Queue in the rows (embedded mode, ``jobs.rowqueue``): ``claim_next`` takes the next claimable row in
queue order with one conditional UPDATE: a ``created`` row, or a ``processing`` row whose lease ran
out and that the reaper re-enqueued since (``enqueued_at > lease_until``), re-enqueued ones first.

Schema: the tables below describe the schema at ``migrate.HEAD``; the revisions in ``jobs/migrations``
create and change them (``Store(url)`` brings a database to head at start, see ``jobs/migrate.py``). A
column, table or index added here needs a revision too: ``tests/jobs/test_migrations.py`` compares.
"""

from __future__ import annotations

import enum
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seqedit.jobs.migrate import upgrade

__all__ = ["Status", "Store", "LimitExceeded", "new_id", "hash_key", "WORKER_LOST", "metadata"]

log = logging.getLogger("seqedit.store")

WORKER_LOST = "worker lost: the job was interrupted {n} times and will not be retried"


class Status(str, enum.Enum):
    CREATED = "created"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def is_terminal(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


TERMINAL = tuple(s.value for s in Status if s.is_terminal())
ACTIVE = (Status.CREATED.value, Status.PROCESSING.value)


class LimitExceeded(Exception):
    """The key already has its maximum number of queued and running predictions."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"concurrency limit reached: at most {limit} queued or running predictions per key")
        self.limit = limit


def new_id() -> str:
    return uuid.uuid4().hex


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


metadata = sa.MetaData()

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("input", sa.JSON, nullable=False),  # echo of the accepted inputs
    sa.Column("request", sa.JSON, nullable=False),  # EditRequest.to_dict()
    sa.Column("base64", sa.Boolean, nullable=False, default=False),
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("releases", sa.Integer, nullable=False, default=0),  # attempts handed back on a clean stop
    sa.Column("lease_until", sa.Float, nullable=False, default=0.0),
    sa.Column("enqueued_at", sa.Float, nullable=False, default=0.0),
    sa.Column("priority", sa.Float, nullable=False, default=0.0, server_default="0"),  # queue order, higher first
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("progress_done", sa.Integer, nullable=False, default=0),
    sa.Column("progress_total", sa.Integer, nullable=False, default=0),
    sa.Column("progress_fraction", sa.Float, nullable=False, default=0.0),  # the engine's own report
    sa.Column("outputs", sa.JSON, nullable=False),  # object keys, in panel order
    sa.Column("output_format", sa.String(8), nullable=False, default="jpeg"),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("code", sa.Integer, nullable=False, default=0),
    sa.Column("seed", sa.BigInteger, nullable=True),
    sa.Column("warnings", sa.JSON, nullable=False),
    sa.Column("plan", sa.JSON, nullable=True),
    sa.Column("cost", sa.String(32), nullable=False, default="0"),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("completed_at", sa.Float, nullable=True),
    sa.Column("execution_ms", sa.Integer, nullable=False, default=0),
    sa.Column("inference_ms", sa.Integer, nullable=False, default=0),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.UniqueConstraint("key_id", "idempotency_key", name="uq_predictions_idempotency"),
    # a key's queued and running rows (per-key limit, fair rank) without walking its finished ones
    sa.Index("ix_predictions_key_status", "key_id", "status"),
    # the queued rows in queue order (a waiting job's position)
    sa.Index("ix_predictions_queue", "status", "priority", "created_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, default=""),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("webhook_secret", sa.String(100), nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("object_key", sa.String(400), nullable=False, unique=True),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False, default=""),
    sa.Column("size", sa.Integer, nullable=False, default=0),
    sa.Column("state", sa.String(16), nullable=False),  # pending | writing | stored
    sa.Column("ticket_expires", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

usage = sa.Table(
    "usage",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("prediction_id", sa.String(32), nullable=False, unique=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("images", sa.Integer, nullable=False),
    sa.Column("cost", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(32), nullable=False, index=True),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("message_id", sa.String(100), nullable=False, unique=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False, index=True),
    sa.Column("delivered_at", sa.Float, nullable=True),
    sa.Column("dead", sa.Boolean, nullable=False, default=False),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
)


# One row per seqedit process that runs roles against this database (API replicas, workers), renewed
# every few seconds: /readyz asks whether any consumer is alive anywhere, an ETA how many slots there are.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),  # comma-separated, as service.ROLES
    sa.Column("engine", sa.String(200), nullable=False, default=""),
    sa.Column("concurrency", sa.Integer, nullable=False, default=0),  # consumer threads (0: no consumers)
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False, index=True),
    sa.Column("stopped_at", sa.Float, nullable=True),
)

# A periodic duty (reaper pass, retention sweep) runs once per tick across every process: the process
# that moves ``until`` forward (one conditional UPDATE) runs it; the others find the tick taken.
ticks = sa.Table(
    "ticks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("until", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class Claim:
    attempt: int
    row: dict[str, Any]


# A key's queued and running rows, counted up to :at_most (index ix_predictions_key_status).
_ACTIVE_COUNT = sa.select(sa.func.count()).select_from(
    sa.select(predictions.c.id)
    .where(predictions.c.key_id == sa.bindparam("b_key_id"), predictions.c.status.in_(ACTIVE))
    .limit(sa.bindparam("at_most"))
    .subquery()
)


# The hot path's statements, built once with bind parameters: building and compiling a statement per
# call cost 4-10x executing it (a claim with its subqueries ~0.9 ms of CPU, now ~0.1 ms).
_P = predictions.c
# (bind names carry a ``b_`` prefix: SQLAlchemy reserves the column names in an UPDATE's SET)
_NOW: sa.BindParameter[float] = sa.bindparam("b_now", type_=sa.Float)
_LEASE: sa.BindParameter[float] = sa.bindparam("b_lease", type_=sa.Float)
_MAX: sa.BindParameter[int] = sa.bindparam("b_max_attempts", type_=sa.Integer)
_ID: sa.BindParameter[str] = sa.bindparam("b_pid", type_=sa.String)
_ATTEMPT: sa.BindParameter[int] = sa.bindparam("b_attempt", type_=sa.Integer)
_FENCED = sa.and_(_P.id == _ID, _P.attempt == _ATTEMPT, _P.status == Status.PROCESSING.value)
_CLAIMING = predictions.update().values(
    status=Status.PROCESSING.value,
    attempt=_P.attempt + 1,
    lease_until=_NOW + _LEASE,
    started_at=sa.func.coalesce(_P.started_at, _NOW),
    outputs=[],
    progress_done=0,
    progress_fraction=0.0,
)
_CLAIMABLE = sa.and_(_P.cancel_requested.is_(False), _P.attempt - _P.releases < _MAX)
_CLAIM_ID = _CLAIMING.where(
    _P.id == _ID,
    _CLAIMABLE,
    sa.or_(
        _P.status == Status.CREATED.value,
        sa.and_(_P.status == Status.PROCESSING.value, _P.lease_until < _NOW),
    ),
).returning(*predictions.c)


def _claim_next(claimable: Any, *order: Any) -> sa.Update:
    """Claim the first row by ``order`` among those ``claimable`` (the conditions again on the row
    itself: a concurrent claim, on PostgreSQL, is re-checked)."""
    pick = sa.select(_P.id).where(claimable, _CLAIMABLE).order_by(*order).limit(1).scalar_subquery()
    return _CLAIMING.where(_P.id == pick, claimable, _CLAIMABLE).returning(*predictions.c)


_CLAIM_NEXT = (
    # re-enqueued by the reaper after its lease ran out: it has waited longest
    _claim_next(
        sa.and_(_P.status == Status.PROCESSING.value, _P.lease_until < _NOW, _P.enqueued_at > _P.lease_until),
        _P.enqueued_at,
    ),
    _claim_next(_P.status == Status.CREATED.value, _P.priority.desc(), _P.created_at),
)
_RENEW = predictions.update().where(_FENCED).values(lease_until=_NOW + _LEASE).returning(_P.cancel_requested)
_RENEWALS: dict[frozenset[str], sa.Update] = {}


def _renew_writing(columns: frozenset[str]) -> sa.Update:
    """``_RENEW`` that also writes ``columns`` (bound as ``b_<column>``), built once per set of columns
    (a run writes a few sets: its plan, progress, warnings)."""
    statement = _RENEWALS.get(columns)
    if statement is None:
        bound = {name: sa.bindparam(f"b_{name}", type_=predictions.c[name].type) for name in sorted(columns)}
        statement = _RENEWALS[columns] = _RENEW.values(**bound)
    return statement


_OUTPUTS = sa.select(_P.outputs, _P.progress_total, _P.progress_fraction).where(_FENCED)
_ADD_OUTPUT = (
    predictions.update()
    .where(_FENCED)
    .values(
        outputs=sa.bindparam("b_outputs", type_=sa.JSON),
        progress_done=sa.bindparam("b_done"),
        lease_until=_NOW + _LEASE,
        progress_fraction=sa.bindparam("b_fraction"),
    )
)
_FENCED_ROW = sa.select(predictions).where(_FENCED)
_ENDING = dict(
    status=sa.bindparam("b_status"),
    code=sa.bindparam("b_code"),
    error=sa.bindparam("b_error"),
    completed_at=sa.bindparam("b_completed_at"),
    lease_until=0.0,
    execution_ms=sa.bindparam("b_execution_ms"),
    inference_ms=sa.bindparam("b_inference_ms"),
)
_FINISH = {  # the fenced terminal write: completed keeps the outputs, any other ending drops them
    True: predictions.update()
    .where(_FENCED)
    .values(
        **_ENDING,
        progress_fraction=1.0,
        outputs=sa.bindparam("b_outputs", type_=sa.JSON),
        progress_done=sa.bindparam("b_done"),
    ),
    False: predictions.update().where(_FENCED).values(**_ENDING, outputs=[], progress_done=sa.bindparam("b_done")),
}
_GET = sa.select(predictions).where(_P.id == _ID)
_GET_OWN = sa.select(predictions).where(_P.id == _ID, _P.key_id == sa.bindparam("b_key_id"))
_ME = predictions.alias("me")
_QUEUE_POSITION = (  # the queued rows ahead of :pid in queue order, as one row; no row when :pid is not queued
    sa.select(
        sa.select(sa.func.count())
        .select_from(predictions)
        .where(
            _P.status == Status.CREATED.value,
            sa.or_(
                _P.priority > _ME.c.priority,
                sa.and_(_P.priority == _ME.c.priority, _P.created_at < _ME.c.created_at),
            ),
        )
        .scalar_subquery()
    )
    .select_from(_ME)
    .where(_ME.c.id == _ID, _ME.c.status == Status.CREATED.value)
)
_INSERT = predictions.insert()
_INSERT_UPLOAD = uploads.insert()
_INSERT_USAGE = usage.insert()
_INSERT_OUTBOX = webhook_outbox.insert()


# The lowest priority among a key's queued rows (index ix_predictions_key_status): a new job never goes
# ahead of its own key's queued ones.
_LOWEST_QUEUED = sa.select(sa.func.min(predictions.c.priority)).where(
    predictions.c.key_id == sa.bindparam("b_key_id"), predictions.c.status == Status.CREATED.value
)


def _json_text(value: Any) -> str:
    """The JSON columns' serializer: orjson (a plan with its verdicts took ~0.2 ms with the standard
    encoder), the standard one for what orjson refuses (integers past 64 bits, non-string keys)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _lost(row: Mapping[str, Any]) -> str:
    """The "worker lost" message, naming the last transient fault when one was recorded (``retry_later``
    keeps it in ``error``): after a database outage that is the only trace of why."""
    message = WORKER_LOST.format(n=row["attempt"] - row["releases"])
    return f"{message}; the last fault: {row['error']}"[:1000] if row.get("error") else message


class Store:
    """All reads and transitions. Thread-safe; one instance per process."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        """``migrate``: bring the database to the schema's head (``jobs.migrate.upgrade``; raises
        ``SchemaError`` for a revision this seqedit does not know). False leaves the schema alone, for
        callers that read or upgrade it themselves (``seqedit db``)."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock()
        self._listeners: list[Callable[[str, str | None], None]] = []
        self._host_lock: int | None = None
        if self.is_sqlite:
            memory = url in ("sqlite://", "sqlite:///:memory:")
            pool = {"poolclass": sa.pool.StaticPool} if memory else {"pool_size": 20, "max_overflow": 40}
            self.engine: Engine = sa.create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                json_serializer=_json_text,
                json_deserializer=orjson.loads,
                **pool,
            )
            self._sqlite_pragmas()
            if not memory and self.engine.url.database:
                # the writers of every process on this host (serve and its consumer process) queue on
                # one kernel lock, which hands over at once, not on SQLite's busy handler (sleeps)
                path = f"{os.path.abspath(self.engine.url.database)}-writer.lock"
                self._host_lock = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        else:
            self.engine = sa.create_engine(
                url, pool_pre_ping=True, json_serializer=_json_text, json_deserializer=orjson.loads
            )
        if migrate:  # to head through the revisions in jobs/migrations (a no-op at head: two queries)
            upgrade(self.engine)

    def _sqlite_pragmas(self) -> None:
        @sa.event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(self.engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            # Writers take the write lock up front: read-modify-write transitions cannot interleave.
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            conn.exec_driver_sql(f"BEGIN {mode}")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                yield conn
            return
        # One writer at a time in this process, and (the host lock) on this host: writers queue on locks
        # that wake them at once, instead of on SQLite's busy handler, which sleeps in 25-100 ms steps
        # (tail latency; two processes write: `serve` and its consumer process).
        with self._write_lock:
            if self._host_lock is not None:
                fcntl.flock(self._host_lock, fcntl.LOCK_EX)
            try:
                with self.engine.begin() as conn:
                    yield conn
            finally:
                if self._host_lock is not None:
                    fcntl.flock(self._host_lock, fcntl.LOCK_UN)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="DEFERRED")
            yield conn

    def close(self) -> None:
        self.engine.dispose()
        if self._host_lock is not None:
            os.close(self._host_lock)
            self._host_lock = None

    def watch(self, listener: Callable[[str, str | None], None]) -> None:
        """Call ``listener(prediction_id, status)`` after each committed write that changes what a poll
        shows; ``status`` is the row's status after the write when the write knows it (None: read it)."""
        self._listeners.append(listener)

    def _changed(self, *ids: str, status: str | None = None) -> None:
        for listener in self._listeners:
            for pid in ids:
                try:
                    listener(pid, status)
                except Exception:  # a listener's bug must not fail a committed write
                    log.exception("a change listener failed for prediction %s", pid)

    # ---------------------------------------------------------------- predictions: create & read

    def create(
        self,
        *,
        key_id: str,
        model: str,
        input: dict[str, Any],
        request: dict[str, Any],
        total: int,
        output_format: str,
        cost: str,
        retention: float,
        base64: bool = False,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        limit: int | None = None,
        now: float | None = None,
        prediction_id: str | None = None,
        stored_uploads: list[dict[str, Any]] | None = None,
        count_active: int = 0,
        prioritize: Callable[[int, float | None], float] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Insert a ``created`` row. Returns ``(row, True)``, or ``(existing, False)`` for a repeated
        ``idempotency_key``. Raises ``LimitExceeded`` before inserting when the key is at ``limit``.
        ``stored_uploads`` (``object_key``, ``filename``, ``content_type``, ``size``): objects the request
        refers to that are already in storage (inline images), recorded as ``stored`` uploads of the key
        in the same transaction, so a refused submit records none. ``count_active``: count the key's
        queued and running rows before this one, up to that many, into the returned row's
        ``active_before`` (not a column: the caller's queue rank). ``prioritize(active_before, lowest)``
        (``lowest``: the key's lowest queued priority, None when it has none queued): the
        queue priority stored in the row's ``priority`` (the order ``queue_position`` counts in)."""
        now = time.time() if now is None else now
        with self._write() as c:
            if idempotency_key:
                found = self._idempotent(c, key_id, idempotency_key)
                if found is not None:
                    return found, False
            active = 0
            if limit or count_active:
                if limit and not self.is_sqlite:  # serialise this key's submits (SQLite: one writer anyway)
                    c.execute(sa.select(api_keys.c.id).where(api_keys.c.id == key_id).with_for_update())
                active = self._active(c, key_id, max(limit or 0, count_active))
                if limit and active >= limit:
                    raise LimitExceeded(limit)
            row: dict[str, Any] = dict(
                id=prediction_id or new_id(),
                key_id=key_id,
                model=model,
                status=Status.CREATED.value,
                input=input,
                request=request,
                base64=base64,
                webhook_url=webhook_url,
                idempotency_key=idempotency_key or None,
                attempt=0,
                releases=0,
                lease_until=0.0,
                enqueued_at=now,
                priority=0.0 if prioritize is None else prioritize(active, self._lowest(c, key_id)),
                cancel_requested=False,
                progress_done=0,
                progress_total=total,
                progress_fraction=0.0,
                outputs=[],
                output_format=output_format,
                error="",
                code=0,
                seed=request.get("seed"),
                warnings=[],
                plan=None,
                cost=cost,
                created_at=now,
                started_at=None,
                completed_at=None,
                execution_ms=0,
                inference_ms=0,
                expires_at=now + retention,
            )
            c.execute(_INSERT, row)
            row["active_before"] = active
            for up in stored_uploads or ():
                c.execute(
                    _INSERT_UPLOAD,
                    dict(
                        id=new_id(),
                        key_id=key_id,
                        object_key=up["object_key"],
                        filename=up["filename"],
                        content_type=up["content_type"],
                        size=up["size"],
                        state="stored",
                        ticket_expires=now,
                        created_at=now,
                        expires_at=now + retention,
                    ),
                )
        self._changed(row["id"], status="created")
        return row, True

    def active_count(self, key_id: str, at_most: int | None = None) -> int:
        """The key's queued and running predictions (what a per-key ``limit`` counts), counted up to
        ``at_most`` only: the cost of a count grows with the rows it finds, and callers need to know
        only whether a bound is reached."""
        with self._read() as c:
            return self._active(c, key_id, at_most)

    @staticmethod
    def _lowest(c: Connection, key_id: str) -> float | None:
        """The lowest priority among the key's queued rows (None: it has none queued)."""
        lowest = c.execute(_LOWEST_QUEUED, {"b_key_id": key_id}).scalar()
        return None if lowest is None else float(lowest)

    @staticmethod
    def _active(c: Connection, key_id: str, at_most: int | None) -> int:
        # built once (below the class): building and caching a statement per call cost 3x the query
        return int(c.execute(_ACTIVE_COUNT, {"b_key_id": key_id, "at_most": at_most or 2**62}).scalar_one())

    def get(self, prediction_id: str, key_id: str | None = None) -> dict[str, Any] | None:
        """The row, or None (also when ``key_id`` is given and the row belongs to another key)."""
        with self._read() as c:
            if key_id is None:
                row = c.execute(_GET, {"b_pid": prediction_id}).mappings().first()
            else:
                row = c.execute(_GET_OWN, {"b_pid": prediction_id, "b_key_id": key_id}).mappings().first()
        return None if row is None else dict(row)

    def by_idempotency(self, key_id: str, idempotency_key: str) -> dict[str, Any] | None:
        with self._read() as c:
            return self._idempotent(c, key_id, idempotency_key)

    @staticmethod
    def _idempotent(c: Connection, key_id: str, idempotency_key: str) -> dict[str, Any] | None:
        """The key's prediction created with ``idempotency_key``, or None."""
        p = predictions.c
        row = (
            c.execute(sa.select(predictions).where(p.key_id == key_id, p.idempotency_key == idempotency_key))
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    def history(
        self,
        key_id: str,
        *,
        page: int = 1,
        page_size: int = 20,
        model: str | None = None,
        status: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        cond = [predictions.c.key_id == key_id]
        if model:
            cond.append(predictions.c.model == model)
        if status:
            cond.append(predictions.c.status == status)
        if created_after is not None:
            cond.append(predictions.c.created_at >= created_after)
        if created_before is not None:
            cond.append(predictions.c.created_at <= created_before)
        with self._read() as c:
            total = c.execute(sa.select(sa.func.count()).select_from(predictions).where(*cond)).scalar_one()
            rows = (
                c.execute(
                    sa.select(predictions)
                    .where(*cond)
                    .order_by(predictions.c.created_at.desc(), predictions.c.id)
                    .limit(page_size)
                    .offset((page - 1) * page_size)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows], total

    def counts(self) -> dict[tuple[str, int], int]:
        """(status, code) → number of predictions, for /metrics."""
        with self._read() as c:
            rows = c.execute(
                sa.select(predictions.c.status, predictions.c.code, sa.func.count()).group_by(
                    predictions.c.status, predictions.c.code
                )
            ).all()
        return {(s, code): n for s, code, n in rows}

    def durations(self) -> tuple[int, float]:
        """(count, total seconds) of completed predictions' execution time, for /metrics."""
        with self._read() as c:
            n, total = c.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(predictions.c.execution_ms), 0)).where(
                    predictions.c.status == Status.COMPLETED.value
                )
            ).one()
        return int(n), float(total) / 1000.0

    # ---------------------------------------------------------------- predictions: the worker side

    def claim(self, prediction_id: str, *, lease: float, max_attempts: int, now: float | None = None) -> Claim | None:
        """Take the job: created, or processing with an expired lease, not cancelled, attempts left."""
        now = time.time() if now is None else now
        values = {"b_pid": prediction_id, "b_now": now, "b_lease": lease, "b_max_attempts": max_attempts}
        with self._write() as c:
            found = c.execute(_CLAIM_ID, values).mappings().first()
        if found is None:
            return None
        row = dict(found)
        self._changed(prediction_id, status="processing")
        return Claim(row["attempt"], row)

    def claim_next(self, *, lease: float, max_attempts: int, now: float | None = None) -> Claim | None:
        """Take the next job in queue order (the row queue's pop): a ``processing`` row whose lease ran
        out and that the reaper re-enqueued since, else the first ``created`` row by ``priority``
        (descending) then age; not cancelled, attempts left. One conditional UPDATE … RETURNING per
        kind, in one write transaction; None when nothing is claimable."""
        now = time.time() if now is None else now
        values = {"b_now": now, "b_lease": lease, "b_max_attempts": max_attempts}
        with self._write() as c:
            found = None
            for statement in _CLAIM_NEXT:
                found = c.execute(statement, values).mappings().first()
                if found is not None:
                    break
        if found is None:
            return None
        row = dict(found)
        self._changed(row["id"], status="processing")
        return Claim(row["attempt"], row)

    def _fenced(self, prediction_id: str, attempt: int) -> Any:
        p = predictions.c
        return sa.and_(p.id == prediction_id, p.attempt == attempt, p.status == Status.PROCESSING.value)

    def renew(
        self, prediction_id: str, attempt: int, *, lease: float, now: float | None = None, **values: Any
    ) -> bool | None:
        """Extend the lease (and write ``values``: progress, plan, seed, warnings) as ``attempt``.

        Returns None when fenced off (a newer attempt or a terminal state), else whether a cancel
        was requested."""
        now = time.time() if now is None else now
        params = {"b_pid": prediction_id, "b_attempt": attempt, "b_now": now, "b_lease": lease}
        statement = _RENEW if not values else _renew_writing(frozenset(values))
        params.update({f"b_{k}": v for k, v in values.items()})
        with self._write() as c:
            cancel = c.execute(statement, params).first()
        if cancel is None:
            return None
        if values:
            self._changed(prediction_id, status="processing")
        return bool(cancel[0])

    def add_output(self, prediction_id: str, attempt: int, key: str, *, lease: float, now: float | None = None) -> bool:
        """Append one committed panel (object ``key``) as ``attempt``; False when fenced off."""
        now = time.time() if now is None else now
        fence = {"b_pid": prediction_id, "b_attempt": attempt}
        with self._write() as c:
            found = c.execute(_OUTPUTS, fence).first()
            if found is None:
                return False
            if len(found.outputs) >= found.progress_total:
                raise ValueError(f"prediction {prediction_id} already has its {found.progress_total} outputs")
            outputs = [*found.outputs, key]
            c.execute(
                _ADD_OUTPUT,
                {
                    **fence,
                    "b_outputs": outputs,
                    "b_done": len(outputs),
                    "b_now": now,
                    "b_lease": lease,
                    "b_fraction": max(found.progress_fraction, len(outputs) / max(1, found.progress_total)),
                },
            )
        self._changed(prediction_id, status="processing")
        return True

    def finish(
        self,
        prediction_id: str,
        attempt: int,
        status: Status,
        *,
        code: int = 0,
        error: str = "",
        execution_ms: int | None = None,
        inference_ms: int | None = None,
        output: str | None = None,
        now: float | None = None,
    ) -> bool:
        """The terminal write of ``attempt`` (with its outbox and usage rows). False when fenced off.
        ``output``: the last panel's object key, appended in the same transaction (a completed job's
        last panel and its completion are one write)."""
        assert status.is_terminal()
        assert output is None or status == Status.COMPLETED
        now = time.time() if now is None else now
        with self._write() as c:
            found = c.execute(_FENCED_ROW, {"b_pid": prediction_id, "b_attempt": attempt}).mappings().first()
            if found is None:
                return False
            row = dict(found)
            if output is not None:
                row["outputs"] = [*row["outputs"], output]
                row["progress_done"] = len(row["outputs"])
            if status == Status.COMPLETED and len(row["outputs"]) != row["progress_total"]:
                raise ValueError(
                    f"prediction {prediction_id}: {len(row['outputs'])} outputs committed, "
                    f"{row['progress_total']} required"
                )
            done = self._terminal(
                c,
                row,
                status,
                code=code,
                error=error,
                now=now,
                execution_ms=execution_ms,
                inference_ms=inference_ms,
                guard=None,
                fence={"b_pid": prediction_id, "b_attempt": attempt},
            )
        if done:
            self._changed(prediction_id, status=status.value)
        return done

    def _terminal(
        self,
        c: Connection,
        row: dict[str, Any],
        status: Status,
        *,
        code: int,
        error: str,
        now: float,
        guard: Any,
        fence: dict[str, Any] | None = None,
        execution_ms: int | None = None,
        inference_ms: int | None = None,
    ) -> bool:
        """The terminal write of ``row`` under ``guard``, or (``guard`` None) fenced by ``fence``
        (``b_pid``, ``b_attempt``: the prebuilt statement of ``finish``); then its usage and outbox rows."""
        started = row["started_at"] or now
        completed = status == Status.COMPLETED
        values: dict[str, Any] = dict(
            status=status.value,
            code=code,
            error=error if not completed else "",
            completed_at=now,
            execution_ms=int(execution_ms if execution_ms is not None else max(0.0, now - started) * 1000),
            inference_ms=int(inference_ms if inference_ms is not None else 0),
        )
        done = 0 if status == Status.FAILED else row["progress_done"]
        if guard is None:
            assert fence is not None
            params = {**fence, **{f"b_{k}": v for k, v in values.items()}, "b_done": done}
            if completed:  # the outputs as this transaction saw them (finish may have appended the last)
                params["b_outputs"] = row["outputs"]
            res = c.execute(_FINISH[completed], params)
        else:
            values["lease_until"] = 0.0
            if completed:
                values["progress_fraction"] = 1.0
            else:
                values["outputs"] = []
                values["progress_done"] = done
            res = c.execute(predictions.update().where(guard).values(**values))
        if res.rowcount != 1:
            return False
        images = len(row["outputs"]) if status == Status.COMPLETED else 0
        c.execute(
            _INSERT_USAGE,
            dict(
                key_id=row["key_id"],
                prediction_id=row["id"],
                model=row["model"],
                status=status.value,
                images=images,
                cost=row["cost"] if status == Status.COMPLETED else "0",
                created_at=now,
            ),
        )
        if row["webhook_url"]:
            c.execute(
                _INSERT_OUTBOX,
                dict(
                    prediction_id=row["id"],
                    key_id=row["key_id"],
                    url=row["webhook_url"],
                    message_id=f"{row['id']}-{status.value}",
                    attempts=0,
                    next_attempt_at=now,
                    delivered_at=None,
                    dead=False,
                    last_error="",
                    created_at=now,
                ),
            )
        return True

    def cancel(
        self, prediction_id: str, key_id: str | None = None, *, now: float | None = None
    ) -> dict[str, Any] | None:
        """Cancel: a queued job becomes ``cancelled`` at once; a running one gets ``cancel_requested``
        (its runner stops between panels or through ``Progress``). Terminal rows are left alone."""
        now = time.time() if now is None else now
        p = predictions.c
        with self._write() as c:
            q = sa.select(predictions).where(p.id == prediction_id)
            if key_id is not None:
                q = q.where(p.key_id == key_id)
            found = c.execute(q).mappings().first()
            if found is None:
                return None
            row = dict(found)
            if row["status"] == Status.CREATED.value:
                self._terminal(
                    c,
                    row,
                    Status.CANCELLED,
                    code=0,
                    error="cancelled by the caller",
                    now=now,
                    guard=sa.and_(p.id == prediction_id, p.status == Status.CREATED.value),
                )
            elif row["status"] == Status.PROCESSING.value:
                c.execute(
                    predictions.update()
                    .where(p.id == prediction_id, p.status == Status.PROCESSING.value)
                    .values(cancel_requested=True)
                )
            row = dict(c.execute(sa.select(predictions).where(p.id == prediction_id)).mappings().one())
        self._changed(prediction_id, status=row["status"])
        return row

    def reap(
        self, *, max_attempts: int, stale: float, created_stale: float | None = None, now: float | None = None
    ) -> list[str]:
        """One reaper pass. Expired leases: cancel-requested → cancelled; out of attempts → failed
        5000 "worker lost"; else re-enqueue. Created rows enqueued more than ``stale`` seconds ago are
        (``created_stale``, default ``stale``) are re-enqueued too (a crash between insert and enqueue,
        or a worker killed between dequeue and claim). Returns the ids to enqueue; a duplicate queue
        message is harmless (its claim fails)."""
        now = time.time() if now is None else now
        p = predictions.c
        again: list[str] = []
        ended: list[str] = []
        with self._write() as c:
            lost = (
                c.execute(sa.select(predictions).where(p.status == Status.PROCESSING.value, p.lease_until < now))
                .mappings()
                .all()
            )
            for found in lost:
                row = dict(found)
                guard = self._fenced(row["id"], row["attempt"])
                guard = sa.and_(guard, p.lease_until < now)
                if row["cancel_requested"]:
                    if self._terminal(
                        c, row, Status.CANCELLED, code=0, error="cancelled by the caller", now=now, guard=guard
                    ):
                        ended.append(row["id"])
                elif row["attempt"] - row["releases"] >= max_attempts:
                    if self._terminal(c, row, Status.FAILED, code=5000, error=_lost(row), now=now, guard=guard):
                        ended.append(row["id"])
                elif row["enqueued_at"] <= row["lease_until"] or row["enqueued_at"] < now - stale:
                    # not re-enqueued since the lease ran out (or that was long ago)
                    again.append(row["id"])
            stale_created = (
                c.execute(
                    sa.select(p.id).where(
                        p.status == Status.CREATED.value,
                        p.enqueued_at < now - (stale if created_stale is None else created_stale),
                    )
                )
                .scalars()
                .all()
            )
            again.extend(stale_created)
            if again:
                c.execute(predictions.update().where(p.id.in_(again)).values(enqueued_at=now))
        self._changed(*ended)
        return again

    def requeue(self, prediction_id: str, now: float | None = None) -> bool:
        """Mark a job whose lease ran out (a transient fault's backoff is over) re-enqueued ``now``, so
        the row queue's ``claim_next`` takes it (and the reaper leaves it for a while). False when the
        row is not such a job."""
        now = time.time() if now is None else now
        p = predictions.c
        with self._write() as c:
            res = c.execute(
                predictions.update()
                .where(p.id == prediction_id, p.status == Status.PROCESSING.value, p.lease_until < now)
                .values(enqueued_at=now)
            )
        return res.rowcount == 1

    def release(self, prediction_id: str, attempt: int) -> bool:
        """A clean stop (``seqedit serve`` shutting down): hand the job back at once without counting
        the attempt as lost. The fence stays (``attempt`` is not decremented)."""
        p = predictions.c
        with self._write() as c:
            done = (
                c.execute(
                    predictions.update()
                    .where(self._fenced(prediction_id, attempt))
                    .values(
                        lease_until=0.0,
                        enqueued_at=0.0,
                        releases=p.releases + 1,
                        outputs=[],
                        progress_done=0,
                        progress_fraction=0.0,
                    )
                ).rowcount
                == 1
            )
        if done:
            self._changed(prediction_id, status="processing")
        return done

    def retry_later(
        self, prediction_id: str, attempt: int, *, reason: str, delay: float, now: float | None = None
    ) -> bool:
        """A transient fault (disk full, out of file descriptors, database briefly gone): hand the job
        back for a retry after ``delay`` seconds. Unlike ``release`` the attempt **counts** (``releases``
        is unchanged), so transient faults are bounded by ``max_attempts``. The lease is set to end at
        ``now + delay``: no claim can take the job before then (no hot loop while the disk is full), and
        then the reaper sees an expired lease that was never re-enqueued (``enqueued_at`` = 0) and
        re-enqueues it, or cancels it if a cancel was requested meanwhile. ``error`` keeps ``reason``
        (the last fault; the wire shows ``error`` only for failed and cancelled jobs). The fence stays:
        the next claim increments ``attempt``. False when fenced off."""
        now = time.time() if now is None else now
        with self._write() as c:
            done = (
                c.execute(
                    predictions.update()
                    .where(self._fenced(prediction_id, attempt))
                    .values(
                        lease_until=now + max(0.0, delay),
                        enqueued_at=0.0,
                        error=reason[:500],
                        outputs=[],
                        progress_done=0,
                        progress_fraction=0.0,
                    )
                ).rowcount
                == 1
            )
        if done:
            self._changed(prediction_id, status="processing")
        return done

    def expire_leases(self) -> int:
        """Embedded start-up: no worker of ours survived the previous process, so every lease is void."""
        with self._write() as c:
            return c.execute(
                predictions.update()
                .where(predictions.c.status == Status.PROCESSING.value)
                .values(lease_until=0.0, enqueued_at=0.0)
            ).rowcount

    def active_ids(self) -> list[str]:
        with self._read() as c:
            return list(
                c.execute(
                    sa.select(predictions.c.id)
                    .where(predictions.c.status.in_(ACTIVE))
                    .order_by(predictions.c.created_at)
                ).scalars()
            )

    def queue_depth(self) -> dict[str, int]:
        with self._read() as c:
            rows = c.execute(
                sa.select(predictions.c.status, sa.func.count())
                .where(predictions.c.status.in_(ACTIVE))
                .group_by(predictions.c.status)
            ).all()
        out = {s: 0 for s in ACTIVE}
        out.update({s: n for s, n in rows})
        return out

    def queue_position(self, prediction_id: str) -> int | None:
        """How many queued rows go before this one (0: next), in the queue's order (``priority``
        descending, then oldest first); None when the row is not queued (running, finished or gone).
        One prebuilt statement (a poll of a waiting job asks it)."""
        with self._read() as c:
            found = c.execute(_QUEUE_POSITION, {"b_pid": prediction_id}).first()
        return None if found is None else int(found[0])

    # ---------------------------------------------------------------- processes and periodic duties

    def heartbeat(
        self,
        worker_id: str,
        *,
        host: str,
        pid: int,
        roles: str,
        engine: str = "",
        concurrency: int = 0,
        now: float | None = None,
    ) -> None:
        """Record that process ``worker_id`` is alive (insert on its first beat, then renew)."""
        now = time.time() if now is None else now
        w = workers.c
        with self._write() as c:
            updated = c.execute(
                workers.update()
                .where(w.id == worker_id)
                .values(heartbeat_at=now, roles=roles, engine=engine, concurrency=concurrency, stopped_at=None)
            ).rowcount
            if not updated:
                c.execute(
                    workers.insert().values(
                        id=worker_id,
                        host=host[:200],
                        pid=pid,
                        roles=roles,
                        engine=engine[:200],
                        concurrency=concurrency,
                        started_at=now,
                        heartbeat_at=now,
                        stopped_at=None,
                    )
                )

    def worker_stopped(self, worker_id: str, now: float | None = None) -> None:
        """A clean stop: the process no longer counts as alive (without waiting for its beat to age)."""
        now = time.time() if now is None else now
        with self._write() as c:
            c.execute(workers.update().where(workers.c.id == worker_id).values(stopped_at=now))

    def live_workers(self, within: float, now: float | None = None) -> list[dict[str, Any]]:
        """The processes that beat in the last ``within`` seconds and did not stop, oldest first."""
        now = time.time() if now is None else now
        w = workers.c
        with self._read() as c:
            return [
                dict(r)
                for r in c.execute(
                    sa.select(workers)
                    .where(w.heartbeat_at >= now - within, w.stopped_at.is_(None))
                    .order_by(w.started_at)
                ).mappings()
            ]

    def forget_workers(self, older_than: float, now: float | None = None) -> int:
        """Delete rows of processes silent for ``older_than`` seconds (retention of the workers table)."""
        now = time.time() if now is None else now
        with self._write() as c:
            return c.execute(workers.delete().where(workers.c.heartbeat_at < now - older_than)).rowcount

    def take_tick(self, name: str, holder: str, period: float, now: float | None = None) -> bool:
        """True for exactly one caller per ``period`` across every process sharing this database: the
        one whose conditional UPDATE moved the tick's ``until`` to ``now + period`` (or inserted it)."""
        now = time.time() if now is None else now
        t = ticks.c
        with self._write() as c:
            if c.execute(
                ticks.update().where(t.name == name, t.until <= now).values(holder=holder, until=now + period)
            ).rowcount:
                return True
            if c.execute(sa.select(t.name).where(t.name == name)).first() is not None:
                return False
        try:  # the first tick ever: one insert wins, the others hit the primary key
            with self._write() as c:
                c.execute(ticks.insert().values(name=name, holder=holder, until=now + period))
            return True
        except sa.exc.IntegrityError:
            return False

    # ---------------------------------------------------------------- retention

    def expired(self, now: float | None = None, limit: int = 500) -> tuple[list[str], list[dict[str, Any]]]:
        """(terminal prediction ids, uploads) past their ``expires_at``."""
        now = time.time() if now is None else now
        with self._read() as c:
            preds = list(
                c.execute(
                    sa.select(predictions.c.id)
                    .where(predictions.c.expires_at < now, predictions.c.status.in_(TERMINAL))
                    .limit(limit)
                ).scalars()
            )
            ups = [
                dict(r) for r in c.execute(sa.select(uploads).where(uploads.c.expires_at < now).limit(limit)).mappings()
            ]
        return preds, ups

    def delete_prediction(self, prediction_id: str) -> None:
        with self._write() as c:
            c.execute(webhook_outbox.delete().where(webhook_outbox.c.prediction_id == prediction_id))
            c.execute(predictions.delete().where(predictions.c.id == prediction_id, predictions.c.status.in_(TERMINAL)))
        self._changed(prediction_id)

    def delete_upload(self, upload_id: str) -> None:
        with self._write() as c:
            c.execute(uploads.delete().where(uploads.c.id == upload_id))

    # ---------------------------------------------------------------- API keys and usage

    def create_key(
        self,
        name: str = "",
        *,
        concurrency: int | None = None,
        webhook_secret: str | None = None,
        now: float | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A new key. Returns the plaintext (shown once, never stored) and the row."""
        if webhook_secret is None:
            from seqedit.signing import new_webhook_secret

            webhook_secret = new_webhook_secret()
        token = "sk_" + secrets.token_urlsafe(32)
        row = dict(
            id=uuid.uuid4().hex[:16],
            name=name,
            key_hash=hash_key(token),
            prefix=token[:10],
            webhook_secret=webhook_secret,
            concurrency=concurrency,
            created_at=time.time() if now is None else now,
            revoked_at=None,
        )
        with self._write() as c:
            c.execute(api_keys.insert().values(**row))
        return token, row

    def find_key(self, token: str) -> dict[str, Any] | None:
        with self._read() as c:
            row = (
                c.execute(
                    sa.select(api_keys).where(api_keys.c.key_hash == hash_key(token), api_keys.c.revoked_at.is_(None))
                )
                .mappings()
                .first()
            )
        return None if row is None else dict(row)

    def get_key(self, key_id: str) -> dict[str, Any] | None:
        with self._read() as c:
            row = c.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        return None if row is None else dict(row)

    def list_keys(self) -> list[dict[str, Any]]:
        with self._read() as c:
            return [dict(r) for r in c.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).mappings()]

    def revoke_key(self, id_or_prefix: str, now: float | None = None) -> int:
        k = api_keys.c
        with self._write() as c:
            return c.execute(
                api_keys.update()
                .where(
                    sa.or_(k.id == id_or_prefix, k.prefix == id_or_prefix, k.key_hash == hash_key(id_or_prefix)),
                    k.revoked_at.is_(None),
                )
                .values(revoked_at=time.time() if now is None else now)
            ).rowcount

    def usage_summary(self) -> list[dict[str, Any]]:
        u = usage.c
        with self._read() as c:
            rows = c.execute(
                sa.select(u.key_id, u.status, sa.func.count(), sa.func.sum(u.images), u.cost).group_by(
                    u.key_id, u.status, u.cost
                )
            ).all()
            names: dict[str, Mapping[Any, Any]] = {r["id"]: r for r in c.execute(sa.select(api_keys)).mappings()}
        from decimal import Decimal

        out: dict[str, dict[str, Any]] = {}
        for key_id, status, n, images, cost in rows:
            entry = out.setdefault(
                key_id,
                {
                    "key_id": key_id,
                    "name": names.get(key_id, {}).get("name", ""),
                    "prefix": names.get(key_id, {}).get("prefix", ""),
                    "predictions": 0,
                    "completed": 0,
                    "images": 0,
                    "cost": Decimal(0),
                },
            )
            entry["predictions"] += n
            if status == Status.COMPLETED.value:
                entry["completed"] += n
            entry["images"] += int(images or 0)
            entry["cost"] += Decimal(cost) * n
        return sorted(out.values(), key=lambda e: e["key_id"])

    # ---------------------------------------------------------------- uploads

    def create_upload(
        self,
        *,
        key_id: str,
        object_key: str,
        filename: str,
        content_type: str,
        size: int,
        state: str,
        ticket_seconds: float,
        retention: float,
        upload_id: str | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        now = time.time() if now is None else now
        row = dict(
            id=upload_id or new_id(),
            key_id=key_id,
            object_key=object_key,
            filename=filename,
            content_type=content_type,
            size=size,
            state=state,
            ticket_expires=now + ticket_seconds,
            created_at=now,
            expires_at=now + retention,
        )
        with self._write() as c:
            c.execute(uploads.insert().values(**row))
        return row

    def take_ticket(self, upload_id: str, now: float | None = None) -> dict[str, Any] | None:
        """Single use: the first PUT moves the ticket from ``pending`` to ``writing``; later PUTs get None.
        The PUT claims the ticket before it reads a byte of its body, so a second PUT while one is being
        written is refused at once (it cannot make the server buffer another body); a write that does not
        end ``stored`` hands the ticket back with ``release_ticket``."""
        now = time.time() if now is None else now
        with self._write() as c:
            res = c.execute(
                uploads.update()
                .where(uploads.c.id == upload_id, uploads.c.state == "pending", uploads.c.ticket_expires >= now)
                .values(state="writing")
            )
            if res.rowcount != 1:
                return None
            return dict(c.execute(sa.select(uploads).where(uploads.c.id == upload_id)).mappings().one())

    def release_ticket(self, upload_id: str) -> bool:
        """A PUT that did not finish (the client went away, the body was over the cap or no accepted
        image, the storage write failed with ENOSPC) returns its ticket from ``writing`` to ``pending``,
        so the ticket can be used again until it expires. False when it was not ``writing``."""
        with self._write() as c:
            res = c.execute(
                uploads.update().where(uploads.c.id == upload_id, uploads.c.state == "writing").values(state="pending")
            )
            return res.rowcount == 1

    def store_upload(self, upload_id: str, *, content_type: str, size: int) -> None:
        with self._write() as c:
            c.execute(
                uploads.update()
                .where(uploads.c.id == upload_id)
                .values(state="stored", content_type=content_type, size=size)
            )

    def upload_by_object(self, object_key: str) -> dict[str, Any] | None:
        with self._read() as c:
            row = c.execute(sa.select(uploads).where(uploads.c.object_key == object_key)).mappings().first()
        return None if row is None else dict(row)

    # ---------------------------------------------------------------- webhook outbox

    def due_webhooks(self, now: float | None = None, limit: int = 20) -> list[dict[str, Any]]:
        now = time.time() if now is None else now
        w = webhook_outbox.c
        with self._read() as c:
            return [
                dict(r)
                for r in c.execute(
                    sa.select(webhook_outbox)
                    .where(w.delivered_at.is_(None), w.dead.is_(False), w.next_attempt_at <= now)
                    .order_by(w.next_attempt_at)
                    .limit(limit)
                ).mappings()
            ]

    def claim_webhook(self, outbox_id: int, seen_next_at: float, *, lease: float, now: float | None = None) -> bool:
        """Take one delivery attempt of a due outbox row, so that of every process polling the outbox
        exactly one posts it: the UPDATE moves ``next_attempt_at`` (as read, ``seen_next_at``) to
        ``now + lease``; a sender that dies mid-attempt leaves the row due again once that passes."""
        now = time.time() if now is None else now
        w = webhook_outbox.c
        with self._write() as c:
            return (
                c.execute(
                    webhook_outbox.update()
                    .where(
                        w.id == outbox_id,
                        w.delivered_at.is_(None),
                        w.dead.is_(False),
                        w.next_attempt_at == seen_next_at,
                        w.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=now + lease)
                ).rowcount
                == 1
            )

    def webhook_attempted(
        self,
        outbox_id: int,
        *,
        delivered: bool,
        error: str = "",
        next_at: float = 0.0,
        dead: bool = False,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        w = webhook_outbox.c
        values: dict[str, Any] = {"attempts": w.attempts + 1, "last_error": error[:500]}
        if delivered:
            values["delivered_at"] = now
        else:
            values["next_attempt_at"] = next_at
            values["dead"] = dead
        with self._write() as c:
            c.execute(webhook_outbox.update().where(w.id == outbox_id).values(**values))

    def webhooks(self, prediction_id: str) -> list[dict[str, Any]]:
        with self._read() as c:
            return [
                dict(r)
                for r in c.execute(
                    sa.select(webhook_outbox).where(webhook_outbox.c.prediction_id == prediction_id)
                ).mappings()
            ]

    def webhook_deliveries(self, *, prediction_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Outbox rows, newest first (``seqedit webhooks list``): attempts, last error, delivered or dead."""
        w = webhook_outbox.c
        q = sa.select(webhook_outbox).order_by(w.created_at.desc(), w.id.desc()).limit(limit)
        if prediction_id is not None:
            q = q.where(w.prediction_id == prediction_id)
        with self._read() as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def webhook_counts(self) -> dict[str, int]:
        """Outbox rows by state (``pending``, ``delivered``, ``dead``) for ``/metrics``: one grouped count."""
        w = webhook_outbox.c
        state = sa.case((w.delivered_at.is_not(None), "delivered"), (w.dead.is_(True), "dead"), else_="pending")
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        with self._read() as c:
            for name, n in c.execute(sa.select(state, sa.func.count()).group_by(state)):
                counts[str(name)] = int(n)
        return counts

    # ---------------------------------------------------------------- the fleet's queue: recovery and estimates

    def queued_count(self, enqueued_before: float) -> int:
        """Queued rows whose message went out before ``enqueued_before`` (compared with the queue's own
        count: fewer messages than these rows means the queue lost some)."""
        p = predictions.c
        with self._read() as c:
            return int(
                c.execute(
                    sa.select(sa.func.count())
                    .select_from(predictions)
                    .where(p.status == Status.CREATED.value, p.enqueued_at < enqueued_before)
                ).scalar_one()
            )

    def requeue_queued(self, enqueued_before: float, now: float | None = None) -> list[tuple[str, float]]:
        """The queued rows enqueued before ``enqueued_before``, in queue order, as ``(id, priority)``,
        marked enqueued ``now``: what a queue that lost its messages must be given again."""
        now = time.time() if now is None else now
        p = predictions.c
        with self._write() as c:
            rows = c.execute(
                sa.select(p.id, p.priority)
                .where(p.status == Status.CREATED.value, p.enqueued_at < enqueued_before)
                .order_by(p.priority.desc(), p.created_at)
            ).all()
            ids = [r.id for r in rows]
            for at in range(0, len(ids), 500):  # bounded IN lists
                c.execute(predictions.update().where(p.id.in_(ids[at : at + 500])).values(enqueued_at=now))
        return [(r.id, float(r.priority)) for r in rows]

    def priorities(self, ids: list[str]) -> dict[str, float]:
        """The stored queue priority of each of ``ids`` (a re-enqueue keeps the job's place)."""
        if not ids:
            return {}
        p = predictions.c
        with self._read() as c:
            return {r.id: float(r.priority) for r in c.execute(sa.select(p.id, p.priority).where(p.id.in_(ids)))}

    def recent_executions(self, *, window: float = 3600.0, limit: int = 50, now: float | None = None) -> list[float]:
        """Execution seconds of the last ``limit`` completed predictions created in the last ``window``
        seconds, newest first (a bounded walk of the ``created_at`` index): the per-job figure behind a
        waiting job's ETA."""
        now = time.time() if now is None else now
        p = predictions.c
        with self._read() as c:
            return [
                ms / 1000.0
                for ms in c.execute(
                    sa.select(p.execution_ms)
                    .where(p.created_at >= now - window, p.status == Status.COMPLETED.value)
                    .order_by(p.created_at.desc())
                    .limit(limit)
                ).scalars()
            ]

    def running_count(self, now: float | None = None) -> int:
        """Rows running under a live lease (they hold consumer slots ahead of every queued one; a job
        handed back or waiting out a retry backoff holds none)."""
        now = time.time() if now is None else now
        p = predictions.c
        with self._read() as c:
            return int(
                c.execute(
                    sa.select(sa.func.count())
                    .select_from(predictions)
                    .where(p.status == Status.PROCESSING.value, p.lease_until >= now)
                ).scalar_one()
            )
