"""The data dir is private: rows (with webhook secrets and key hashes), the signing secret, uploads
and outputs are readable by the service's own user only, whatever the umask it was started with.

``make_private(path)`` is called by the composition root before anything is opened:

* the process umask becomes ``0o077``, so every file and folder the service creates from then on
  (SQLite's database, WAL and shared-memory files, the queue, the secret, every object) is 0600/0700;
* the data dir is created 0700, and what an earlier, looser run left is tightened: the dir itself and
  the files at its top (0600), and — when the ``objects`` folder was not private yet — every folder
  (0700) and file (0600) under it. A private ``objects`` folder means that walk was already done, so
  a restart with millions of objects does not walk them again.

It returns how many paths it tightened, for the caller's log line.

**Who may use an embedded data dir** (rows in its SQLite file: no ``SEQEDIT_DB_URL``). A ``seqedit
serve`` that runs consumers owns its data dir: at start it voids every lease, since it assumes nothing
of an earlier process survived. A second such ``serve`` on the same dir would void the first one's
leases and run its jobs again from scratch; a ``seqedit worker`` beside it would have its own jobs'
leases voided whenever that ``serve`` restarts. So before the service is built, each process takes a
lock on ``<data_dir>/lock`` with ``fcntl.flock`` (:func:`hold`):

* ``serve`` with consumers (``--workers`` ≥ 1) takes it **exclusive**: it is alone on the dir;
* ``serve --workers 0`` and ``seqedit worker`` take it **shared**: any number of them may run side by
  side (the documented setup: an API process and worker processes on one host), but never beside an
  exclusive holder, nor it beside them.

A process that cannot take its lock does nothing to the data dir (:class:`DataDirBusy`, which the
CLI prints as one line naming the holders: pid, host, command, since when; exit 2). The kernel drops a
``flock`` when its process ends, however it ends, so a SIGKILLed server never leaves a stale lock; the
file stays and only its lock matters. Holder lines (one JSON object per line: pid, host, command,
mode, since) are written into the file for that message: an exclusive holder replaces them, a shared
one appends its own (the first shared holder of a free lock replaces them), and a reader names only
the holders whose process is still alive on this host. The lock file is 0600 like everything here.

With ``SEQEDIT_DB_URL`` (a shared database) the data dir holds no rows and nobody takes the lock:
rows, leases and the fencing token coordinate the processes.

**Commands that only read a data dir** (``keys``, ``usage``, ``webhooks list``) must find one:
:func:`require` refuses a folder without ``seqedit.db`` (:class:`NoDataDir`) rather than creating an
empty data dir that no server reads.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import socket
import stat
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "make_private",
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "LOCK_FILE",
    "DATABASE_FILE",
    "Lock",
    "Mode",
    "DataDirBusy",
    "NoDataDir",
    "hold",
    "holders",
    "require",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(path: Path) -> int:
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True)
    tightened = _tighten(path, PRIVATE_DIR)
    for child in path.iterdir():
        if child.is_symlink():
            continue
        if child.is_file():
            tightened += _tighten(child, PRIVATE_FILE)
        elif child.is_dir():
            loose = _loose(child, PRIVATE_DIR)
            tightened += _tighten(child, PRIVATE_DIR)
            if loose:
                tightened += _tighten_tree(child)
    return tightened


def _tighten_tree(root: Path) -> int:
    tightened = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            tightened += _tighten(Path(folder) / name, PRIVATE_DIR)
        for name in files:
            tightened += _tighten(Path(folder) / name, PRIVATE_FILE)
    return tightened


def _loose(p: Path, mode: int) -> bool:
    return bool(stat.S_IMODE(p.lstat().st_mode) & ~mode)


def _tighten(p: Path, mode: int) -> int:
    """chmod ``p`` to at most ``mode`` (never loosen); 1 if it changed."""
    if p.is_symlink():
        return 0
    current = stat.S_IMODE(p.stat().st_mode)
    wanted = current & mode
    if current == wanted:
        return 0
    p.chmod(wanted)
    return 1


# --------------------------------------------------------------------------------- the lock

LOCK_FILE = "lock"
DATABASE_FILE = "seqedit.db"  # what makes a folder a seqedit data dir (embedded rows)
SHARED_WAIT = 1.0  # seconds a shared taker retries while another shared taker turns a free lock into its own
COMMAND_CHARS = 200  # a holder's command line is cut to this many characters

Mode = Literal["exclusive", "shared"]


class DataDirBusy(Exception):
    """The data dir is held by a process this one cannot share it with."""

    def __init__(self, path: Path, mode: Mode, holders: list[dict[str, Any]]) -> None:
        self.path = path
        self.mode = mode
        self.holders = holders
        super().__init__(self.line())

    def line(self) -> str:
        """One line: who holds the dir, and what to do."""
        named = "; ".join(_describe(h) for h in self.holders) or "a process whose details are not recorded"
        count = len(self.holders)
        who = "another seqedit process" if count <= 1 else f"{count} other seqedit processes"
        if self.mode == "exclusive":
            hint = (
                "a `seqedit serve` that runs consumers (--workers 1 or more) owns its data dir alone: stop "
                f"{'it' if count <= 1 else 'them'}, or give this one another --data-dir (beside `seqedit worker` "
                "processes, run `serve --workers 0`)"
            )
        else:
            hint = (
                "`seqedit worker` and `serve --workers 0` share a data dir only with each other, not with a "
                "`seqedit serve` that runs its own consumers: stop it, or restart it with --workers 0"
            )
        return f"the data dir {self.path} is in use by {who}: {named}; {hint}"


class NoDataDir(Exception):
    """A command that reads a data dir was pointed at a folder that is not one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"no seqedit data dir at {path} (start `seqedit serve --data-dir {shlex.quote(str(path))}` there first, "
            "or pass --data-dir / set SEQEDIT_DATA_DIR)"
        )


@dataclass
class Lock:
    """A held data-dir lock; the kernel releases it when the process ends, ``release`` sooner."""

    path: Path
    mode: Mode
    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def require(path: Path) -> Path:
    """``path`` resolved, if it is a seqedit data dir (it holds ``seqedit.db``); else ``NoDataDir``.
    Creates nothing."""
    resolved = Path(path).resolve()
    if not (resolved / DATABASE_FILE).is_file():
        raise NoDataDir(resolved)
    return resolved


def hold(path: Path, mode: Mode, *, roles: str = "") -> Lock:
    """Take the data dir's lock in ``mode`` (creating the dir 0700 and the lock file 0600), or raise
    ``DataDirBusy`` naming the holders. ``roles`` is recorded for that message."""
    folder = Path(path).resolve()
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    lock_path = folder / LOCK_FILE
    # O_APPEND: shared holders append their lines side by side without overwriting one another's
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # one an older run made looser
        line = _holder_line(mode, roles)
        if mode == "exclusive":
            if not _flock(fd, fcntl.LOCK_EX):
                raise DataDirBusy(folder, mode, holders(folder))
            _replace(fd, line)
        elif _flock(fd, fcntl.LOCK_EX):  # nobody holds it: the old holder lines are stale
            _replace(fd, line)
            if not _flock(fd, fcntl.LOCK_SH):  # the change to shared is not atomic: an exclusive taker won
                raise DataDirBusy(folder, mode, holders(folder))
        else:
            deadline = time.monotonic() + SHARED_WAIT
            while not _flock(fd, fcntl.LOCK_SH):
                # held exclusive: by a serve (refuse), or for an instant by a shared taker writing its line
                if time.monotonic() >= deadline or any(h.get("mode") == "exclusive" for h in holders(folder)):
                    raise DataDirBusy(folder, mode, holders(folder))
                time.sleep(0.02)
            _append(fd, line)
    except BaseException:
        os.close(fd)
        raise
    return Lock(lock_path, mode, fd)


def holders(path: Path) -> list[dict[str, Any]]:
    """The holders recorded in ``<path>/lock`` whose process is alive (those on other hosts are kept:
    their liveness cannot be told from here), newest last."""
    try:
        text = (Path(path) / LOCK_FILE).read_text(errors="replace")
    except OSError:
        return []
    host = socket.gethostname()
    found: list[dict[str, Any]] = []
    for raw in text.splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("pid"), int):
            continue
        if entry.get("host") == host and not _alive(entry["pid"]):
            continue
        if entry not in found:
            found.append(entry)
    return found


def _flock(fd: int, how: int) -> bool:
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _holder_line(mode: Mode, roles: str) -> bytes:
    command = " ".join(["seqedit", *(shlex.quote(a) for a in sys.argv[1:])])
    if len(command) > COMMAND_CHARS:
        command = command[: COMMAND_CHARS - 1] + "…"
    entry = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "mode": mode,
        "roles": roles,
        "since": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return (json.dumps(entry, ensure_ascii=False) + "\n").encode()


def _replace(fd: int, line: bytes) -> None:
    os.ftruncate(fd, 0)
    os.write(fd, line)


def _append(fd: int, line: bytes) -> None:
    os.write(fd, line)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _describe(entry: dict[str, Any]) -> str:
    command = entry.get("command") or "seqedit"
    return f"pid {entry['pid']} on host {entry.get('host', '?')} (`{command}`) since {entry.get('since', '?')}"
