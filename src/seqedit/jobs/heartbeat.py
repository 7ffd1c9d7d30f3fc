"""One heartbeat thread for all the running jobs of a process.

A job registers a ``beat`` callable with ``Heartbeat.add`` and gets a ``Pulse`` back; the loop calls
each pulse's ``beat`` once per its ``interval`` (counted from the last renewal: ``Pulse.touch`` says
the job renewed its lease itself, e.g. with a progress write, and pushes the next beat back), until
``Pulse.stop`` (the job ended or was handed back) or until ``beat`` returns False (the job was fenced
off: it is dropped from the loop). One thread whatever the number of jobs, started on the first
``add`` and ended by ``Heartbeat.close`` (a later ``add`` starts a fresh one): a job costs a set
insert and removal, not a thread start and join.

Promises:
- after ``Pulse.stop()`` returns no beat of that pulse runs or is still running: the loop holds the
  pulse's own lock while it beats it and ``stop`` takes that lock, so a renewal in flight is waited
  for (it would otherwise undo a ``release`` or ``retry_later`` that follows);
- one beat that raises or is slow does not stop the others: an exception is logged and that pulse is
  beaten again after its interval; the loop holds no lock but the pulse's own while it beats;
- the loop never calls into a job while holding its own registry lock, so ``add``/``stop`` from job
  threads never wait on a renewal other than their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Heartbeat", "Pulse", "THREAD_NAME"]

log = logging.getLogger("seqedit.runner")

THREAD_NAME = "seqedit-leases"


class Pulse:
    """One job in the loop: its ``beat``, its interval and when it is next due (monotonic seconds)."""

    __slots__ = ("beat", "interval", "due", "lock", "stopped", "_heart")

    def __init__(self, heart: Heartbeat, beat: Callable[[], bool], interval: float) -> None:
        self.beat = beat
        self.interval = interval
        self.due = time.monotonic() + interval
        self.lock = threading.Lock()  # held by the loop while it beats this pulse
        self.stopped = False
        self._heart = heart

    def touch(self) -> None:
        """The job renewed its lease itself: the next beat is one interval from now."""
        self.due = time.monotonic() + self.interval

    def stop(self) -> None:
        """Leave the loop; when this returns no beat of this pulse runs now or later."""
        with self.lock:  # waits for a beat in flight
            self.stopped = True
        self._heart._discard(self)


class Heartbeat:
    """The loop. ``add`` registers a job; ``close`` ends the thread (waiting for a beat in flight)."""

    def __init__(self, name: str = THREAD_NAME) -> None:
        self.name = name
        self._pulses: set[Pulse] = set()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._wake_at = float("inf")  # when the loop's current wait ends (monotonic); inf: idle

    def add(self, beat: Callable[[], bool], interval: float) -> Pulse:
        """Beat ``beat`` every ``interval`` seconds from now on; ``beat`` returns False to leave."""
        pulse = Pulse(self, beat, interval)
        with self._cond:
            self._pulses.add(pulse)
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._loop, args=(self._stop,), daemon=True, name=self.name)
                self._thread.start()
            elif pulse.due < self._wake_at:  # only then must the loop wait less than it does
                self._cond.notify()
        return pulse

    def beating(self) -> int:
        """How many jobs the loop beats now."""
        with self._cond:
            return len(self._pulses)

    def close(self, timeout: float = 5.0) -> None:
        """End the thread (the jobs still registered stay so; a later ``add`` starts a new thread)."""
        with self._cond:
            thread, stop = self._thread, self._stop
            self._thread = self._stop = None
            if stop is not None:
                stop.set()
                self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ------------------------------------------------------------------ internals

    def _discard(self, pulse: Pulse) -> None:
        with self._cond:
            self._pulses.discard(pulse)

    def _loop(self, stop: threading.Event) -> None:
        while True:
            with self._cond:
                while True:
                    if stop.is_set():
                        return
                    now = time.monotonic()
                    wake_at = min((p.due for p in self._pulses), default=float("inf"))
                    if wake_at <= now:
                        break
                    self._wake_at = wake_at
                    self._cond.wait(None if wake_at == float("inf") else wake_at - now)
                self._wake_at = now  # busy: a new pulse is never due before this pass ends
                due = [p for p in self._pulses if p.due <= now]
            for pulse in due:
                self._beat(pulse)

    def _beat(self, pulse: Pulse) -> None:
        with pulse.lock:
            if pulse.stopped:
                return
            pulse.due = time.monotonic() + pulse.interval
            try:
                keep = pulse.beat()
            except Exception:  # a bug in a beat: logged, tried again next interval, the others go on
                log.exception("heartbeat failed")
                keep = True
            if not keep:
                pulse.stopped = True
        if not keep:
            self._discard(pulse)
