"""Base64 results are streamed (``envelope.base64_envelope``): the pieces concatenate into valid base64,
the body is the same JSON a client would have got in one piece, a big result costs the server a
bounded amount of memory (measured on a real ``seqedit serve``), and ``SEQEDIT_MAX_BASE64_BYTES`` caps
an answer with a message that sends the client to URLs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from fixtures.images import data_uri, png
from fixtures.server import Server
from seqedit.api.envelope import B64_PIECE, ApiError, b64_length, base64_envelope, base64_pieces
from seqedit.storage import FileSigner, ObjectStorage

from .conftest import make_settings

MODEL = "/api/v3/bytedance/seedream-v4/edit-sequential"


# ---------------------------------------------------------------------- the pieces


SIZES = [0, 1, 2, 3, 4, B64_PIECE - 1, B64_PIECE, B64_PIECE + 1, 3 * B64_PIECE + 2]
CHUNKS = [1, 7, 1024 * 1024, 10**9]


# byte-at-a-time chunks over a large file would only be slow, not different: small sizes only
@pytest.mark.parametrize(
    ("size", "chunk"), [(size, chunk) for size in SIZES for chunk in CHUNKS if chunk > 1 or size <= 10_000]
)
def test_pieces_concatenate_into_the_base64_of_the_whole(size, chunk):
    data = os.urandom(size)
    chunks = [data[i : i + chunk] for i in range(0, size, chunk)]
    pieces = list(base64_pieces(iter(chunks)))
    assert b"".join(pieces) == base64.b64encode(data) and len(b"".join(pieces)) == b64_length(size)
    assert all(len(p) <= 4 * B64_PIECE // 3 for p in pieces)  # bounded, whatever the chunks
    assert all(b"=" not in p for p in pieces[:-1])  # padding only at the very end


def test_piece_must_be_a_multiple_of_three():
    with pytest.raises(ValueError, match="multiple of 3"):
        list(base64_pieces(iter([b"abc"]), piece=4))


def _row(keys: list[str]) -> dict:
    return {
        "id": "a" * 32,
        "model": "bytedance/seedream-v4/edit-sequential",
        "input": {"prompt": 'say "outputs":[] here'},
        "outputs": keys,
        "status": "completed",
        "base64": True,
        "expires_at": time.time() + 3600,
        "created_at": time.time(),
        "error": "",
        "execution_ms": 5,
        "inference_ms": 4,
        "seed": 1,
        "warnings": [],
        "progress_done": len(keys),
        "progress_total": len(keys),
        "progress_fraction": 1.0,
        "cost": 0.0,
        "plan": None,
        "code": None,
    }


def _collect(response) -> bytes:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.body_iterator])

    return asyncio.run(read())


def test_envelope_streams_valid_json_with_its_length_up_front():
    storage = ObjectStorage(signer=FileSigner(b"s"))  # memory
    files = {f"outputs/x/1/{i}.png": os.urandom(n) for i, n in enumerate([0, 5, 2 * B64_PIECE + 1, 1_500_001])}
    for key, data in files.items():
        storage.put(key, data)
    response = base64_envelope(_row(list(files)), storage=storage, base="http://h")
    body = _collect(response)
    assert int(response.headers["content-length"]) == len(body)
    data = json.loads(body)["data"]
    assert [base64.b64decode(o) for o in data["outputs"]] == list(files.values())
    assert data["has_nsfw_contents"] == [False] * 4 and data["input"]["prompt"] == 'say "outputs":[] here'


def test_envelope_checks_expiry_and_the_cap_before_sending_anything():
    storage = ObjectStorage(signer=FileSigner(b"s"))
    storage.put("outputs/x/1/0.png", b"x" * 3000)
    with pytest.raises(ApiError) as info:
        base64_envelope(_row(["outputs/x/1/0.png", "outputs/x/1/1.png"]), storage=storage, base="http://h")
    assert info.value.status == 404 and "expired" in info.value.message
    with pytest.raises(ApiError) as info:
        base64_envelope(_row(["outputs/x/1/0.png"]), storage=storage, base="http://h", max_bytes=3999)
    assert info.value.status == 413 and info.value.extra == {
        "field": "enable_base64_output",
        "limit": "3999 bytes of base64",
    }
    assert "4000 bytes" in info.value.message and "URLs" in info.value.message
    assert base64_envelope(_row(["outputs/x/1/0.png"]), storage=storage, base="http://h", max_bytes=4000)


# ---------------------------------------------------------------------- the cap on the wire


def test_cap_on_poll_and_sync_answer_sends_the_client_to_urls(tmp_path):
    from fastapi.testclient import TestClient

    from seqedit.api.app import create_app, make_service

    service = make_service(make_settings(tmp_path, max_base64_bytes=1000))
    key, _ = service.store.create_key("a")
    auth = {"Authorization": f"Bearer {key}"}
    body = {"prompt": "two", "images": [data_uri(png())], "size": "64*64", "max_images": 2}
    with TestClient(create_app(service)) as client:
        r = client.post(MODEL, json={**body, "enable_base64_output": True, "enable_sync_mode": True}, headers=auth)
        assert r.status_code == 413, r.text
        err = r.json()
        assert err["data"] is None and err["field"] == "enable_base64_output" and err["limit"] == "1000 bytes of base64"
        assert "SEQEDIT_MAX_BASE64_BYTES" in err["message"] and "without enable_base64_output" in err["error"]
        pid = err["message"].split("prediction ")[1].split(" ")[0]
        r = client.get(f"/api/v3/predictions/{pid}/result", headers=auth)
        assert r.status_code == 413 and r.json()["message"] == err["message"]
        item = client.post("/api/v3/predictions", json={}, headers=auth).json()["data"]["items"][0]
        assert item["id"] == pid and item["status"] == "completed"  # still completed, and here as URLs
        assert all(client.get(u).status_code == 200 for u in item["outputs"])
        service.settings.max_base64_bytes = 10**6
        done = client.get(f"/api/v3/predictions/{pid}/result", headers=auth).json()["data"]
        assert len(done["outputs"]) == 2  # under the cap, the same result is answered in base64


def test_sdk_user_sees_the_cap_message(tmp_path):
    wavespeed = pytest.importorskip("wavespeed")
    server = Server(tmp_path, SEQEDIT_MAX_BASE64_BYTES="1000").start()
    try:
        client = wavespeed.Client(api_key=server.key, base_url=server.url)
        inputs = {"prompt": "two", "images": [data_uri(png())], "size": "64*64", "max_images": 2}
        with pytest.raises(RuntimeError) as info:
            client.run(
                MODEL.removeprefix("/api/v3/"), {**inputs, "enable_base64_output": True}, poll_interval=0.05, timeout=30
            )
        text = str(info.value)
        assert "413" in text and "without enable_base64_output" in text and "URLs" in text
    finally:
        server.kill(signal.SIGTERM)


# ---------------------------------------------------------------------- memory on a real server

BIG_SIZE, BIG_COUNT = 4096, 15  # 15 noise PNGs of ~50 MB: a body of ~1 GB
RSS_BUDGET = 100 * 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class _Decoder:
    """Reads a streamed base64 envelope without holding it: the JSON around ``outputs`` is kept (it is
    small) and each output's base64 is decoded in step into a SHA-256 and a byte count."""

    def __init__(self) -> None:
        self.head = b""
        self.tail = b""
        self.state = "head"
        self.outputs: list[tuple[str, int]] = []
        self._b64 = b""
        self._hash = hashlib.sha256()
        self._n = 0
        self.first_bytes = b""

    def _decode(self, text: bytes, final: bool = False) -> None:
        text = self._b64 + text
        cut = len(text) if final else len(text) - len(text) % 4
        data = base64.b64decode(text[:cut], validate=True)
        if self._n == 0 and not self.outputs:
            self.first_bytes = data[:8]
        self._hash.update(data)
        self._n += len(data)
        self._b64 = text[cut:]

    def feed(self, chunk: bytes) -> None:
        while chunk:
            if self.state == "head":
                self.head += chunk
                at = self.head.find(b'"outputs":[')
                if at < 0:
                    return
                chunk = self.head[at + len(b'"outputs":[') :]
                self.head = self.head[: at + len(b'"outputs":[')]
                self.state = "between"
            elif self.state == "between":
                c, chunk = chunk[:1], chunk[1:]
                if c == b'"':
                    self.state, self._hash, self._n, self._b64 = "string", hashlib.sha256(), 0, b""
                elif c == b"]":
                    self.state, self.tail = "tail", b"]"
                elif c != b",":
                    raise AssertionError(f"unexpected {c!r} between outputs")
            elif self.state == "string":
                end = chunk.find(b'"')
                if end < 0:
                    self._decode(chunk)
                    return
                self._decode(chunk[:end], final=True)
                self.outputs.append((self._hash.hexdigest(), self._n))
                self.state, chunk = "between", chunk[end + 1 :]
            else:
                self.tail += chunk
                return

    def envelope(self) -> dict:
        return json.loads(self.head + self.tail)  # the envelope with "outputs":[]


def test_big_base64_poll_keeps_server_memory_bounded(tmp_path):
    server = Server(
        tmp_path,
        engine="test-noisy",
        SEQEDIT_MAX_BASE64_BYTES=str(4 * 1024**3),
        SEQEDIT_MAX_IMAGE_PIXELS=str(BIG_SIZE * BIG_SIZE),
    ).start()
    try:
        pid = server.proc.pid
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=300) as c:
            body = {
                "prompt": "noise",
                "images": [data_uri(png())],
                "size": f"{BIG_SIZE}*{BIG_SIZE}",
                "max_images": BIG_COUNT,
                "output_format": "png",
                "enable_base64_output": True,
            }
            r = c.post(MODEL, json=body)
            assert r.status_code == 200, r.text
            job = r.json()["data"]["id"]
            deadline = time.monotonic() + 180
            while (c.post("/api/v3/predictions", json={"page_size": 1}).json()["data"]["items"][0]["status"]) in (
                "created",
                "processing",
            ):
                assert time.monotonic() < deadline, "the big job did not finish"
                time.sleep(0.5)
            item = c.post("/api/v3/predictions", json={"page_size": 1}).json()["data"]["items"][0]
            assert item["id"] == job and item["status"] == "completed", item
            files = [server.data_dir / "objects" / urlparse(u).path.removeprefix("/files/") for u in item["outputs"]]
            expected = [(hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_size) for f in files]

            time.sleep(0.5)  # let the worker's last panel go
            base = _status_kib(pid, "VmRSS")
            reset = True
            try:  # "5" resets VmHWM to the current RSS (Linux ≥ 4.0)
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                reset = False
            peak = [base]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], _status_kib(pid, "VmRSS"))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            decoder = _Decoder()
            t0 = time.perf_counter()
            try:
                with c.stream("GET", f"/api/v3/predictions/{job}/result") as resp:
                    assert resp.status_code == 200
                    length = int(resp.headers["content-length"])
                    received = 0
                    for chunk in resp.iter_raw():
                        received += len(chunk)
                        decoder.feed(chunk)
            finally:
                stop.set()
                sampler.join()
            seconds = time.perf_counter() - t0
            hwm = _status_kib(pid, "VmHWM") if reset else 0
        growth = (max(peak[0], hwm) - base) * 1024
        print(
            f"\nbase64 poll of {BIG_COUNT}×{BIG_SIZE}² PNG: {received / 1e6:.0f} MB in {seconds:.1f} s; server RSS "
            f"{base / 1024:.0f} MiB before, peak {max(peak[0], hwm) / 1024:.0f} MiB (growth {growth / 2**20:.1f} MiB; "
            f"VmHWM reset: {reset})"
        )
        assert received == length > BIG_COUNT * BIG_SIZE * BIG_SIZE * 3  # ~4/3 of 3 bytes a pixel
        assert decoder.outputs == expected  # every file, whole and in order
        assert decoder.first_bytes.startswith(b"\x89PNG")
        env = decoder.envelope()
        assert env["code"] == 200 and env["data"]["id"] == job and env["data"]["status"] == "completed"
        assert growth < RSS_BUDGET, f"the poll grew the server by {growth / 2**20:.0f} MiB"
    finally:
        server.kill(signal.SIGTERM)
