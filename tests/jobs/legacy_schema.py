"""A frozen copy of the schema the last release without migrations made (commit f49214a's
``metadata.create_all``), and rows in every table, for the migration tests.

Copied verbatim from that commit's ``src/seqedit/jobs/store.py`` (``git show f49214a:src/seqedit/jobs/store.py``):
never edit the tables below to follow ``store.py`` — they are what real databases out there look like.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from seqedit.jobs.store import hash_key

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


LEGACY_TOKEN = "sk_legacy-release-key-0123456789"
KEY_ID = "k" * 32
STATUSES = ("created", "processing", "completed", "failed", "cancelled")


def create_release_database(url: str) -> dict[str, Any]:
    """Make the release's tables at ``url`` (as that release's ``Store`` did: ``create_all``, then its
    predictions indexes with ``checkfirst``) and fill every table; returns what was written."""
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        for index in predictions.indexes:
            index.create(engine, checkfirst=True)
        with engine.begin() as c:
            return _fill(c)
    finally:
        engine.dispose()


def _fill(c: sa.Connection) -> dict[str, Any]:
    now = time.time()
    c.execute(
        api_keys.insert().values(
            id=KEY_ID,
            name="from the release",
            key_hash=hash_key(LEGACY_TOKEN),
            prefix=LEGACY_TOKEN[:10],
            webhook_secret="whsec_legacy",
            concurrency=None,
            created_at=now - 100,
            revoked_at=None,
        )
    )
    ids = {}
    for n, status in enumerate(STATUSES):
        pid = f"{status[:4]}{n:028d}"
        ids[status] = pid
        terminal = status in ("completed", "failed", "cancelled")
        c.execute(
            predictions.insert().values(
                id=pid,
                key_id=KEY_ID,
                model="bytedance/seedream-v4/edit-sequential",
                status=status,
                input={"prompt": f"legacy {status}", "max_images": 2},
                request={"prompt": f"legacy {status}", "max_images": 2, "seed": 7},
                base64=False,
                webhook_url="http://127.0.0.1:9/hook" if status == "completed" else None,
                idempotency_key=f"idem-{status}",
                attempt=1 if status != "created" else 0,
                releases=0,
                lease_until=now + 30 if status == "processing" else 0.0,
                enqueued_at=now - 50 + n,
                cancel_requested=status == "cancelled",
                progress_done=2 if status == "completed" else 0,
                progress_total=2,
                progress_fraction=1.0 if status == "completed" else 0.0,
                outputs=[f"outputs/{pid}/0.jpeg", f"outputs/{pid}/1.jpeg"] if status == "completed" else [],
                output_format="jpeg",
                error="boom" if status == "failed" else "",
                code=1500 if status == "failed" else 0,
                seed=7,
                warnings=["a legacy warning"] if status == "completed" else [],
                plan={"panels": 2} if status != "created" else None,
                cost="0.06",
                created_at=now - 50 + n,
                started_at=now - 40 if status != "created" else None,
                completed_at=now - 30 if terminal else None,
                execution_ms=1234 if terminal else 0,
                inference_ms=1000 if status == "completed" else 0,
                expires_at=now + 86400,
            )
        )
    c.execute(
        uploads.insert().values(
            id="u" * 32,
            key_id=KEY_ID,
            object_key="uploads/legacy/input.png",
            filename="input.png",
            content_type="image/png",
            size=1234,
            state="stored",
            ticket_expires=now - 10,
            created_at=now - 20,
            expires_at=now + 86400,
        )
    )
    c.execute(
        usage.insert().values(
            key_id=KEY_ID,
            prediction_id=ids["completed"],
            model="bytedance/seedream-v4/edit-sequential",
            status="completed",
            images=2,
            cost="0.06",
            created_at=now - 30,
        )
    )
    c.execute(
        webhook_outbox.insert().values(
            prediction_id=ids["completed"],
            key_id=KEY_ID,
            url="http://127.0.0.1:9/hook",
            message_id=f"msg_{ids['completed']}",
            attempts=1,
            next_attempt_at=now - 5,
            delivered_at=None,
            dead=False,
            last_error="connection refused",
            created_at=now - 30,
        )
    )
    return {"now": now, "ids": ids}
