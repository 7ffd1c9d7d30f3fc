"""A tiny real TCP proxy in front of a real server, to make the network misbehave on purpose.

One request per connection: the proxy reads the whole request (head + ``Content-Length`` body), then,
by its ``plan`` for that request number, either forwards it (``Connection: close`` added, so the
server closes after its answer) and relays the answer, forwards it and then **drops** the client's
connection without a byte of the answer (the server did the work; the client never hears), closes
the connection before forwarding (``refuse``), or answers ``503`` with ``Retry-After`` itself. Every
request is recorded as ``(method, path, what was done)``.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable

Action = str  # "forward" | "drop" | "refuse" | "503"


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _close_connection(request: bytes) -> bytes:
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def _exchange(upstream: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(upstream, timeout=30) as up:
        up.sendall(_close_connection(request))
        answer = b""
        while chunk := up.recv(65536):
            answer += chunk
    return answer


class Proxy:
    """``Proxy(port_of_server, plan)``: ``plan(n, method, path) -> Action`` for the n-th request (0-based)."""

    def __init__(self, upstream_port: int, plan: Callable[[int, str, str], Action]) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.plan = plan
        self.log: list[tuple[str, str, Action]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handle(self, sock: socket.socket) -> None:
        request = _read_request(sock)
        if not request:
            return
        method, path = (request.split(b"\r\n", 1)[0].decode("latin-1").split(" ") + ["", ""])[:2]
        with self._lock:
            action = self.plan(len(self.log), method, path)
            self.log.append((method, path, action))
        if action == "refuse":
            return
        if action == "503":
            body = b'{"code":503,"message":"busy","data":null}'
            head = f"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: {len(body)}\r\n"
            sock.sendall(head.encode() + b"Content-Type: application/json\r\nConnection: close\r\n\r\n" + body)
            return
        answer = _exchange(self.upstream, request)
        if action == "forward":
            sock.sendall(answer)
        # "drop": the server answered; the client gets the connection closed instead

    def requests(self, method: str, path_prefix: str) -> list[Action]:
        return [a for m, p, a in self.log if m == method and p.startswith(path_prefix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
