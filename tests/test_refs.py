"""``refs``: the bytes behind each kind of reference (own objects without HTTP,
URLs through the SSRF guard, inline data), with every failure naming ``images[i]``."""

from __future__ import annotations

import base64
import time

import pytest

from seqedit.refs import RefError, RefLoader, inline_bytes, parse_data_uri
from seqedit.storage import OBJECT_REF, FileSigner, ObjectStorage, own_key

SECRET = b"s"


@pytest.fixture
def storage():
    return ObjectStorage(signer=FileSigner(SECRET, "http://files.example"))


def test_own_urls_are_recognised_and_tampered_ones_are_just_urls(storage):
    own = storage.url("uploads/u/a.png", int(time.time()) + 60)
    assert own_key(own, SECRET) == own_key(OBJECT_REF + "uploads/u/a.png", SECRET) == "uploads/u/a.png"
    assert own_key(own.replace("sig=", "sig=x"), SECRET) is None  # tampered: just some URL
    assert own_key("https://example.com/a.png", SECRET) is None


def test_inline_forms():
    assert parse_data_uri("data:image/png;base64," + base64.b64encode(b"xyz").decode()) == b"xyz"
    assert inline_bytes(base64.b64encode(b"abc").decode() + "\n", "images[0]") == b"abc"
    for bad in ("data:image/png,notbase64", "%%%"):
        with pytest.raises(RefError) as info:
            inline_bytes(bad, "images[3]")
        assert info.value.code == 1401 and info.value.field == "images[3]" and str(info.value).startswith("images[3]")


def test_loader_reads_every_kind_and_names_the_image_it_cannot(storage):
    storage.put("uploads/u/a.png", b"own")
    loader = RefLoader(storage, SECRET, max_bytes=1000)
    assert loader.load(storage.url("uploads/u/a.png", int(time.time()) + 60), 0) == b"own"
    assert loader.load(OBJECT_REF + "uploads/u/a.png", 0) == b"own"
    assert loader.load(base64.b64encode(b"inline").decode(), 0) == b"inline"
    failures = {
        OBJECT_REF + "uploads/u/gone.png": "no longer exists",
        OBJECT_REF + "../x": "invalid internal",
        "http://127.0.0.1:1/x.png": "failed to download",
    }
    for ref, words in failures.items():
        with pytest.raises(RefError) as info:
            loader.load(ref, 2)
        assert info.value.code == 1402 and info.value.field == "images[2]" and words in str(info.value), ref
