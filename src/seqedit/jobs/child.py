"""Consumers in their own process: the child ``seqedit serve`` runs its jobs in, and the socket between.

Why: a job's Python work (decoding references, encoding panels, the store's writes) and the API's
(parsing, rendering, answering polls) then run on two cores instead of sharing one GIL, still one
command and one data dir. The parent keeps the API and every fleet duty (reaper, webhooks, sweep);
the child (``seqedit _consumers``, roles ``consumers`` only) claims rows from the same database
(``jobs.rowqueue``) and beats its own ``workers`` row, so ``/readyz`` and the ETA count its slots.

The socket (a ``SOCK_SEQPACKET`` socketpair, so each message arrives whole and a closed end reads as
end of file; the child gets its end as an inherited fd), one message each::

    parent → child   w            a job was enqueued: claim now (else the child polls within 0.25 s)
                     x<id>        cancel <id> at once if it runs here (the row's flag is the durable signal)
    child → parent   n<id>[ <status>]  <id>'s row changed (the child's ``Store.watch``), with its status
                                  after the change when known: wake sync waiters, streams and the
                                  poll cache in the parent

Messages are hints on top of the rows. The parent never blocks on a send (a full socket drops the
hint): a lost wake costs one poll interval, a lost cancel one heartbeat (the runner reads the row's
flag). A change notice is a blocking send with a timeout (``SEND_TIMEOUT``), after which the parent's
poll cache still re-reads rows it holds within its own bound. ``supported()``: Linux (SEQPACKET Unix
sockets and ``PR_SET_PDEATHSIG``); elsewhere ``seqedit serve`` runs its consumers in-process.

Lifetimes: the child dies with the parent (``PR_SET_PDEATHSIG`` on Linux; everywhere, the socket's
end of file makes it stop: running jobs are handed back, as on any clean stop). The parent restarts a
child that exited while the parent runs, after ``restart_delay`` seconds doubling up to
``MAX_RESTART_DELAY`` (reset once a child lived ``STABLE_SECONDS``), logging each exit; first it calls
``on_exit``, with which ``serve`` voids the dead child's leases and re-enqueues its jobs at once (else
they come back when their leases run out, through the reaper). ``stop()`` closes the socket and
waits up to ``stop_timeout`` seconds for the child to hand its jobs back, then kills it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

__all__ = ["ChildConsumers", "ParentLink", "die_with_parent", "supported", "FD_ENV", "PARENT_ENV"]

FD_ENV = "SEQEDIT_CONSUMERS_FD"  # the child's end of the socket (set by the parent, read by the child)
PARENT_ENV = "SEQEDIT_CONSUMERS_PARENT"  # the parent's pid, for die_with_parent's race check
MAX_RESTART_DELAY = 30.0
STABLE_SECONDS = 60.0
SEND_TIMEOUT = 5.0  # seconds the child waits for the parent to take a change notice
MESSAGE_BYTES = 256  # an id is 32 characters: every message fits
log = logging.getLogger("seqedit.consumers")


def supported() -> bool:
    """Whether consumers can run in a child process here (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SOCK_SEQPACKET")


class ChildConsumers:
    """The parent's side: spawn and supervise the child, send wakes and cancels, receive changes."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        on_changed: Callable[[str, str | None], None],
        on_exit: Callable[[], None] | None = None,
        restart_delay: float = 1.0,
        stop_timeout: float = 20.0,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.on_changed = on_changed
        self.on_exit = on_exit  # after the child died unexpectedly, before its successor starts
        self.restart_delay = restart_delay
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True, name="seqedit-consumers-supervisor")
        self._supervisor.start()

    def _spawn(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**self.env, FD_ENV: str(theirs.fileno()), PARENT_ENV: str(os.getpid())}
        try:
            self.proc = subprocess.Popen(self.argv, env=env, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        with self._send_lock:
            self._sock = mine
        threading.Thread(target=self._read, args=(mine,), daemon=True, name="seqedit-consumers-link").start()
        log.info("consumer process started", extra={"pid": self.proc.pid})

    def _read(self, sock: socket.socket) -> None:
        while True:
            try:
                message = sock.recv(MESSAGE_BYTES)
            except OSError:
                return
            if not message:  # the child's end closed: it exited (the supervisor restarts it)
                return
            if message.startswith(b"n") and len(message) > 1:
                pid, _, status = message[1:].decode("ascii", "replace").partition(" ")
                try:
                    self.on_changed(pid, status or None)
                except Exception:
                    log.exception("a change notice from the consumer process failed")

    def _supervise(self) -> None:
        delay = self.restart_delay
        while not self._stopping.is_set():
            proc = self.proc
            assert proc is not None
            began = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - began
            delay = self.restart_delay if lived >= STABLE_SECONDS else delay
            log.warning(
                "the consumer process exited; restarting it",
                extra={"pid": proc.pid, "exit_code": code, "restart_in_s": delay},
            )
            if self.on_exit is not None:
                try:
                    self.on_exit()
                except Exception:  # the database is gone: the leases run out instead
                    log.warning("could not recover the dead consumer process's jobs", exc_info=True)
            if self._stopping.wait(delay):
                return
            delay = min(MAX_RESTART_DELAY, delay * 2)
            self.restarts += 1
            self._spawn()

    def _send(self, message: bytes) -> bool:
        with self._send_lock:
            if self._sock is None:
                return False
            try:
                self._sock.send(message, socket.MSG_DONTWAIT)
                return True
            except (BlockingIOError, OSError):  # full (the child is busy) or gone: the rows carry it
                return False

    def wake(self) -> bool:
        """Wake the child's consumers; False when the hint was dropped (the socket full, the child gone)."""
        return self._send(b"w")

    def cancel(self, prediction_id: str) -> bool:
        """Cancel ``prediction_id`` if it runs in the child; False when the hint was dropped."""
        return self._send(b"x" + prediction_id.encode("ascii", "replace"))

    def stop(self) -> int | None:
        """Close the socket (the child stops: running jobs handed back), wait, kill after the timeout.
        Returns the child's exit code."""
        self._stopping.set()
        with self._send_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        proc = self.proc
        if proc is None:
            return None
        try:
            return proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("the consumer process did not stop in %g s; killing it", self.stop_timeout)
            proc.kill()
            return proc.wait()


class ParentLink:
    """The child's side of the socket: wakes and cancels in, change notices out."""

    def __init__(
        self,
        fd: int,
        *,
        on_wake: Callable[[], None],
        on_cancel: Callable[[str], None],
        on_parent_gone: Callable[[], None],
    ) -> None:
        self._sock = socket.socket(fileno=fd)
        self._sock.settimeout(SEND_TIMEOUT)
        self._send_lock = threading.Lock()
        self._on_wake = on_wake
        self._on_cancel = on_cancel
        self._on_parent_gone = on_parent_gone

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True, name="seqedit-parent-link").start()

    def changed(self, prediction_id: str, status: str | None = None) -> None:
        """Tell the parent that ``prediction_id``'s row changed, and its status when known (a
        ``Store.watch`` listener)."""
        message = f"n{prediction_id} {status}" if status else f"n{prediction_id}"
        with self._send_lock:
            try:
                self._sock.send(message.encode("ascii", "replace"))
            except OSError:  # the parent is gone or stuck: it re-reads what it caches (its own bound)
                log.debug("could not send a change notice for %s", prediction_id, exc_info=True)

    def _read(self) -> None:
        while True:
            try:
                message = self._sock.recv(MESSAGE_BYTES)
            except TimeoutError:
                continue
            except OSError:
                message = b""
            if not message:  # the parent closed its end (stopping) or died
                break
            if message == b"w":
                self._on_wake()
            elif message.startswith(b"x") and len(message) > 1:
                self._on_cancel(message[1:].decode("ascii", "replace"))
        self._on_parent_gone()


def die_with_parent(parent: int) -> None:
    """Linux: the kernel sends this process SIGKILL when its parent dies (a SIGKILLed ``serve`` takes
    its consumers with it at once, so a restarted one never meets an orphan holding leases). Elsewhere
    the socket's end of file stops the child instead."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)
