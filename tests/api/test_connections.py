"""Connection limits of a real ``seqedit serve`` on loopback (``seqedit.api.server``).

Each promise of the module docstring against the real server: slow heads, silent sockets and
trickled bodies are closed within their timeouts (a byte every 0.5 s does not extend the header
deadline), an idle kept-alive connection within the keep-alive timeout, a 1 MiB header is answered
431 after the first 128 KiB, one header field too many is 431, a connection over the cap is refused
at once, and ``/healthz`` keeps answering (within 1 s, a hang guard) while all of it goes on. Every socket is on
loopback, every loop has a deadline; timings are asserted with slack for two shared cores.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from fixtures.server import Server
from seqedit.api.server import LINGER, connection_cap
from seqedit.config import Settings

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"
TIMEOUT = 2.0  # header, body and keep-alive timeouts of the test server
EARLY, LATE = 1.5, 6.0  # a 2 s timeout must close a connection within [1.5 s, 6 s] of its start
HEALTHZ_MS = 1000  # a hang guard: a blocked event loop stalled it for seconds; a loaded machine adds ~300 ms


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {f"SEQEDIT_{name}": str(TIMEOUT) for name in ("HEADER_TIMEOUT", "BODY_TIMEOUT", "KEEPALIVE_TIMEOUT")}
    srv = Server(tmp_path_factory.mktemp("connections"), **env).start()
    try:
        yield srv
    finally:
        srv.kill()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.setblocking(False)
    return sock


class Healthz:
    """Polls ``/healthz`` every 50 ms on a fresh connection each time, in a thread, recording the
    slowest answer; a failed or non-200 answer counts as infinitely slow."""

    def __init__(self, server: Server) -> None:
        self.url = f"{server.url}/healthz"
        self.worst = 0.0
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                ok = httpx.get(self.url, timeout=5).status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.monotonic() - start if ok else float("inf")
            self.worst = max(self.worst, took)
            self.count += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Healthz:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        deadline = time.monotonic() + 5  # at least 10 samples, also after a short test
        while self.count < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(timeout=10)

    def check(self) -> None:
        assert self.count >= 10, self.count
        assert self.worst * 1000 <= HEALTHZ_MS, f"/healthz took {self.worst * 1000:.0f} ms at worst"


def watch(
    sockets: dict[socket.socket, float], feed: dict[socket.socket, tuple[float, bytes]], deadline: float
) -> dict[socket.socket, tuple[float, bytes]]:
    """Wait until every socket is closed by the server (or ``deadline`` passes), sending each socket
    in ``feed`` its byte every ``interval`` s. Returns, per socket, seconds from its start (the value
    in ``sockets``) to the close, and what the server sent before closing."""
    sel = selectors.DefaultSelector()
    for sock in sockets:
        sel.register(sock, selectors.EVENT_READ)
    got: dict[socket.socket, bytes] = {s: b"" for s in sockets}
    closed: dict[socket.socket, tuple[float, bytes]] = {}
    next_send = {s: sockets[s] + interval for s, (interval, _) in feed.items()}
    while len(closed) < len(sockets) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if chunk:
                got[sock] += chunk
                continue
            closed[sock] = (time.monotonic() - sockets[sock], got[sock])
            sel.unregister(sock)
        now = time.monotonic()
        for sock, at in next_send.items():
            if sock not in closed and now >= at:
                with contextlib.suppress(OSError):
                    sock.send(feed[sock][1])
                next_send[sock] = now + feed[sock][0]
    sel.close()
    return closed


def test_slow_heads_silent_sockets_and_trickled_bodies_are_closed_in_time(server: Server) -> None:
    head = f"POST {MODEL} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
    sockets: dict[socket.socket, float] = {}
    feed: dict[socket.socket, tuple[float, bytes]] = {}
    kinds: dict[str, list[socket.socket]] = {"slow head": [], "silent": [], "trickled body": [], "keyed body": []}
    with Healthz(server) as healthz:
        for kind, count in (("slow head", 32), ("silent", 16), ("trickled body", 8), ("keyed body", 8)):
            for _ in range(count):
                sock = connect(server)
                sockets[sock] = time.monotonic()
                kinds[kind].append(sock)
                if kind == "slow head":  # a byte every 0.5 s: an idle timeout would never fire
                    sock.send(head)
                    feed[sock] = (0.5, b"X")
                elif kind != "silent":  # a whole head, then one body byte every 5 s
                    auth = f"Authorization: Bearer {server.key}\r\n" if kind == "keyed body" else ""
                    sock.send(head + f"{auth}Content-Length: 1000\r\n\r\n{{".encode())
                    sockets[sock] = time.monotonic()  # the body timeout runs from the head's end
                    feed[sock] = (5.0, b" ")
        closed = watch(sockets, feed, deadline=time.monotonic() + 20)
    assert len(closed) == len(sockets), {k: sum(s not in closed for s in v) for k, v in kinds.items()}
    for kind, socks in kinds.items():
        times = sorted(closed[s][0] for s in socks)
        assert EARLY <= times[0] and times[-1] <= LATE, (kind, times)
    for sock in kinds["slow head"]:  # a head that started and never ended: 408, then closed
        assert closed[sock][1].startswith(b"HTTP/1.1 408 "), closed[sock][1][:200]
    for sock in kinds["silent"]:  # nothing asked, nothing answered
        assert closed[sock][1] == b""
    for sock in kinds["trickled body"]:  # no key: 401 at once; the trickle then ends the connection
        assert closed[sock][1].startswith(b"HTTP/1.1 401 "), closed[sock][1][:200]
    for sock in kinds["keyed body"]:  # the application waits for the body: 408, it never sees the rest
        assert closed[sock][1].startswith(b"HTTP/1.1 408 "), closed[sock][1][:200]
        assert b"body_timeout" in closed[sock][1]
    for sock in sockets:
        sock.close()
    healthz.check()


def test_a_1_mib_header_is_refused_431_without_reading_it_all(server: Server) -> None:
    def one() -> tuple[bytes, float, float]:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        start = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (128 * 1024))
        answer = sock.recv(65536)  # before the other 896 KiB are even sent
        answered = time.monotonic() - start
        with contextlib.suppress(OSError):  # discarded while the server lingers, or refused
            sock.sendall(b"a" * (1024 * 1024 - 128 * 1024) + b"\r\n\r\n")
        sock.settimeout(LINGER + 5)
        with contextlib.suppress(OSError):
            while sock.recv(65536):
                pass
        closed = time.monotonic() - start
        sock.close()
        return answer, answered, closed

    results: list[tuple[bytes, float, float]] = []
    with Healthz(server) as healthz:
        threads = [threading.Thread(target=lambda: results.append(one())) for _ in range(4)]  # four at once
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert len(results) == 4
    for answer, answered, closed in results:
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"connection: close" in answer.lower() and b"max_header_bytes" in answer
        assert answered < 2
        assert closed < LINGER + 5  # closed by the server (after lingering), not by our timeout
    healthz.check()


def test_heads_under_the_limits_are_served(server: Server) -> None:
    """64 KiB of head and 100 fields are allowed (a head of ~60 KiB in one header; 100 fields)."""
    r = httpx.get(f"{server.url}/healthz", headers={"X-Big": "a" * (60 * 1024)}, timeout=10)
    assert r.status_code == 200
    many = {f"X-H{i}": "v" for i in range(99 - 4)}  # httpx adds Host, Accept, Accept-Encoding, Connection, UA
    r = httpx.get(f"{server.url}/healthz", headers=many, timeout=10)
    assert r.status_code == 200, r.text


def test_one_header_field_too_many_is_431(server: Server) -> None:
    fields = "".join(f"X-H{i}: v\r\n" for i in range(100))  # + Host = 101
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"max_headers" in answer
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:  # 100 fields: served
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{fields[: fields.index('X-H99')]}\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_idle_kept_alive_connections_are_closed_after_the_keepalive_timeout(server: Server) -> None:
    plain = connect(server)  # an answered request, then silence
    plain.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    early = connect(server)  # answered (401) before its body came; the body, then silence
    early.send(f"POST {MODEL} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n".encode())
    time.sleep(0.3)
    early.send(b"0123456789")
    start = time.monotonic()
    closed = watch({plain: start, early: start}, {}, deadline=start + 15)
    assert set(closed) == {plain, early}
    assert closed[plain][1].startswith(b"HTTP/1.1 200 ") and closed[early][1].startswith(b"HTTP/1.1 401 ")
    for sock in (plain, early):
        assert EARLY <= closed[sock][0] <= LATE, closed[sock][0]
        sock.close()


def test_connections_over_the_cap_are_refused_at_once(tmp_path: Path) -> None:
    srv = Server(tmp_path, SEQEDIT_MAX_CONNECTIONS="8", SEQEDIT_HEADER_TIMEOUT="30").start()
    held: list[socket.socket] = []
    try:
        time.sleep(0.5)  # the start-up probe's connections are gone
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(8)]
        time.sleep(0.3)
        for _ in range(3):  # each new client: 503, or the connection closed, within 1 s; never a wait
            start = time.monotonic()
            try:
                status = httpx.get(f"{srv.url}/healthz", timeout=5).status_code
            except httpx.TransportError:
                status = None
            assert status in (503, None) and time.monotonic() - start < 1, status
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            assert sock.recv(65536).startswith(b"HTTP/1.1 503 ")
        for sock in held:
            sock.close()
        held = []
        deadline = time.monotonic() + 5
        while True:  # a freed slot is usable again
            try:
                if httpx.get(f"{srv.url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no slot freed"
            time.sleep(0.05)
    finally:
        for sock in held:
            sock.close()
        srv.kill()


def test_the_connection_cap_leaves_half_the_descriptor_limit_to_the_service() -> None:
    assert connection_cap(512, fd_limit=20000) == 512
    assert connection_cap(512, fd_limit=1024) == 512
    assert connection_cap(512, fd_limit=256) == 128
    assert connection_cap(512, fd_limit=1) == 1


@pytest.mark.parametrize(
    "name, value",
    [("header_timeout", 0), ("body_timeout", -1), ("keepalive_timeout", 0), ("max_connections", 0)]
    + [("max_header_bytes", 100), ("max_headers", 0)],
)
def test_limits_cannot_be_switched_off(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


def test_defaults() -> None:
    s = Settings()
    assert (s.header_timeout, s.body_timeout, s.keepalive_timeout) == (10.0, 30.0, 5.0)
    assert (s.max_connections, s.max_header_bytes, s.max_headers) == (512, 64 * 1024, 100)
