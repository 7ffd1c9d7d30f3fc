"""Upload bombs against a real ``seqedit serve`` on loopback (the hardening issue's V3 and V5).

* V3: a 30 MB JPEG of 7.6 M empty APP markers and a 30 MB PNG of 2.5 M empty chunks used to be
  sniffed on the event loop (``/healthz`` stalled 9-17 s, +1 GB). Now they are refused after a bounded
  scan in the probe pool, and ``/healthz``, polled from another thread meanwhile, stays fast.
* V5: 16 PUTs on one ticket, each stalled at 29 of 30 MiB, held +436 MB, and the ticket was still
  usable afterwards. Now the ticket is claimed before the body is read (the second PUT is a 404 at
  once), bodies stream to spool files, and 16 stalled PUTs cost the server a few MiB each at most.

Bounded: one server, 16 + 15 connections, every wait with a timeout.
"""

from __future__ import annotations

import base64
import io
import signal
import socket
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from fixtures.images import png
from fixtures.server import Server

MiB = 1024 * 1024
MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"


def app_marker_jpeg(n: int = 7_600_000) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    base = buf.getvalue()
    return base[:2] + b"\xff\xe5\x00\x02" * n + base[2:]


def chunk_bomb_png(n: int = 2_500_000) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    base = buf.getvalue()
    empty = struct.pack(">I", 0) + b"zzZz" + struct.pack(">I", zlib.crc32(b"zzZz"))
    return base[:33] + empty * n + base[33:]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("bombs")).start()  # the default caps: 30 MiB uploads, 40 MP
    yield s
    s.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as c:
        yield c


def rss(server: Server) -> int:
    """The server process's resident memory in bytes (VmRSS of /proc/<pid>/status)."""
    assert server.proc is not None
    for line in open(f"/proc/{server.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@contextmanager
def healthz_latency(server: Server):
    """Poll /healthz from another thread while the block runs; yields the list of latencies (s)."""
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                t = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - t)
                time.sleep(0.01)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join(timeout=35)


def baseline(server: Server) -> float:
    with healthz_latency(server) as quiet:
        time.sleep(1.0)
    return max(quiet)


def ticket(http: httpx.Client) -> str:
    r = http.post("/api/v3/media/uploads", json={"filename": "a.png"})
    assert r.status_code == 200, r.text
    return r.json()["data"]["upload"]["url"]


def test_header_bombs_are_refused_without_stalling_the_loop(server, http):
    quiet = baseline(server)
    jpeg, bomb = app_marker_jpeg(), chunk_bomb_png()
    assert 28 * MiB < len(jpeg) < 30 * MiB and 28 * MiB < len(bomb) < 30 * MiB  # the attack files
    results = []
    with healthz_latency(server) as busy:
        for name, data in (("jpeg", jpeg), ("png", bomb)):
            t = time.perf_counter()
            r = httpx.put(ticket(http), content=data, timeout=60)
            results.append((name, "put", r, time.perf_counter() - t))
            t = time.perf_counter()
            r = http.post("/api/v3/media/upload/binary", files={"file": (f"x.{name}", data)})
            results.append((name, "binary", r, time.perf_counter() - t))
        time.sleep(0.2)
    for name, route, r, _seconds in results:
        assert r.status_code == 400, (name, route, r.text)
        assert r.json()["field"] == "file" and "before the image data" in r.json()["limit"], r.text
    print(f"\nhealthz max latency: quiet {quiet * 1000:.1f} ms, under the bombs {max(busy) * 1000:.1f} ms")
    print("requests:", ", ".join(f"{n}/{route} {s:.2f} s" for n, route, _, s in results))
    assert max(busy) < quiet + 0.2


def _submit_stall(server: Server, http: httpx.Client, data: bytes) -> tuple[float, float, httpx.Response]:
    """Submit ``data`` inline; returns (seconds, max /healthz latency meanwhile, response)."""
    req = {"prompt": "p", "images": [base64.b64encode(data).decode()], "max_images": 1}
    with healthz_latency(server) as busy:
        t = time.perf_counter()
        r = http.post(MODEL, json=req)
        seconds = time.perf_counter() - t
        time.sleep(0.2)
    return seconds, max(busy), r


def test_header_bombs_through_submit(server, http):
    """Inline base64 at submit: the bombs are refused (400 naming images[0], no task; they took 27 s
    plus 28 s of worker time). They add no stall of their own over a control body of the same size that
    is no image at all. A body that large is parsed off the event loop (api/wavespeed.py ``json_body``),
    but ``json.loads`` holds the GIL while it parses one 40 MB string, so /healthz still waits for it:
    70-120 ms measured here (it was several hundred on a busy CPU when parsed on the loop); the bound
    leaves room for a loaded CI machine."""
    jpeg = app_marker_jpeg()
    control_s, control_stall, r = _submit_stall(server, http, b"\0" * len(jpeg))
    assert r.status_code == 400 and "not a recognised image" in r.json()["message"], r.text
    for data in (jpeg, chunk_bomb_png()):
        seconds, stall, r = _submit_stall(server, http, data)
        assert r.status_code == 400 and r.json()["field"] == "images[0]", r.text
        assert "before the image data" in r.json()["limit"]
        print(
            f"\nsubmit: refused in {seconds:.2f} s, healthz max {stall * 1000:.0f} ms; control body of the same"
            f" size: {control_s:.2f} s, healthz max {control_stall * 1000:.0f} ms"
        )
        assert seconds < control_s + 1.0 and stall < control_stall + 0.5
        assert stall < 1.0 and control_stall < 1.0  # hang guards: the bug stalled /healthz for 9-17 s
    assert http.post("/api/v3/predictions", json={}).json()["data"]["total"] == 0  # no task was created


def _stalled_put(url: str, size: int, send: int) -> socket.socket:
    """A raw PUT announcing ``size`` bytes that sends ``send`` of them and then stalls."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: {size}\r\n\r\n"
    sock.sendall(head.encode())
    block = b"\0" * MiB
    left = send
    while left > 0:
        sock.sendall(block[: min(left, MiB)])
        left -= min(left, MiB)
    return sock


def _status(sock: socket.socket, timeout: float) -> int:
    sock.settimeout(timeout)
    line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(line.split()[1])


def test_stalled_puts_hold_bounded_memory_and_a_claimed_ticket_refuses_at_once(server, http):
    assert httpx.put(ticket(http), content=png()).status_code == 200  # warm: spool folder, probe pool
    size = 30 * MiB
    before = rss(server)
    shared = ticket(http)
    # sendall of 29 MiB has returned, so the server has read most of the body: it claimed the ticket first
    socks = [_stalled_put(shared, size, 29 * MiB)]
    # the same ticket, 15 more times: refused before a byte of the body is read
    refusals = []
    for _ in range(15):
        t = time.perf_counter()
        s = _stalled_put(shared, size, 64 * 1024)
        refusals.append((_status(s, timeout=5), time.perf_counter() - t))
        s.close()
    # and 15 other tickets, each stalled at 29 of 30 MiB: 16 bodies being written at once
    socks += [_stalled_put(ticket(http), size, 29 * MiB) for _ in range(15)]
    time.sleep(1.0)
    held = rss(server) - before
    print(f"\nRSS before {before / MiB:.1f} MiB; 16 stalled PUTs at 29 MiB hold +{held / MiB:.1f} MiB")
    print(f"second PUT on a claimed ticket: {max(s for _, s in refusals) * 1000:.1f} ms at most")
    assert all(code == 404 for code, _ in refusals), refusals
    assert max(s for _, s in refusals) < 1.0
    assert held < 16 * 3 * MiB  # a few MiB each at most (was +436 MB)
    for s in socks:
        s.close()
    # the interrupted PUT handed its ticket back: it can be used again
    deadline = time.monotonic() + 10
    while (r := httpx.put(shared, content=png())).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.status_code == 200, r.text
