"""``jobs.faults``: which failures are the machine's (retry) and which are the job's (fail)."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy.exc

from seqedit.engines.base import EngineError
from seqedit.jobs.faults import TRANSIENT_ERRNOS, transient
from seqedit.refs import RefError


@pytest.mark.parametrize("code", sorted(TRANSIENT_ERRNOS))
def test_resource_and_io_errnos_are_transient(code):
    fault = transient(OSError(code, "boom"))
    assert fault is not None and fault.kind == errno.errorcode[code]
    assert TRANSIENT_ERRNOS[code] in fault.reason and errno.errorcode[code] in fault.reason


def test_disk_full_reads_as_disk_full():
    fault = transient(OSError(errno.ENOSPC, "No space left on device"))
    assert str(fault) == "disk full (ENOSPC: No space left on device)"


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EACCES, "Permission denied"),
        PermissionError(errno.EPERM, "Operation not permitted"),
        FileNotFoundError(errno.ENOENT, "gone"),
        OSError("no errno at all"),
        ValueError("a bug"),
        RuntimeError("a bug"),
        EngineError("the engine broke its contract"),
        sqlalchemy.exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
    ],
)
def test_the_jobs_own_faults_and_bugs_are_not(exc):
    assert transient(exc) is None


def test_a_wrapped_fault_is_found_through_cause_and_context():
    try:
        try:
            raise OSError(errno.EMFILE, "Too many open files")
        except OSError as inner:
            raise RefError("images[0]", "could not read the image", code=1402) from inner
    except RefError as exc:
        assert transient(exc).kind == "EMFILE"
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise EngineError("the engine failed") from None  # context kept, only its display suppressed
    except EngineError as exc:
        assert transient(exc).kind == "ENOSPC"


def test_a_cycle_of_contexts_ends():
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert transient(a) is None


def test_database_gone_is_transient():
    gone = sqlalchemy.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))
    fault = transient(gone)
    assert fault.kind == "database" and "unable to open database file" in fault.reason
    locked = sqlalchemy.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    assert transient(locked).kind == "database"
    dropped = sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("server closed the connection"))
    assert transient(dropped) is None
    dropped.connection_invalidated = True
    assert transient(dropped).kind == "database"
    assert transient(sqlalchemy.exc.TimeoutError("QueuePool limit reached")).kind == "database"


_OUT_OF_FDS = textwrap.dedent(
    """
    import os, resource, sys, tempfile
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    from seqedit.jobs.faults import is_panic, transient
    from seqedit.storage import ObjectStorage
    storage = ObjectStorage(tempfile.mkdtemp())
    if sys.argv[1] == "warm":
        storage.put("outputs/p/1/warm.jpg", b"x")  # obstore's runtime exists before the fds run out
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    try:
        storage.put("outputs/p/1/0.jpg", b"x")
    except BaseException as exc:
        for fd in held:
            os.close(fd)
        fault = transient(exc)
        print(type(exc).__name__, is_panic(exc), fault.kind if fault else None)
    else:
        print("no error")
    """
)


@pytest.mark.parametrize(
    ("runtime", "raised"), [("warm", ["GenericError", "False"]), ("cold", ["PanicException", "True"])]
)
def test_obstore_out_of_file_descriptors_is_emfile(runtime, raised):
    """A real ``LocalStore`` with no file descriptor left (a child process with a limit of 64): once
    obstore's runtime exists it raises a ``GenericError`` that spells ``(os error 24)`` (no errno);
    before, building the runtime panics (a ``BaseException``). Both are EMFILE."""
    out = subprocess.run([sys.executable, "-c", _OUT_OF_FDS, runtime], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == [*raised, "EMFILE"], out.stderr


def test_obstore_errors_without_an_os_error_and_other_kinds():
    import obstore.exceptions

    assert transient(obstore.exceptions.GenericError("connection reset by the store")).kind == "storage"
    assert transient(obstore.exceptions.GenericError("No space left on device (os error 28)")).kind == "ENOSPC"
    assert transient(obstore.exceptions.GenericError("Permission denied (os error 13)")) is None
    assert transient(obstore.exceptions.PermissionDeniedError("denied")) is None
    assert transient(obstore.exceptions.InvalidPathError("bad path")) is None


@pytest.mark.parametrize("code", [errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.EPIPE])
def test_a_remote_object_stores_network_errors_are_transient(code):
    """obstore spells a socket error of its S3 client over several lines of its debug text; those count
    as the machine's (the store is briefly unreachable), while a permission error inside it does not."""
    from obstore.exceptions import GenericError

    text = f"Generic S3 error: error sending request\n\nDebug source:\n    Os {{\n        code: {code},\n    }}"
    fault = transient(GenericError(text))
    assert fault is not None and fault.kind == "storage" and errno.errorcode[code] in fault.reason
    assert transient(GenericError("Generic S3 error: failed (os error 13)")) is None  # EACCES


def test_a_reference_url_that_refuses_connections_is_the_jobs_fault():
    """Network errnos count only inside the object store's errors: an image URL nobody answers fails
    the job (1402) instead of retrying it."""
    assert transient(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")) is None
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        except OSError:
            raise RefError("images[0]", "failed to download the image", code=1402) from None
    except RefError as exc:
        assert transient(exc) is None


def test_an_outage_is_one_warning_then_one_recovery_line(caplog):
    import logging

    import sqlalchemy.exc

    from seqedit.jobs.faults import Outage

    logger = logging.getLogger("seqedit.test-outage")
    outage = Outage(logger, "webhook dispatch")
    gone = sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))
    with caplog.at_level(logging.INFO, logger="seqedit.test-outage"):
        for _ in range(50):  # 10 s of a 0.2 s poll
            outage.failed(gone)
        outage.ok()
        outage.ok()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("WARNING", lines[0][1]),
        ("INFO", "webhook dispatch recovered after 50 failed attempt(s)"),
    ]
    assert "database is unavailable" in lines[0][1] and "retrying quietly" in lines[0][1]
    assert all(r.exc_info is None for r in caplog.records)


def test_a_bug_in_a_background_loop_is_an_error_with_its_traceback_every_time(caplog):
    import logging

    from seqedit.jobs.faults import Outage

    logger = logging.getLogger("seqedit.test-outage")
    outage = Outage(logger, "reaper pass")
    with caplog.at_level(logging.INFO, logger="seqedit.test-outage"):
        for _ in range(3):
            try:
                raise KeyError("bug")
            except KeyError as exc:
                outage.failed(exc)
        outage.ok()
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR", "ERROR"]
    assert all(r.exc_info is not None for r in caplog.records)
