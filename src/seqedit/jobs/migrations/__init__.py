"""The schema's revisions (Alembic), run by :mod:`seqedit.jobs.migrate`; no ``alembic.ini``, no ``env.py``.

Each file in ``versions/`` is one revision: ``revision``, ``down_revision`` and an ``upgrade()`` of
explicit ``op.`` calls with the types written out. A revision never imports ``jobs.store``: it is the
schema *as it was* when the revision was written, so it does not change when ``store.metadata`` does.

Adding a column, table or index to ``store.py``: write ``versions/v000N_<what>.py`` by hand (copy the
newest one, set ``down_revision`` to it), and set ``migrate.HEAD`` to the new revision.
``tests/jobs/test_migrations.py`` compares a database at head with ``store.metadata`` (Alembic's
autogenerate comparison) on SQLite and PostgreSQL and prints what a missing revision must do.

There are no ``downgrade()`` steps: rolling back means restoring the database's backup together with
the older seqedit (an older seqedit refuses a database at a revision it does not know).
"""
