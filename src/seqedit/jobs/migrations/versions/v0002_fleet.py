"""0002: what came after the release: the queue's stored priority, the fleet's tables, sign-in tokens.

* ``predictions.priority`` (queue order, higher first; ``server_default`` 0, so the rows already there
  keep their oldest-first order) and index ``ix_predictions_queue`` (status, priority, created_at);
* ``workers`` (one row per process, its heartbeat; index on ``heartbeat_at``) and ``ticks`` (one lease
  row per periodic duty);
* ``signin_tokens`` (the playground's one-time sign-in tokens, ``jobs/signins.py``).

This is the one revision that checks before each step: builds between the release and this revision
created these objects themselves (``create_all``, ``SignIns``), so a database they made may hold some
of them already; it is stamped 0001 (its release tables checked) and this revision adds the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    tables = set(found.get_table_names())
    had_priority = "priority" in {c["name"] for c in found.get_columns("predictions")}
    if not had_priority:
        op.add_column("predictions", sa.Column("priority", sa.Float(), nullable=False, server_default="0"))
    # the index came with the column: only a database that had the column may have it already
    if not had_priority or "ix_predictions_queue" not in {i["name"] for i in found.get_indexes("predictions")}:
        op.create_index("ix_predictions_queue", "predictions", ["status", "priority", "created_at"])

    if "workers" not in tables:
        op.create_table(
            "workers",
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("host", sa.String(200), nullable=False),
            sa.Column("pid", sa.Integer(), nullable=False),
            sa.Column("roles", sa.String(200), nullable=False),
            sa.Column("engine", sa.String(200), nullable=False),
            sa.Column("concurrency", sa.Integer(), nullable=False),
            sa.Column("started_at", sa.Float(), nullable=False),
            sa.Column("heartbeat_at", sa.Float(), nullable=False),
            sa.Column("stopped_at", sa.Float(), nullable=True),
        )
        op.create_index("ix_workers_heartbeat_at", "workers", ["heartbeat_at"])

    if "ticks" not in tables:
        op.create_table(
            "ticks",
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("holder", sa.String(64), nullable=False),
            sa.Column("until", sa.Float(), nullable=False),
        )

    if "signin_tokens" not in tables:
        op.create_table(
            "signin_tokens",
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("key_id", sa.String(32), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("expires_at", sa.Float(), nullable=False),
            sa.Column("used_at", sa.Float(), nullable=True),
        )
