"""``seqedit db upgrade|current|history``: the database's schema revision, by hand; and the check
``serve``/``worker`` make before they start (``require_schema``).

The database is ``--db-url``, else ``$SEQEDIT_DB_URL``, else the data dir's SQLite file (``--data-dir``,
``$SEQEDIT_DATA_DIR``). A data dir that does not exist is refused (exit 2, naming it), never created;
``db current`` never creates a database either. URLs are printed with their password as ``***``.
Who upgrades when is ``jobs/migrate.py``'s docstring.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from seqedit.client.cli_common import fail, out

if TYPE_CHECKING:
    from seqedit.config import Settings
    from seqedit.jobs.store import Store

db_app = typer.Typer(
    help="The database's schema revision: show it, bring it to this seqedit's (head).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as the root app
)

DbUrl = typer.Option(None, "--db-url", help="Database URL (default: $SEQEDIT_DB_URL, else the data dir's SQLite file).")
DataDir = typer.Option(None, "--data-dir", help="Data directory (default: $SEQEDIT_DATA_DIR or ./seqedit-data).")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


def _url(db_url: str | None, data_dir: Path | None) -> tuple[str, Path | None]:
    """The database URL and, for the data dir's SQLite, its file; exit 2 for a missing data dir."""
    from seqedit.config import Settings

    settings = Settings(**{k: v for k, v in dict(db_url=db_url, data_dir=data_dir).items() if v is not None})
    if settings.db_url:
        return settings.db_url, None
    folder = Path(settings.data_dir)
    if not folder.is_dir():
        fail(f"the data dir {folder} does not exist (--data-dir, $SEQEDIT_DATA_DIR); nothing was created")
    path = (folder / "seqedit.db").resolve()
    return f"sqlite:///{path}", path


def _open(url: str) -> Store:
    from seqedit.jobs.migrate import redact
    from seqedit.jobs.store import Store

    try:
        return Store(url, migrate=False)
    except Exception as exc:  # a malformed URL, a driver that is not installed
        fail(f"cannot open the database at {redact(url)}: {exc}")


@db_app.command("current")
def current(db_url: str | None = DbUrl, data_dir: Path | None = DataDir) -> None:
    """Print the database's schema revision and whether it is this seqedit's head. Changes nothing."""
    import sqlalchemy as sa

    from seqedit.jobs import migrate

    url, path = _url(db_url, data_dir)
    if path is not None and not path.exists():
        fail(f"there is no database at {path} yet (seqedit creates it at {migrate.HEAD} when it first starts)")
    store = _open(url)
    try:
        state = migrate.current(store.engine)
    except sa.exc.DBAPIError as exc:
        fail(f"cannot read the database at {migrate.redact(url)}: {exc.orig}")
    finally:
        store.close()
    out.print(f"database: {migrate.redact(url)}", soft_wrap=True, highlight=False)
    out.print(f"revision: {state.describe()}", soft_wrap=True, highlight=False)


@db_app.command("upgrade")
def upgrade(db_url: str | None = DbUrl, data_dir: Path | None = DataDir) -> None:
    """Bring the database to this seqedit's schema revision (head); a no-op when it is there. Safe while
    other seqedit processes start: one upgrade runs, under a lock. Refuses a newer revision."""
    import sqlalchemy as sa

    from seqedit.jobs import migrate

    url, path = _url(db_url, data_dir)
    if path is not None:
        from seqedit.datadir import make_private

        make_private(path.parent)  # a database created here is the owner's only, as serve's
    store = _open(url)
    try:
        before, after = migrate.upgrade(store.engine)
    except migrate.SchemaError as exc:
        fail(str(exc))
    except sa.exc.DBAPIError as exc:  # unreachable, or a step failed: one transaction, so nothing changed
        fail(f"cannot upgrade the database at {migrate.redact(url)}: {exc.orig}")
    finally:
        store.close()
    shown = migrate.redact(url)
    if before.at_head:
        out.print(f"{shown}: already at {migrate.HEAD} (head); nothing to do", soft_wrap=True, highlight=False)
    else:
        was = before.revision or ("empty" if before.empty else "no revision (release tables, stamped 0001)")
        out.print(f"{shown}: upgraded from {was} to {after.revision} (head)", soft_wrap=True, highlight=False)


@db_app.command("history")
def history() -> None:
    """List the schema revisions this seqedit knows, oldest first."""
    from seqedit.jobs import migrate

    for revision, _down, doc in migrate.history():
        mark = " (head)" if revision == migrate.HEAD else ""
        summary = (doc.split(":", 1)[1].strip() if doc.startswith(f"{revision}:") else doc).replace("``", "")
        out.print(f"{revision}{mark}  {summary}", soft_wrap=True, highlight=False)


def require_schema(settings: Settings) -> None:
    """For ``serve``/``worker``: exit 2 with the reason when the database's revision is unknown, or —
    not SQLite, not ``SEQEDIT_DB_AUTO_UPGRADE=1`` — behind head (``migrate.check_current``)."""
    import sqlalchemy as sa

    from seqedit.jobs import migrate
    from seqedit.service import database_url

    url = database_url(settings)
    try:
        migrate.check_current(url, auto_upgrade=settings.db_auto_upgrade)
    except migrate.SchemaError as exc:
        fail(str(exc))
    except sa.exc.DBAPIError as exc:
        fail(f"cannot read the database at {migrate.redact(url)}: {exc.orig}")
    except sa.exc.ArgumentError as exc:  # a malformed URL, a driver that is not installed
        fail(f"cannot open the database at {migrate.redact(url)}: {exc}")
