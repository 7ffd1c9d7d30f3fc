"""The revisions, oldest first by name (Alembic orders them by ``down_revision``, not by file name)."""
