"""``storage.s3``: what is particular to S3 (the contract itself runs in ``tests/test_storage.py``): the
settings refused at start, presigned URLs a plain HTTP client downloads until they expire, our own
presigned URLs recognised, the bucket check, and faults of a server that goes away mid-write —
against a real SeaweedFS server (``s3_server``), through a TCP relay the tests can cut."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fixtures.s3 import Relay
from seqedit.jobs.faults import transient
from seqedit.storage import FileSigner, S3Storage, StorageConfigError, open_storage, own_key
from seqedit.storage.s3 import MAX_PRESIGN_SECONDS, S3Settings, content_type

SIGNER = FileSigner(b"k", "http://api.example")
KEYS = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}


UNUSED_DATA_DIR = Path(tempfile.gettempdir())  # an S3 store keeps nothing in the data dir


def make(s3, *, prefix: str | None = None, proxy: bool = False, **env: str) -> S3Storage:
    storage = open_storage(s3.url(prefix), UNUSED_DATA_DIR, SIGNER, proxy=proxy, environ={**s3.env, **env})
    assert isinstance(storage, S3Storage)
    return storage


# ---------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("url", "env", "names"),
    [
        ("s3://", KEYS, "names no bucket"),
        ("s3://Bad_Bucket/x", KEYS, "not a valid S3 bucket name"),
        ("s3://ab/x", KEYS, "not a valid S3 bucket name"),
        ("s3://bucket/a/../b", KEYS, "prefix segment '..'"),
        ("s3://bucket/a b", KEYS, "prefix segment 'a b'"),
        ("s3://bucket:9000/x", KEYS, "AWS_ENDPOINT_URL"),
        ("s3://id:secret@bucket/x", KEYS, "AWS_ACCESS_KEY_ID"),
        ("s3://bucket/x?region=eu", KEYS, "only a bucket and a prefix"),
        ("s3://bucket/x", {}, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ("s3://bucket/x", {"AWS_ACCESS_KEY_ID": "id"}, "AWS_SECRET_ACCESS_KEY is not"),
        ("s3://bucket/x", {"AWS_SECRET_ACCESS_KEY": "s"}, "AWS_ACCESS_KEY_ID is not"),
        ("s3://bucket/x", {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, "AWS_ROLE_ARN"),
        ("s3://bucket/x", {**KEYS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}, "AWS_ALLOW_HTTP=true"),
        ("s3://bucket/x", {**KEYS, "AWS_ENDPOINT_URL_S3": "127.0.0.1:9000"}, "AWS_ENDPOINT_URL_S3="),
        ("s3://bucket/x", {**KEYS, "AWS_ALLOW_HTTP": "maybe"}, "AWS_ALLOW_HTTP='maybe' is not a boolean"),
    ],
)
def test_bad_settings_are_refused_at_start_naming_what_to_fix(url, env, names):
    with pytest.raises(StorageConfigError) as info:
        open_storage(url, UNUSED_DATA_DIR, SIGNER, environ=env)
    assert names in str(info.value)
    assert isinstance(info.value, ValueError)


def test_settings_from_the_usual_variables():
    s = S3Settings.from_url(
        "s3://my-bucket/a/b/",
        {
            **KEYS,
            "AWS_ENDPOINT_URL": "https://ignored.example",
            "AWS_ENDPOINT_URL_S3": "https://s3.example:9000/",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_SESSION_TOKEN": "tok",
        },
    )
    assert (s.bucket, s.prefix, s.endpoint, s.region, s.session_token) == (
        "my-bucket",
        "a/b",
        "https://s3.example:9000",
        "eu-west-1",
        "tok",
    )
    assert S3Settings.from_url(
        "s3://my-bucket", {**KEYS, "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "x"}
    ).region == ("us-west-2")
    role = S3Settings.from_url("s3://my-bucket", {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:x"})
    assert role.access_key_id == "" and role.prefix == ""  # obstore's own provider signs


def test_content_types_are_images_or_octet_stream():
    assert content_type("outputs/p/1/0.jpg") == "image/jpeg" and content_type("uploads/u/A.PNG") == "image/png"
    assert content_type("uploads/u/page.html") == "application/octet-stream"
    assert content_type("uploads/u/noext") == "application/octet-stream"


# ---------------------------------------------------------------------------------------- presigned URLs


def test_presigned_url_downloads_with_its_type_and_expires_with_the_object(s3_server):
    storage = make(s3_server)
    storage.put("outputs/p/1/0.png", b"\x89PNG fake")
    expires_at = int(time.time()) + 3600
    url = storage.url("outputs/p/1/0.png", expires_at)
    assert url.startswith(s3_server.endpoint + "/seqedit/") and "X-Amz-Signature=" in url
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    signed_at = time.mktime(time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
    assert abs(signed_at + int(q["X-Amz-Expires"]) - expires_at) <= 2  # expires when the row does
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"\x89PNG fake" and r.headers["content-type"] == "image/png"
    assert httpx.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=30).status_code == 403
    # S3 presigns for at most 7 days: a longer retention is capped, not refused
    far = storage.url("outputs/p/1/0.png", int(time.time()) + 30 * 86400)
    assert parse_qs(urlsplit(far).query)["X-Amz-Expires"] == [str(MAX_PRESIGN_SECONDS)]


def test_a_presigned_url_stops_working_when_it_expires(s3_server):
    storage = make(s3_server)
    storage.put("outputs/p/1/0.png", b"x")
    url = storage.url("outputs/p/1/0.png", int(time.time()) - 5)  # already past: the shortest, 1 s
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["1"]
    deadline = time.monotonic() + 30  # a hang guard: S3 refuses it once its second is over
    while (status := httpx.get(url, timeout=30).status_code) == 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status == 403


def test_proxy_mode_hands_out_our_own_signed_files_urls(s3_server):
    storage = make(s3_server, proxy=True)
    url = storage.url("outputs/p/1/0.png", int(time.time()) + 60)
    assert url.startswith("http://api.example/files/outputs/p/1/0.png?expires=")
    assert own_key(url, b"k") == "outputs/p/1/0.png"


def test_our_presigned_urls_are_recognised_by_where_they_point(s3_server):
    storage = make(s3_server, prefix="here/deep")
    url = storage.url("uploads/u/a.png", int(time.time()) + 60)
    assert "/seqedit/here/deep/uploads/u/a.png?" in url
    assert own_key(url, b"k", storage=storage) == "uploads/u/a.png" == storage.key_for_url(url)
    assert own_key(url, b"k") is None  # without the store it is just some URL
    assert storage.key_for_url(url.split("?")[0]) == "uploads/u/a.png"  # the location, not the signature
    other_prefix = make(s3_server, prefix="elsewhere")
    assert other_prefix.key_for_url(url) is None
    for bad in (
        url.replace("/seqedit/", "/other-bucket/"),
        url.replace("127.0.0.1", "localhost"),
        url.replace("http://", "https://"),
        url.replace("uploads/u/a.png", "uploads/u/%2e%2e/%2e%2e/x"),
        url.replace("uploads/u/a.png", "secret/x"),
        "https://example.com/seqedit/here/deep/uploads/u/a.png",
        "not a url at all",
    ):
        assert storage.key_for_url(bad) is None, bad


# ---------------------------------------------------------------------------------------- readiness


def test_check_asks_the_bucket(s3_server):
    assert make(s3_server).check() == ""
    missing = open_storage("s3://no-such-bucket/x", UNUSED_DATA_DIR, SIGNER, environ=s3_server.env)
    assert isinstance(missing, S3Storage)
    problem = missing.check()
    assert "s3://no-such-bucket/x at http://127.0.0.1:" in problem and "does not answer" in problem
    with Relay(s3_server.endpoint) as relay:
        gone = make(s3_server, AWS_ENDPOINT_URL=relay.endpoint)
        assert gone.check() == ""
        relay.cut()
        assert "does not answer" in gone.check()


# ---------------------------------------------------------------------------------------- faults


def test_a_server_that_goes_away_mid_write_is_a_transient_fault_and_leaves_no_object(s3_server):
    """The relay in front of the real server is cut after the first 5 MiB part: the multipart upload
    fails with a network error, ``jobs.faults`` calls it transient (the job is retried, not failed),
    and once the server is reachable again there is no object at the key."""
    with Relay(s3_server.endpoint) as relay:
        storage = S3Storage(
            S3Settings.from_url(s3_server.url(), {**s3_server.env, "AWS_ENDPOINT_URL": relay.endpoint}),
            signer=SIGNER,
            retry={"max_retries": 1},
        )
        direct = S3Storage(dataclasses.replace(storage.settings, endpoint=s3_server.endpoint), signer=SIGNER)

        def chunks():
            yield b"a" * (6 * 1024 * 1024)
            relay.cut()
            yield b"b" * (6 * 1024 * 1024)

        with pytest.raises(Exception) as info:
            storage.put_stream("uploads/u/big.bin", chunks())
        fault = transient(info.value)
        assert fault is not None and fault.kind == "storage", repr(info.value)
        assert not direct.exists("uploads/u/big.bin")
        with pytest.raises(Exception) as read:
            storage.get("outputs/p/1/0.png")
        assert transient(read.value) is not None and not isinstance(read.value, FileNotFoundError)


def test_refused_connections_are_transient_but_missing_objects_and_bad_keys_are_not(s3_server):
    with Relay(s3_server.endpoint) as relay:
        endpoint = relay.endpoint
    storage = make(s3_server, AWS_ENDPOINT_URL=endpoint)  # nothing listens there any more
    storage = S3Storage(storage.settings, signer=SIGNER, retry={"max_retries": 0})
    with pytest.raises(Exception) as info:
        storage.put("outputs/p/1/0.png", b"x")
    fault = transient(info.value)
    assert fault is not None and "ECONNREFUSED" in fault.reason
    live = make(s3_server)
    with pytest.raises(FileNotFoundError) as missing:
        live.get("outputs/p/1/missing.png")
    assert transient(missing.value) is None
