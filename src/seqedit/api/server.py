"""The HTTP server that runs the API, and the limits it puts on every connection.

``seqedit serve`` listens on a socket that anyone who can reach it may open, before any API key is
checked. The threat is a client that spends the server's connections, memory or file descriptors
without ever completing a request:

* **slow heads** (slowloris): a request line and headers sent a byte at a time, never finished;
* **silent sockets**: connections opened and never written to;
* **trickled bodies**: a head with a ``Content-Length`` and then a byte every few seconds;
* **huge heads**: one 100 MiB header, or a hundred thousand small ones, which the parser would
  accumulate in memory (httptools concatenates a header value chunk by chunk and has no limit);
* **too many connections**: each one is a file descriptor; at the process's limit, ``accept`` and
  every ``open`` fail (a running job that cannot open its output file fails with EMFILE).

uvicorn with httptools (kept: it is what the submit latency of ``bench/service.py`` is measured on)
enforces only a keep-alive timeout, armed after a response; it has no header read timeout, no
timeout on a fresh connection, no body timeout, no limit on header bytes or count, and its
``limit_concurrency`` answers 503 only once a head has been parsed, which a slow head never is. So
:class:`LimitedProtocol`, a small subclass of uvicorn's ``HttpToolsProtocol``, adds them in the
protocol layer, where the bytes arrive (an ASGI middleware runs only after the head is parsed):

* ``header_timeout`` — a connection must deliver a complete head within this many seconds of its
  accept, and each later request within this many seconds of its first byte: a **total** deadline,
  not an idle one, so a byte every second does not extend it. Then: ``408`` (if any byte of the head
  came) and the connection is closed. This also closes silent sockets.
* ``body_timeout`` — while a request body is being received, at most this many seconds may pass
  without a byte; then ``408`` (if no response has started) and close. Time during which the server
  itself stopped reading (flow control: the application has not consumed what came), or during
  which the client waits for ``100 Continue`` that the application has not asked for yet, does not
  count. This is an idle timeout: a body trickled faster than one byte per ``body_timeout`` lasts
  as long as it is long; ``max_request_bytes`` bounds it and each such client holds one connection
  of ``max_connections``.
* ``keepalive_timeout`` — an idle connection between requests is closed after this many seconds
  (uvicorn's own timer), also after a response that was sent before its request body had arrived.
* ``max_header_bytes`` — the request line and headers of one request, counted as they arrive,
  before the parser sees them: the first chunk that takes a head over the limit is answered ``431``
  and nothing more is parsed, so a 1 MiB header costs at most one read beyond the limit. (A
  pipelined head that starts inside the read that ends the previous request is counted from the
  next read on: at most one read, 256 KiB, more.)
* ``max_headers`` — header fields per request; one more is ``431``.
* ``max_connections`` — open connections; a connection accepted over the cap is answered ``503``
  at once and closed, so it never waits, and never reaches the application. The cap is lowered to
  half the process's file-descriptor limit (:func:`connection_cap`) so that the service's own files
  and sockets (SQLite, the queue, objects, fetches, webhooks) always have descriptors left.

Each refusal is logged as one ``seqedit.access`` line, ``connection refused`` with ``status``,
``reason`` and ``client`` (the application never saw the request, so ``api.access`` has none). A
refused request (408, 431) is answered with ``Connection: close``; then the server stops sending
(half-close) and discards what the client still sends for at most :data:`LINGER` seconds before
closing, so that the client can read the answer instead of a reset. Every limit is a
:class:`~seqedit.config.Settings` field; ``tests/api/test_connections.py`` shows each against a real
``seqedit serve``.

Why not another server: Hypercorn (h11) enforces a head size (``h11_max_incomplete_size``) and a
keep-alive timeout, but its ``read_timeout`` is per read (a trickled head defeats it), it has no
connection cap and no header count, and its pure-Python parser is slower; Granian (hyper) enforces a
total header read timeout and a head buffer size, but no body idle timeout, caps concurrent requests
rather than connections, runs the application in its own worker processes, and would be a second
server to own. uvicorn's h11 protocol has ``h11_max_incomplete_event_size`` (a head cap answered
400, not 431) and nothing else here, at a cost in latency. The subclass keeps httptools' speed and
adds each limit in a few lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import uvicorn
from uvicorn.main import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from seqedit.config import Settings

access_log = logging.getLogger("seqedit.access")

__all__ = ["LINGER", "Limits", "LimitedProtocol", "connection_cap", "make_config", "protocol_class", "run"]

log = logging.getLogger(__name__)

LINGER = 1.0  # seconds a refused connection keeps discarding what the client sends, so it reads the answer
_HEAD_END = b"\r\n\r\n"  # llhttp is strict (no bare-LF line endings), so this is where every head ends


@dataclass(frozen=True)
class Limits:
    """What one ``seqedit serve`` allows a connection (the meanings: this module's docstring)."""

    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    max_connections: int
    max_header_bytes: int
    max_headers: int

    @classmethod
    def from_settings(cls, settings: Settings, *, fd_limit: int | None = None) -> Limits:
        """The settings' limits, with ``max_connections`` fitted to the descriptor limit."""
        return cls(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            keepalive_timeout=settings.keepalive_timeout,
            max_connections=connection_cap(settings.max_connections, fd_limit),
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
        )


def connection_cap(wanted: int, fd_limit: int | None = None) -> int:
    """``wanted``, or half the soft ``RLIMIT_NOFILE`` (``fd_limit``: that limit, for tests) if lower:
    the other half stays for the service's own files and sockets. At least 1."""
    if fd_limit is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        fd_limit = soft if soft != resource.RLIM_INFINITY else None
    if fd_limit is None or wanted <= fd_limit // 2:
        return wanted
    cap = max(1, fd_limit // 2)
    log.warning(
        "max_connections %d lowered to %d: half the process's file-descriptor limit (%d)", wanted, cap, fd_limit
    )
    return cap


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a head that breaks a limit."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the connection limits of :class:`Limits` (``limits``: set on
    a subclass by :func:`protocol_class`)."""

    limits: ClassVar[Limits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.keepalive_timeout  # type: ignore[assignment]  # a float is fine
        self._head_open = True  # reading a request head (from accept, and again after each message)
        self._head_bytes = 0
        self._head_tail = b""  # the last bytes of the head so far, to find a terminator split across reads
        self._header_count = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_seen = 0.0  # loop time of the body's last byte
        self._refused = False  # answered and lingering: what still comes is discarded

    # --- the connection ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._answer(503, f"too many connections ({len(self.connections) - 1} open, max_connections)", linger=False)
            return
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._refused:  # the client read our answer and closed: done lingering
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._head_open:
            if self._head_timer is None:  # the first byte of a later request on a kept-alive connection
                self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)
            seen = self._head_tail + data if self._head_tail else data
            end = seen.find(_HEAD_END)
            self._head_bytes += len(data) if end < 0 else end + len(_HEAD_END) - len(self._head_tail)
            if self._head_bytes > self.limits.max_header_bytes:
                self._answer(431, f"request head over {self.limits.max_header_bytes} bytes (max_header_bytes)")
                return
            self._head_tail = seen[-3:]
        if self._body_timer is not None:
            self._body_seen = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refused):
                self._answer(exc.__context__.status, exc.__context__.message)
            else:
                self._bad_request()
        except httptools.HttpParserError:
            self._bad_request()
        except httptools.HttpParserUpgrade:  # ws="none": no upgrade is ever accepted
            self._unsupported_upgrade_warning()

    # --- parser callbacks -------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _Refused(431, f"more than {self.limits.max_headers} header fields (max_headers)")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._body_seen = self.loop.time()
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._head_open, self._head_bytes, self._head_tail, self._header_count = True, 0, b"", 0
        super().on_message_complete()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and self.timeout_keep_alive_task is None:
            # answered before the body had all come (e.g. 401, 413): the body's bytes disarmed uvicorn's
            # keep-alive timer, so arm it again, or a client silent from here on would be kept forever
            if not self.transport.is_closing():
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.limits.keepalive_timeout, self.timeout_keep_alive_handler
                )

    # --- timers -----------------------------------------------------------------------------------
    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes and (self.cycle is None or self.cycle.response_complete):
            self._answer(408, f"request head not received within {self.limits.header_timeout:g} s (header_timeout)")
        else:  # a silent socket, or a pipelined head behind a response in progress
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        idle = self.loop.time() - self._body_seen
        waiting_on_us = self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue)
        if waiting_on_us or idle < self.limits.body_timeout:
            if waiting_on_us:
                self._body_seen = self.loop.time()
            remaining = self.limits.body_timeout - (self.loop.time() - self._body_seen)
            self._body_timer = self.loop.call_later(max(remaining, 0.0), self._body_timed_out)
            return
        if cycle is not None and not cycle.response_started:
            cycle.disconnected = True  # the application's receive() now answers http.disconnect
            cycle.message_event.set()
            self._answer(408, f"no request body byte for {self.limits.body_timeout:g} s (body_timeout)")
        else:
            self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    # --- answers ----------------------------------------------------------------------------------
    def _bad_request(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _answer(self, status: int, message: str, *, linger: bool = True) -> None:
        """Answer ``status`` with ``message`` and ``Connection: close``; parse nothing more. With
        ``linger``, half-close and discard input for at most :data:`LINGER` s, then close."""
        self._refused = True
        self._cancel_timers()
        client = getattr(self, "client", None)
        access_log.log(  # what never reached the application (so api.access has no line for it)
            logging.WARNING if status >= 500 else logging.INFO,
            "connection refused",
            extra={"status": status, "reason": message, "client": client[0] if client else None},
        )
        self._unset_keepalive_if_required()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        body = message.encode("ascii", "replace")
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.append(b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n")
        head.append(b"content-length: %d\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        if not linger or not self.transport.can_write_eof():
            self.transport.close()
            return
        with contextlib.suppress(OSError, RuntimeError):
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)


def protocol_class(limits: Limits) -> type[LimitedProtocol]:
    """A :class:`LimitedProtocol` subclass bound to ``limits`` (uvicorn builds one per connection)."""
    bound = limits

    class SeqeditProtocol(LimitedProtocol):
        limits = bound

    return SeqeditProtocol


def make_config(app: Any, settings: Settings, *, host: str, port: int, limits: Limits | None = None) -> uvicorn.Config:
    """The uvicorn configuration of ``seqedit serve``: httptools with :class:`LimitedProtocol`, no
    WebSockets (the API has none), 5 s graceful shutdown, and no logging config of its own: uvicorn's
    access log is off (``api.access`` writes one line per request) and its other lines go through the
    handler ``seqedit.logs.configure`` put on the ``uvicorn`` logger, in the service's format."""
    limits = limits or Limits.from_settings(settings)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(limits),
        ws="none",
        log_level="warning",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def run(app: Any, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` with the connection limits of ``settings`` until SIGINT/SIGTERM;
    exit 3 (uvicorn's startup failure) if it never started, e.g. the port is taken."""
    server = uvicorn.Server(make_config(app, settings, host=host, port=port))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
