"""Signed file URLs and webhook signatures (api-contract.md §1.9)."""

from __future__ import annotations

import hashlib
import hmac
import re
import string
from urllib.parse import parse_qs

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from seqedit.signing import new_webhook_secret, sign_path, verify_path, verify_webhook, webhook_headers

SECRET = b"server-side signing key"
NOW = 1_750_000_000


def _parts(query: str) -> tuple[str, str]:
    q = parse_qs(query, strict_parsing=True)
    assert set(q) == {"expires", "sig"}
    return q["expires"][0], q["sig"][0]


# ------------------------------------------------------------------------------ signed paths


def test_sign_path_shape_and_roundtrip():
    query = sign_path(SECRET, "/files/ab12/0.png", NOW + 60)
    assert re.fullmatch(r"expires=\d+&sig=[A-Za-z0-9_-]+", query)
    expires, sig = _parts(query)
    assert expires == str(NOW + 60)
    assert verify_path(SECRET, "/files/ab12/0.png", expires, sig, now=NOW)


def test_signature_is_hmac_sha256_of_path_newline_expires():
    import base64

    expires, sig = _parts(sign_path(SECRET, "/p", NOW))
    mac = hmac.new(SECRET, f"/p\n{NOW}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)) == mac


def test_tampering_fails():
    expires, sig = _parts(sign_path(SECRET, "/files/a.png", NOW + 60))
    assert not verify_path(SECRET, "/files/b.png", expires, sig, now=NOW)  # other path
    assert not verify_path(SECRET, "/files/a.png", str(NOW + 61), sig, now=NOW)  # later expiry
    assert not verify_path(SECRET, "/files/a.png", "0" + expires, sig, now=NOW)  # same number, other spelling
    assert not verify_path(SECRET, "/files/a.png", expires, sig[:-1] + ("A" if sig[-1] != "A" else "B"), now=NOW)
    assert not verify_path(b"other key", "/files/a.png", expires, sig, now=NOW)


def test_expiry_boundary():
    expires, sig = _parts(sign_path(SECRET, "/x", NOW))
    assert verify_path(SECRET, "/x", expires, sig, now=NOW - 1)
    assert not verify_path(SECRET, "/x", expires, sig, now=NOW)
    assert not verify_path(SECRET, "/x", expires, sig, now=NOW + 3600)


def test_verify_uses_wall_clock_by_default():
    import time

    good = _parts(sign_path(SECRET, "/x", int(time.time()) + 300))
    old = _parts(sign_path(SECRET, "/x", int(time.time()) - 1))
    assert verify_path(SECRET, "/x", *good)
    assert not verify_path(SECRET, "/x", *old)


@pytest.mark.parametrize(
    "expires, sig",
    [
        (None, "abc"),
        ("123", None),
        (None, None),
        ("", ""),
        ("abc", "x"),
        ("-5", "x"),
        (" 1", "x"),
        ("1e9", "x"),
        ("١٢٣", "x"),
        ("9" * 40, "x"),
        (str(NOW + 5), "\udcff"),
        (str(NOW + 5), "é" * 43),
        (str(NOW + 5), ""),
    ],
)
def test_malformed_input_is_false_never_raises(expires, sig):
    assert verify_path(SECRET, "/x", expires, sig, now=NOW) is False


def test_weird_types_never_raise():
    assert verify_path(SECRET, "/x", 123, b"sig", now=NOW) is False  # type: ignore[arg-type]
    assert verify_path(SECRET, "/x\udcff", str(NOW + 5), "x", now=NOW) is False


paths = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
secrets_ = st.binary(min_size=1, max_size=64)


@settings(max_examples=150, deadline=None)
@given(secret=secrets_, path=paths, lifetime=st.integers(min_value=1, max_value=10**8))
def test_property_roundtrip(secret, path, lifetime):
    expires, sig = _parts(sign_path(secret, path, NOW + lifetime))
    assert verify_path(secret, path, expires, sig, now=NOW)
    assert not verify_path(secret, path, expires, sig, now=NOW + lifetime)


@settings(max_examples=300, deadline=None)
@given(
    secret=secrets_,
    path=paths,
    which=st.sampled_from(["path", "expires", "sig"]),
    index=st.integers(min_value=0),
    replacement=st.characters(blacklist_categories=("Cs",)),
)
def test_property_any_single_character_tamper_fails(secret, path, which, index, replacement):
    expires, sig = _parts(sign_path(secret, path, NOW + 3600))
    fields = {"path": path, "expires": expires, "sig": sig}
    original = fields[which]
    if not original:
        tampered = replacement  # inserting into an empty path
    else:
        i = index % len(original)
        assume(original[i] != replacement)
        tampered = original[:i] + replacement + original[i + 1 :]
    fields[which] = tampered
    assert not verify_path(secret, fields["path"], fields["expires"], fields["sig"], now=NOW)


@settings(max_examples=200, deadline=None)
@given(secret=secrets_, path=paths, bit=st.integers(min_value=0, max_value=255))
def test_property_single_bit_flip_of_the_mac_fails(secret, path, bit):
    import base64

    expires, sig = _parts(sign_path(secret, path, NOW + 3600))
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[bit // 8] ^= 1 << (bit % 8)
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert not verify_path(secret, path, expires, forged, now=NOW)


# ------------------------------------------------------------------------------ webhooks


def _independent_signature(secret: str, msg_id: str, ts: int, body: bytes) -> str:
    """What a receiver following the WaveSpeed docs computes: key = secret without "whsec_"."""
    key = secret.removeprefix("whsec_").encode()
    return "v3," + hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).hexdigest()


def test_new_webhook_secret_shape():
    a, b = new_webhook_secret(), new_webhook_secret()
    assert re.fullmatch(r"whsec_[0-9a-f]{64}", a)
    assert a != b


def test_webhook_headers_match_an_independent_hmac():
    secret = new_webhook_secret()
    body = b'{"id":"6488c2754f6f4dfea924382fa14d11bd","status":"completed","outputs":["u"]}'
    h = webhook_headers(secret, body, "msg_1", NOW)
    assert set(h) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert h["webhook-id"] == "msg_1" and h["webhook-timestamp"] == str(NOW)
    assert re.fullmatch(r"v3,[0-9a-f]{64}", h["webhook-signature"])
    assert h["webhook-signature"] == _independent_signature(secret, "msg_1", NOW, body)
    # the key is NOT the base64 decoding nor the full prefixed string
    wrong = "v3," + hmac.new(secret.encode(), f"msg_1.{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert h["webhook-signature"] != wrong


def test_webhook_known_vector():
    sig = webhook_headers("whsec_abc", b"{}", "id1", 1700000000)["webhook-signature"]
    assert sig == "v3," + hmac.new(b"abc", b"id1.1700000000.{}", hashlib.sha256).hexdigest()


def test_verify_webhook_accepts_and_rejects():
    secret = new_webhook_secret()
    body = b'{"status":"failed","error":"x"}'
    h = webhook_headers(secret, body, "m", NOW)
    assert verify_webhook(secret, h, body, now=NOW)
    assert verify_webhook(secret, h, body, now=NOW + 300)  # at the edge
    assert verify_webhook(secret, {k.upper(): v for k, v in h.items()}, body, now=NOW)  # header case
    assert not verify_webhook(new_webhook_secret(), h, body, now=NOW)  # wrong secret
    assert not verify_webhook(secret, h, body + b" ", now=NOW)  # body changed
    assert not verify_webhook(secret, h, body, now=NOW + 301)  # stale
    assert not verify_webhook(secret, h, body, now=NOW - 301)  # from the future
    assert not verify_webhook(secret, {**h, "webhook-id": "n"}, body, now=NOW)
    assert not verify_webhook(secret, {**h, "webhook-timestamp": str(NOW + 1)}, body, now=NOW)
    assert not verify_webhook(secret, {**h, "webhook-signature": "v1," + h["webhook-signature"][3:]}, body, now=NOW)
    assert not verify_webhook(secret, {**h, "webhook-signature": h["webhook-signature"].upper()}, body, now=NOW)
    assert verify_webhook(secret, {**h, "webhook-signature": "v3,deadbeef " + h["webhook-signature"]}, body, now=NOW)
    assert verify_webhook(secret, h, body, tolerance_s=10, now=NOW + 10)
    assert not verify_webhook(secret, h, body, tolerance_s=10, now=NOW + 11)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "m"},
        {"webhook-id": "m", "webhook-timestamp": "x", "webhook-signature": "v3,00"},
        {"webhook-id": "m", "webhook-timestamp": "-1", "webhook-signature": "v3,00"},
        {"webhook-id": "", "webhook-timestamp": str(NOW), "webhook-signature": "v3,00"},
        {"webhook-id": "m", "webhook-timestamp": str(NOW), "webhook-signature": "v3,\udcff"},
        {"webhook-id": 5, "webhook-timestamp": NOW, "webhook-signature": None},
    ],
)
def test_verify_webhook_malformed_is_false(headers):
    assert verify_webhook("whsec_abc", headers, b"{}", now=NOW) is False


def test_verify_webhook_default_clock():
    import time

    secret = new_webhook_secret()
    now = int(time.time())
    assert verify_webhook(secret, webhook_headers(secret, b"x", "m", now), b"x")
    assert not verify_webhook(secret, webhook_headers(secret, b"x", "m", now - 3600), b"x")


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=256),
    msg_id=st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=40),
    index=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_property_webhook_roundtrip_and_body_tamper(body, msg_id, index, flip):
    secret = new_webhook_secret()
    h = webhook_headers(secret, body, msg_id, NOW)
    assert h["webhook-signature"] == _independent_signature(secret, msg_id, NOW, body)
    assert verify_webhook(secret, h, body, now=NOW)
    if body:
        b = bytearray(body)
        b[index % len(b)] ^= flip
        assert not verify_webhook(secret, h, bytes(b), now=NOW)
