"""``jobs.child``: the socket between ``seqedit serve`` and its consumer process, with real processes —
wakes and cancels reach the child, change notices reach the parent, a child that exits is restarted,
``stop`` ends it, and a child dies with a SIGKILLed parent (no orphan holding leases)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from seqedit.jobs import child

pytestmark = pytest.mark.skipif(not child.supported(), reason="consumer processes need Linux")

SRC = str(Path(child.__file__).resolve().parents[2])

# A stand-in for `seqedit _consumers`: answers each wake and cancel with a change notice, exits when
# asked to (a message "x-exit"), and records that it saw its parent go.
ECHO = textwrap.dedent(
    """
    import os, sys, threading, time
    from seqedit.jobs.child import FD_ENV, PARENT_ENV, ParentLink, die_with_parent
    die_with_parent(int(os.environ[PARENT_ENV]))
    done = threading.Event()
    link = None
    def cancel(pid):
        if pid == "-exit":
            os._exit(3)
        link.changed("cancel" + pid, "processing")
    link = ParentLink(int(os.environ[FD_ENV]), on_wake=lambda: link.changed("woken"), on_cancel=cancel,
                      on_parent_gone=done.set)
    link.start()
    link.changed("started-%d" % os.getpid())
    done.wait()
    open(os.environ["MARK"], "w").write("parent gone")
    """
)


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


statuses: list[tuple[str, str | None]] = []


def consumers(tmp_path: Path, seen: list[str]) -> child.ChildConsumers:
    lock = threading.Lock()

    def changed(pid: str, status: str | None = None) -> None:
        with lock:
            seen.append(pid)
            statuses.append((pid, status))

    return child.ChildConsumers(
        [sys.executable, "-c", ECHO],
        env={**os.environ, "PYTHONPATH": SRC, "MARK": str(tmp_path / "mark")},
        on_changed=changed,
        restart_delay=0.05,
        stop_timeout=10.0,
    )


def test_wakes_and_cancels_reach_the_child_and_changes_reach_the_parent(tmp_path):
    seen: list[str] = []
    c = consumers(tmp_path, seen)
    c.start()
    try:
        assert wait_for(lambda: any(s.startswith("started-") for s in seen))
        c.wake()
        c.cancel("abc123")
        assert wait_for(lambda: "woken" in seen and "cancelabc123" in seen)
        assert ("cancelabc123", "processing") in statuses and ("woken", None) in statuses  # the status travels
    finally:
        code = c.stop()
    assert code == 0 and (tmp_path / "mark").read_text() == "parent gone"  # stop = end of file, a clean exit
    assert not c.alive


def test_a_child_that_exits_is_restarted(tmp_path):
    seen: list[str] = []
    c = consumers(tmp_path, seen)
    c.start()
    try:
        assert wait_for(lambda: len([s for s in seen if s.startswith("started-")]) == 1)
        first = c.proc.pid
        c.cancel("-exit")  # the child exits 3, as a crash would
        assert wait_for(lambda: len([s for s in seen if s.startswith("started-")]) == 2)
        assert c.restarts == 1 and c.proc.pid != first and c.alive
        c.wake()  # the new child has its own socket
        assert wait_for(lambda: "woken" in seen)
    finally:
        c.stop()


def test_sends_never_block_the_parent_when_the_child_does_not_read(tmp_path):
    seen: list[str] = []
    c = consumers(tmp_path, seen)
    c.start()
    try:
        assert wait_for(lambda: any(s.startswith("started-") for s in seen))
        os.kill(c.proc.pid, signal.SIGSTOP)  # the child reads nothing now
        sent = [c.wake() for _ in range(20_000)]  # far more than a socket buffers (a blocking send hangs here)
        assert sent[0] and not sent[-1]  # the first went out; once the socket was full, wakes were dropped
        os.kill(c.proc.pid, signal.SIGCONT)
        assert wait_for(lambda: "woken" in seen)  # the child reads again: the wakes that fitted arrive
    finally:
        c.stop()


def test_the_child_dies_with_a_sigkilled_parent(tmp_path):
    parent = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {SRC!r})
        from seqedit.jobs import child
        c = child.ChildConsumers([sys.executable, "-c", {ECHO!r}], env={{**os.environ, "PYTHONPATH": {SRC!r},
                                 "MARK": {str(tmp_path / "mark")!r}}},
                                 on_changed=lambda pid, _status: print(pid, flush=True))
        c.start()
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("started-")
        pid = int(line.removeprefix("started-"))
        proc.kill()
        proc.wait()

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"  # a zombie is dead

        assert wait_for(gone, timeout=10)
        assert not (tmp_path / "mark").exists()  # killed by the kernel at once, not stopping on end of file
    finally:
        proc.kill()
