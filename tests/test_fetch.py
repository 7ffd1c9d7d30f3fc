"""The SSRF guard and the capped fetcher, against a real HTTP server on 127.0.0.1.

No test sends a packet anywhere but loopback: the autouse ``connect_guard`` fixture wraps
``socket.socket.connect`` and fails the test (and blocks the attempt) if anything tries to reach
a non-loopback address, so refusals of 10.0.0.1 or 169.254.169.254 are proven to happen before
any connect.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqedit import fetch
from seqedit.fetch import FetchError, check_url, fetch_bytes, post_bytes

FORBIDDEN_WORDS = ("HTTP 5", "429", "timeout", "connection")


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


PNG = _png()
_gz = zlib.compressobj(9, zlib.DEFLATED, 31)
GZIP_BOMB = _gz.compress(b"\0" * 20_000_000) + _gz.flush()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/plain", extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.server.posts.append((self.path, dict(self.headers.items()), body))
        status = int(parse_qs(urlsplit(self.path).query).get("status", ["204"])[0])
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        self.server.hits.append(url.path)
        try:
            if url.path == "/image.png":
                self._send(200, PNG, "image/png; charset=binary")
            elif url.path == "/host":
                self._send(200, (self.headers.get("Host") or "").encode())
            elif url.path == "/redirect":
                self.send_response(int(q.get("status", ["302"])[0]))
                self.send_header("Location", q["to"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/redirect-loop":
                self.send_response(302)
                self.send_header("Location", "/redirect-loop")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/status":
                code = int(q["code"][0])
                self._send(code, b"nope")
            elif url.path == "/huge-declared":
                # Declares 50 MB, sends a little, then waits: a client reading the body would hang.
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(50_000_000))
                self.end_headers()
                self.wfile.write(b"x" * 1024)
                self.wfile.flush()
                self.server.release.wait(10)
            elif url.path == "/chunked":
                total = int(q.get("total", ["4000000"])[0])
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                piece = b"y" * 65536
                sent = 0
                while sent < total:
                    part = piece[: min(len(piece), total - sent)]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    sent += len(part)
                self.wfile.write(b"0\r\n\r\n")
            elif url.path == "/gzip-bomb":
                # A few kB on the wire that inflate to 20 MB, sent despite "Accept-Encoding: identity".
                self._send(200, GZIP_BOMB, "image/png", {"Content-Encoding": "gzip"})
            elif url.path == "/gzip-image":
                gz = zlib.compressobj(6, zlib.DEFLATED, 31)
                self._send(200, gz.compress(PNG) + gz.flush(), "image/png", {"Content-Encoding": "gzip"})
            elif url.path == "/brotli":
                self._send(200, b"xx", "image/png", {"Content-Encoding": "br"})
            elif url.path == "/slow-headers":
                self.server.release.wait(10)
            elif url.path == "/slow-body":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b"z" * 10)
                self.wfile.flush()
                self.server.release.wait(10)
            elif url.path == "/drip":
                # One byte every 50 ms, each well inside the read deadline; only the total deadline stops it.
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b"d")
                    self.wfile.flush()
                    if self.server.release.wait(0.05):
                        break
            else:
                self._send(404, b"missing")
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        # The client hanging up mid-answer (oversize, deadline) is the point of several tests.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.release = threading.Event()


@pytest.fixture(scope="module")
def server():
    srv = _Server()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def base(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def allow(server) -> frozenset[str]:
    return frozenset({f"127.0.0.1:{server.server_address[1]}"})


@pytest.fixture(autouse=True)
def connect_guard(monkeypatch):
    """Record every outgoing connect; fail (and block) any to a non-loopback address."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def guarded(self, address):  # type: ignore[no-untyped-def]
        host = address[0] if isinstance(address, tuple) else str(address)
        attempts.append(host)
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise AssertionError(f"test tried to reach non-loopback address {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def _assert_clean(err: FetchError) -> None:
    assert err.code == 1402
    for word in FORBIDDEN_WORDS:
        assert word.lower() not in err.message.lower()


def _refused(url: str, *, allow_hosts: frozenset[str] = frozenset(), host_in_msg: str | None = None) -> FetchError:
    with pytest.raises(FetchError) as ei:
        check_url(url, allow_hosts)
    _assert_clean(ei.value)
    assert not ei.value.transient
    if host_in_msg:
        assert host_in_msg in ei.value.message
    return ei.value


# ------------------------------------------------------------------------------ the check


@pytest.mark.parametrize(
    "url, host",
    [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://127.0.0.2:8080/x", "127.0.0.2"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("http://172.16.5.4/", "172.16.5.4"),
        ("http://192.168.1.1/", "192.168.1.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::1]/", "::1"),
        ("http://[::1]:8000/", "::1"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://[::]/", "::"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://224.0.0.251/", "224.0.0.251"),
        ("http://240.0.0.1/", "240.0.0.1"),
        ("http://255.255.255.255/", "255.255.255.255"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://[fc00::1]/", "fc00::1"),
        ("http://[fd12:3456::1]/", "fd12:3456::1"),
        ("http://[ff02::1]/", "ff02::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
        ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
        ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"),  # NAT64 of 169.254.169.254
        ("http://[2002:7f00:1::]/", "2002:7f00:1::"),  # 6to4 of 127.0.0.1
        ("http://2130706433/", "2130706433"),  # decimal 127.0.0.1
        ("http://0x7f000001/", "0x7f000001"),
        ("http://0x7f.1/", "0x7f.1"),
        ("http://127.1/", "127.1"),
        ("http://017700000001/", "017700000001"),  # octal, one part
        ("http://localhost/", "localhost"),
        ("http://LOCALHOST./", "localhost"),
        ("http://foo.localhost/", "foo.localhost"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal"),
        ("http://metadata/", "metadata"),
        ("http://printer.local/", "printer.local"),
    ],
)
def test_internal_addresses_and_names_are_refused(url, host, connect_guard):
    _refused(url, host_in_msg=host)
    assert connect_guard == []


def test_octal_dotted_loopback_is_refused(connect_guard):
    # httpx itself rejects "0177.0.0.1" as a URL; whatever the reason, it must not pass.
    _refused("http://0177.0.0.1/", host_in_msg="0177.0.0.1")
    _refused("http://0177.0.0.01:80/")
    assert connect_guard == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "/relative/path.png",
        "",
        "http://",
        "http:///x",
    ],
)
def test_bad_schemes_and_shapes_are_refused(url, connect_guard):
    _refused(url)
    assert connect_guard == []


def test_name_resolving_to_loopback_is_refused(monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *a, **kw):  # type: ignore[no-untyped-def]
        if host == "innocent.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
        return real(host, *a, **kw)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", fake)
    err = _refused("http://innocent.example/a.png", host_in_msg="innocent.example")
    assert "127.0.0.1" in err.message and "loopback" in err.message


def test_real_localhost_resolution_is_refused_even_if_not_blocklisted(monkeypatch):
    # Take the name blocklist away: the resolver answer alone (from /etc/hosts) must refuse it.
    monkeypatch.setattr(fetch, "_is_internal_name", lambda name: False)
    err = _refused("http://localhost/", host_in_msg="localhost")
    assert "resolves to" in err.message


def test_any_bad_address_in_the_answer_refuses(monkeypatch):
    def fake(host, *a, **kw):  # type: ignore[no-untyped-def]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:10.1.2.3", 80, 0, 0)),
        ]

    monkeypatch.setattr(fetch.socket, "getaddrinfo", fake)
    err = _refused("https://mixed.example/", host_in_msg="mixed.example")
    assert "10.1.2.3" in err.message


def test_public_answer_passes_the_check(monkeypatch, connect_guard):
    def fake(host, *a, **kw):  # type: ignore[no-untyped-def]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]

    monkeypatch.setattr(fetch.socket, "getaddrinfo", fake)
    check_url("https://images.example/cat.png")  # no exception, and no traffic
    assert connect_guard == []


def test_allow_hosts_by_host_and_by_host_port(server):
    port = server.server_address[1]
    check_url(f"http://127.0.0.1:{port}/", frozenset({f"127.0.0.1:{port}"}))
    check_url(f"http://127.0.0.1:{port}/", frozenset({"127.0.0.1"}))
    check_url(f"http://[::1]:{port}/", frozenset({f"[::1]:{port}"}))
    check_url(f"http://localhost:{port}/", frozenset({"localhost"}))
    # the port matters when given
    _refused(f"http://127.0.0.1:{port}/", allow_hosts=frozenset({f"127.0.0.1:{port + 1}"}))
    # allowing one loopback address does not allow another
    _refused(f"http://127.0.0.2:{port}/", allow_hosts=frozenset({"127.0.0.1"}))


_BLOCKED_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_BLOCKED_V4), st.integers(min_value=0), st.sampled_from(["v4", "mapped", "decimal"]))
def test_property_every_blocked_ipv4_is_refused_in_any_spelling(net, offset, form):
    ip = net[offset % net.num_addresses]
    host = {"v4": str(ip), "mapped": f"[::ffff:{ip}]", "decimal": str(int(ip))}[form]
    with pytest.raises(FetchError) as ei:
        check_url(f"http://{host}/x")
    _assert_clean(ei.value)


# ------------------------------------------------------------------------------ fetching


def test_fetch_image_from_allowed_host(base, allow):
    body, ctype = fetch_bytes(f"{base}/image.png", max_bytes=10_000, allow_hosts=allow)
    assert body == PNG
    assert ctype == "image/png"


def test_fetch_refuses_test_server_when_not_allowed(base, server, connect_guard):
    hits = len(server.hits)
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/image.png", max_bytes=10_000)
    _assert_clean(ei.value)
    assert "loopback" in ei.value.message
    assert connect_guard == [] and len(server.hits) == hits


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.png",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://localhost/a.png",
    ],
)
def test_fetch_refuses_before_any_connect(url, connect_guard):
    with pytest.raises(FetchError) as ei:
        fetch_bytes(url, max_bytes=10_000)
    _assert_clean(ei.value)
    assert connect_guard == []


def test_redirect_within_allowed_host_is_followed(base, allow):
    body, _ = fetch_bytes(f"{base}/redirect?to=/image.png", max_bytes=10_000, allow_hosts=allow)
    assert body == PNG


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/image.png",
        "http://localhost:{port}/image.png",
        "http://[::1]:{port}/image.png",
        "http://2130706433:{port}/image.png",
    ],
)
def test_redirect_to_non_allowed_loopback_is_refused(base, allow, server, connect_guard, target):
    port = server.server_address[1]
    to = target.format(port=port)
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/redirect?to={to}", max_bytes=10_000, allow_hosts=allow)
    _assert_clean(ei.value)
    assert "not allowed" in ei.value.message
    # exactly one connect: to the allowed server, never to the redirect target
    assert connect_guard == ["127.0.0.1"]


@pytest.mark.parametrize("to", ["http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/"])
def test_redirect_to_private_or_metadata_never_connects(base, allow, connect_guard, to):
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/redirect?status=307&to={to}", max_bytes=10_000, allow_hosts=allow)
    _assert_clean(ei.value)
    assert connect_guard == ["127.0.0.1"]


def test_redirect_to_other_scheme_is_refused(base, allow):
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/redirect?to=file:///etc/passwd", max_bytes=10_000, allow_hosts=allow)
    _assert_clean(ei.value)


def test_too_many_redirects(base, allow, connect_guard):
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/redirect-loop", max_bytes=10_000, max_redirects=2, allow_hosts=allow)
    _assert_clean(ei.value)
    assert "more than 2 redirects" in ei.value.message
    assert len(connect_guard) == 3


def test_oversize_by_content_length_is_rejected_early(base, allow):
    t0 = time.monotonic()
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/huge-declared", max_bytes=1_000_000, read_timeout=5, allow_hosts=allow)
    _assert_clean(ei.value)
    assert "50000000 bytes" in ei.value.message and "127.0.0.1" in ei.value.message
    assert not ei.value.transient
    # the server never finishes this body, so reading it would have taken the full read deadline
    assert time.monotonic() - t0 < 2


def test_oversize_by_streaming_chunked_body(base, allow):
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/chunked?total=4000000", max_bytes=100_000, allow_hosts=allow)
    _assert_clean(ei.value)
    assert "larger than the limit of 100000 bytes" in ei.value.message


def test_compressed_body_is_capped_after_decoding(base, allow):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as ei:
            fetch_bytes(f"{base}/gzip-bomb", max_bytes=1_000_000, allow_hosts=allow)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _assert_clean(ei.value)
    assert "larger than the limit of 1000000 bytes" in ei.value.message
    assert peak < 8_000_000  # inflated in bounded steps, not the whole 20 MB at once


def test_compressed_image_is_inflated(base, allow):
    body, _ = fetch_bytes(f"{base}/gzip-image", max_bytes=10_000, allow_hosts=allow)
    assert body == PNG


def test_unsupported_encoding_is_refused(base, allow):
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/brotli", max_bytes=100, allow_hosts=allow)
    _assert_clean(ei.value)
    assert "encoding" in ei.value.message


def test_chunked_body_under_the_limit_is_returned(base, allow):
    body, ctype = fetch_bytes(f"{base}/chunked?total=200000", max_bytes=200_000, allow_hosts=allow)
    assert len(body) == 200_000 and ctype == "image/jpeg"


@pytest.mark.parametrize("code, transient", [(500, True), (503, True), (404, False), (403, False), (429, True)])
def test_non_2xx_names_the_status(base, allow, code, transient):
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/status?code={code}", max_bytes=10_000, allow_hosts=allow)
    assert ei.value.code == 1402
    assert f"status {code}" in ei.value.message and "127.0.0.1" in ei.value.message
    assert "HTTP 5" not in ei.value.message and "timeout" not in ei.value.message
    assert ei.value.transient is transient


@pytest.mark.parametrize("path", ["/slow-headers", "/slow-body"])
def test_slow_server_hits_the_read_deadline(base, allow, path):
    t0 = time.monotonic()
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}{path}", max_bytes=10_000, read_timeout=0.5, allow_hosts=allow)
    elapsed = time.monotonic() - t0
    assert "did not answer within 0.5 s" in ei.value.message
    assert "timeout" not in ei.value.message.lower() and "connection" not in ei.value.message.lower()
    assert ei.value.transient
    assert 0.4 < elapsed < 3


def test_dripping_server_hits_the_total_deadline(base, allow):
    t0 = time.monotonic()
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"{base}/drip", max_bytes=10_000, read_timeout=0.5, total_timeout=0.3, allow_hosts=allow)
    assert "did not finish sending within 0.3 s" in ei.value.message
    assert time.monotonic() - t0 < 2


def test_refused_port_is_transient_and_clean(allow):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"http://127.0.0.1:{port}/x", max_bytes=10, allow_hosts=frozenset({"127.0.0.1"}))
    assert ei.value.transient and "127.0.0.1" in ei.value.message
    assert "connection" not in ei.value.message.lower()


def test_connect_goes_to_the_validated_address_not_a_fresh_lookup(server, monkeypatch, connect_guard):
    """DNS rebinding: after the check, a second lookup would answer 10.0.0.1. The fetch must use
    the address it validated (127.0.0.1, allow-listed here) and still send the real Host header."""
    port = server.server_address[1]
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, *a, **kw):  # type: ignore[no-untyped-def]
        if host == "rebind.test":
            lookups.append(host)
            ip = "127.0.0.1" if len(lookups) == 1 else "10.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    body, _ = fetch_bytes(f"http://rebind.test:{port}/host", max_bytes=1000, allow_hosts=frozenset({"rebind.test"}))
    assert body == f"rebind.test:{port}".encode()
    assert lookups == ["rebind.test"]
    assert connect_guard == ["127.0.0.1"]


def test_pinned_backend_refuses_unvetted_hosts():
    import httpcore

    backend = fetch._PinnedBackend({"a.example": ("127.0.0.1",)})
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("b.example", 80, timeout=0.1)


def test_environment_proxy_is_ignored(base, allow, monkeypatch):
    # A proxy would do its own DNS and bypass the pinning: it must not be used.
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    body, _ = fetch_bytes(f"{base}/image.png", max_bytes=10_000, allow_hosts=allow)
    assert body == PNG


# ------------------------------------------------------------------------------ webhook POST


def test_post_bytes_delivers_to_allowed_receiver(base, allow, server):
    status = post_bytes(
        f"{base}/hook?status=200",
        b'{"id":"x"}',
        headers={"webhook-id": "m1", "Content-Type": "application/json"},
        allow_hosts=allow,
    )
    assert status == 200
    path, headers, body = server.posts[-1]
    assert path == "/hook?status=200" and body == b'{"id":"x"}'
    assert {k.lower(): v for k, v in headers.items()}["webhook-id"] == "m1"


def test_post_bytes_guard_and_no_redirect_following(base, allow, connect_guard):
    with pytest.raises(FetchError):
        post_bytes("http://169.254.169.254/hook", b"{}")
    with pytest.raises(FetchError):
        post_bytes(f"{base}/hook", b"{}")  # loopback not allowed
    assert connect_guard == []
    assert post_bytes(f"{base}/hook?status=302", b"{}", allow_hosts=allow) == 302


@pytest.mark.parametrize("host", ["timeout.example", "connection.test", "3976429000", "http-5.example"])
def test_user_supplied_text_cannot_smuggle_retry_words(host, connect_guard):
    with pytest.raises(FetchError) as ei:
        check_url(f"ftp://{host}/")  # refused for its scheme; the message quotes the URL
    _assert_clean(ei.value)
    assert not fetch._RETRY_WORDS.search(ei.value.message)


def test_fetch_error_shape():
    e = FetchError("x.example is not allowed: reason")
    assert e.code == 1402 and e.message == str(e) and e.transient is False
    assert FetchError.code == 1402


# ------------------------------------------------------------------------------ TLS with pinning


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 whose certificate is for the name "pinned.test" only."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=pinned.test",
            "-addext",
            "subjectAltName=DNS:pinned.test",
        ],
        check=True,
        capture_output=True,
    )
    srv = _Server()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv, cert
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def trust_test_cert(tls_server, monkeypatch):
    import ssl

    _srv, cert = tls_server
    ctx = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(fetch, "_ssl_context", lambda: ctx)


def _resolve_to_loopback(monkeypatch, names: set[str]) -> list[str]:
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host, port, *a, **kw):  # type: ignore[no-untyped-def]
        if host in names:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


def test_https_pinned_connect_keeps_sni_and_certificate_check(tls_server, trust_test_cert, monkeypatch, connect_guard):
    srv, _cert = tls_server
    port = srv.server_address[1]
    lookups = _resolve_to_loopback(monkeypatch, {"pinned.test"})
    body, ctype = fetch_bytes(
        f"https://pinned.test:{port}/image.png", max_bytes=10_000, allow_hosts=frozenset({"pinned.test"})
    )
    assert body == PNG and ctype == "image/png"
    body, _ = fetch_bytes(f"https://pinned.test:{port}/host", max_bytes=1000, allow_hosts=frozenset({"pinned.test"}))
    assert body == f"pinned.test:{port}".encode()
    assert lookups == ["pinned.test", "pinned.test"] and connect_guard == ["127.0.0.1", "127.0.0.1"]


def test_https_certificate_for_another_name_is_refused(tls_server, trust_test_cert, monkeypatch):
    srv, _cert = tls_server
    port = srv.server_address[1]
    _resolve_to_loopback(monkeypatch, {"impostor.test"})
    with pytest.raises(FetchError) as ei:
        fetch_bytes(
            f"https://impostor.test:{port}/image.png", max_bytes=10_000, allow_hosts=frozenset({"impostor.test"})
        )
    assert "impostor.test" in ei.value.message and "certificate" in ei.value.message
    assert not ei.value.transient
    _assert_clean(ei.value)


def test_https_untrusted_certificate_is_refused(tls_server, monkeypatch):
    srv, _cert = tls_server
    port = srv.server_address[1]
    _resolve_to_loopback(monkeypatch, {"pinned.test"})
    with pytest.raises(FetchError) as ei:
        fetch_bytes(f"https://pinned.test:{port}/image.png", max_bytes=10_000, allow_hosts=frozenset({"pinned.test"}))
    assert "certificate" in ei.value.message and not ei.value.transient
    _assert_clean(ei.value)


# ------------------------------------------------------------------------------ special-purpose ranges


@pytest.mark.parametrize(("net", "why"), fetch.SPECIAL_PURPOSE, ids=[str(n) for n, _ in fetch.SPECIAL_PURPOSE])
def test_every_iana_special_purpose_range_is_refused(net, why):
    for ip in (net[0], net[net.num_addresses // 2], net[-1]):
        assert fetch._address_problem(ip), ip


@pytest.mark.parametrize("host", ["192.0.0.9", "192.0.0.170", "192.88.99.1", "[3fff::1]", "[3fff:fff::1]"])
def test_ranges_is_global_misses_are_refused(host, connect_guard):
    """W8: ``ipaddress.is_global`` lets these through; the explicit registry does not."""
    _refused(f"http://{host}/x.png", host_in_msg=host.strip("[]"))
    assert connect_guard == []


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::1"])
def test_public_unicast_addresses_pass(ip):
    assert fetch._address_problem(ipaddress.ip_address(ip)) is None
