"""``storage``: the port's contract, run by every implementation ``open_storage`` can build (the local
ones, and S3 on a real SeaweedFS server, presigning and proxied), then what is particular to each (the
local store's files on disk; S3's own tests are in ``tests/test_storage_s3.py``) and our own signed URLs."""

from __future__ import annotations

import time

import pytest

from seqedit.storage import (
    OBJECT_REF,
    FileSigner,
    ObjectStorage,
    RangeNotSatisfiable,
    Storage,
    open_storage,
    own_key,
    safe_name,
    valid_key,
)

SIGNER = FileSigner(b"k", "http://h:1/")


@pytest.fixture(params=["", "file", "memory://", "s3", "s3-proxy"])
def storage(request, tmp_path) -> Storage:
    """Every implementation behind the port: the default data dir, an explicit file:// root, memory, and
    an S3 bucket (a fresh prefix per test) handing out presigned URLs or proxying through ``/files``."""
    if request.param.startswith("s3"):
        s3 = request.getfixturevalue("s3_server")
        return open_storage(s3.url(), tmp_path, SIGNER, proxy=request.param == "s3-proxy", environ=s3.env)
    url = f"file://{tmp_path / 'elsewhere'}" if request.param == "file" else request.param
    return open_storage(url, tmp_path, SIGNER)


# ---------------------------------------------------------------------------------------- the contract


def test_put_get_exists_delete(storage):
    storage.put("outputs/p/1/0.jpg", b"abc")
    storage.put("outputs/p/1/1.jpg", b"def")
    assert storage.get("outputs/p/1/0.jpg") == b"abc" and storage.exists("outputs/p/1/1.jpg")
    storage.put("outputs/p/1/0.jpg", b"new")  # overwrite
    assert storage.get("outputs/p/1/0.jpg") == b"new"
    storage.delete("outputs/p/1/1.jpg")
    assert not storage.exists("outputs/p/1/1.jpg")
    storage.delete("outputs/p/1/1.jpg")  # idempotent
    with pytest.raises(FileNotFoundError):
        storage.get("outputs/p/1/1.jpg")


def test_delete_prefix_removes_only_that_folder(storage):
    for key in ("outputs/p/1/0.jpg", "outputs/p/2/0.jpg", "outputs/q/1/0.jpg", "outputs/pp/1/0.jpg"):
        storage.put(key, b"x")
    assert storage.delete_prefix("outputs/p/") == 2
    assert not storage.exists("outputs/p/1/0.jpg") and not storage.exists("outputs/p/2/0.jpg")
    assert storage.exists("outputs/q/1/0.jpg") and storage.exists("outputs/pp/1/0.jpg")
    assert storage.delete_prefix("outputs/nothing/") == 0


def test_open_whole_and_ranges(storage):
    data = bytes(range(256)) * 4000  # 1 MB: more than one streamed chunk
    storage.put("uploads/u/a.bin", data)
    whole = storage.open("uploads/u/a.bin")
    assert not whole.partial and whole.info.size == len(data) and b"".join(whole.chunks) == data
    assert whole.info.etag.startswith('"') and whole.info.modified.tzinfo is not None
    for byte_range, expected in (
        ((0, 7), data[:8]),
        ((10, None), data[10:]),
        ((None, 5), data[-5:]),
        ((len(data) - 3, len(data) + 100), data[-3:]),
    ):
        part = storage.open("uploads/u/a.bin", byte_range)
        assert part.partial and b"".join(part.chunks) == expected and part.length == len(expected), byte_range
    assert storage.open("uploads/u/a.bin").info.etag == whole.info.etag  # stable while unchanged


def test_open_refuses_ranges_outside_the_object(storage):
    storage.put("uploads/u/a.bin", b"0123456789")
    for bad in ((10, None), (20, 30), (5, 2), (None, 0)):
        with pytest.raises(RangeNotSatisfiable) as info:
            storage.open("uploads/u/a.bin", bad)
        assert info.value.size == 10
    with pytest.raises(FileNotFoundError):
        storage.open("uploads/u/missing.bin")
    with pytest.raises(FileNotFoundError):  # a key that names a folder of other keys is no object
        storage.open("uploads/u")


def test_put_stream_writes_chunks_and_returns_the_size(storage):
    chunks = [bytes([i]) * 300_000 for i in range(7)]  # 2.1 MB: more than one multipart part
    assert storage.put_stream("uploads/u/big.bin", iter(chunks)) == 2_100_000
    assert storage.get("uploads/u/big.bin") == b"".join(chunks)
    assert storage.put_stream("uploads/u/none.bin", iter(())) == 0 and storage.get("uploads/u/none.bin") == b""


def test_put_stream_that_fails_leaves_no_object(storage):
    """A disk that fills up mid-upload (or a client that goes away) leaves nothing behind at the key."""

    def failing():
        yield b"x" * (6 * 1024 * 1024)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as info:
        storage.put_stream("uploads/u/partial.bin", failing())
    assert info.value.errno == 28
    assert not storage.exists("uploads/u/partial.bin")
    with pytest.raises(ValueError):
        storage.put_stream("../x", iter([b"x"]))


def test_empty_object(storage):
    storage.put("uploads/u/empty", b"")
    body = storage.open("uploads/u/empty")
    assert body.length == 0 and b"".join(body.chunks) == b""


def test_keys_cannot_escape(storage):
    for bad in ("../x", "outputs/../../etc/passwd", "/etc/passwd", "other/x", "outputs//x"):
        assert not valid_key(bad)
        for call in (
            lambda k: storage.put(k, b"x"),
            storage.get,
            storage.exists,
            storage.delete,
            storage.open,
            lambda k: storage.url(k, 10**10),
        ):
            with pytest.raises(ValueError):
                call(bad)


def test_url_is_ours(storage):
    """Every URL a store hands out is recognised as ours (given the store); our signed ``/files`` URLs
    also without it, until they expire, and not when tampered with."""
    url = storage.url("uploads/u/a.png", int(time.time()) + 60)
    assert own_key(url, b"k", storage=storage) == "uploads/u/a.png"
    if "/files/" not in url:  # a presigned S3 URL: recognised by where it points (tests/test_storage_s3.py)
        return
    assert own_key(url, b"k") == "uploads/u/a.png"
    assert own_key(url, b"other") is None
    assert own_key(url.replace("a.png", "b.png"), b"k") is None
    assert own_key(storage.url("uploads/u/a.png", int(time.time()) - 1), b"k") is None


# ---------------------------------------------------------------------------------------- per backend


def test_local_store_keeps_files_under_its_root(tmp_path):
    s = open_storage("", tmp_path, SIGNER)
    s.put("outputs/a/b.jpg", b"abc")
    assert (tmp_path / "objects" / "outputs/a/b.jpg").read_bytes() == b"abc"
    s.delete_prefix("outputs/a/")
    assert not (tmp_path / "objects" / "outputs" / "a").exists()  # no empty folders left behind


def test_unknown_storage_url_is_refused(tmp_path):
    with pytest.raises(ValueError, match="storage_url"):
        open_storage("ftp://x", tmp_path, SIGNER)


def test_signed_url_round_trip_and_tamper():
    s = ObjectStorage(signer=FileSigner(b"k", "http://h:1/"))
    url = s.url("uploads/u/a.png", int(time.time()) + 60)
    assert url.startswith("http://h:1/files/uploads/u/a.png?expires=")
    assert own_key(url, b"k") == "uploads/u/a.png"
    assert own_key(url, b"other") is None
    assert own_key(url.replace("a.png", "b.png"), b"k") is None
    expired = ObjectStorage(signer=FileSigner(b"k", "http://h")).url("uploads/u/a.png", int(time.time()) - 1)
    assert own_key(expired, b"k") is None
    assert own_key(OBJECT_REF + "uploads/u/a.png", b"k") == "uploads/u/a.png"
    assert own_key("https://example.com/x.png", b"k") is None


def test_without_a_public_base_urls_are_root_relative():
    url = ObjectStorage(signer=FileSigner(b"k")).url("outputs/p/1/0.jpg", int(time.time()) + 60)
    assert url.startswith("/files/outputs/p/1/0.jpg?expires=") and own_key(url, b"k") == "outputs/p/1/0.jpg"
    assert FileSigner(b"k").verify("outputs/p/1/0.jpg", *[p.split("=", 1)[1] for p in url.split("?")[1].split("&")])


def test_safe_name():
    assert safe_name("../../a b?.png") == "a_b_.png"
    assert safe_name("") == "upload"
