"""``storage``: the object store port and our own signed URLs."""

from __future__ import annotations

import time

import pytest

from seqedit.storage import OBJECT_REF, ObjectStorage, own_key, safe_name, valid_key


@pytest.mark.parametrize("root", [None, "dir"])
def test_put_get_delete(tmp_path, root):
    s = ObjectStorage(None if root is None else tmp_path / root)
    s.put("outputs/p/1/0.jpg", b"abc")
    s.put("outputs/p/1/1.jpg", b"def")
    assert s.get("outputs/p/1/0.jpg") == b"abc" and s.exists("outputs/p/1/1.jpg")
    assert s.delete_prefix("outputs/p/") == 2
    assert not s.exists("outputs/p/1/0.jpg")
    with pytest.raises(FileNotFoundError):
        s.get("outputs/p/1/0.jpg")
    s.delete("outputs/p/1/0.jpg")  # idempotent


def test_keys_cannot_escape(tmp_path):
    s = ObjectStorage(tmp_path)
    for bad in ("../x", "outputs/../../etc/passwd", "/etc/passwd", "other/x", "outputs//x"):
        assert not valid_key(bad)
        with pytest.raises(ValueError):
            s.put(bad, b"x")
    assert s.local_path("outputs/a/b.jpg") == (tmp_path / "outputs/a/b.jpg").resolve()


def test_signed_url_round_trip_and_tamper():
    s = ObjectStorage()
    url = s.url("uploads/u/a.png", base="http://h:1/", secret=b"k", expires_at=int(time.time()) + 60)
    assert url.startswith("http://h:1/files/uploads/u/a.png?expires=")
    assert own_key(url, b"k") == "uploads/u/a.png"
    assert own_key(url, b"other") is None
    assert own_key(url.replace("a.png", "b.png"), b"k") is None
    expired = s.url("uploads/u/a.png", base="http://h", secret=b"k", expires_at=int(time.time()) - 1)
    assert own_key(expired, b"k") is None
    assert own_key(OBJECT_REF + "uploads/u/a.png", b"k") == "uploads/u/a.png"
    assert own_key("https://example.com/x.png", b"k") is None


def test_safe_name():
    assert safe_name("../../a b?.png") == "a_b_.png"
    assert safe_name("") == "upload"
