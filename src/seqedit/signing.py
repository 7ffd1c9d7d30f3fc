"""HMAC helpers: expiring signed file URLs and WaveSpeed-style webhook signatures.

Signed paths
    ``sign_path(secret, "/files/abc.png", 1700000000)`` returns the query string
    ``expires=1700000000&sig=<urlsafe base64, unpadded, of HMAC-SHA256(secret, f"{path}\\n{expires}")>``.
    A URL is valid while ``now < expires``. ``expires`` is the last line of the signed message and
    is all digits, so no (path, expires) pair can be confused with another.

Webhooks (api-contract.md §1.9, https://wavespeed.ai/docs/docs-api/verifying_webhook)
    Headers ``webhook-id``, ``webhook-timestamp`` (unix seconds) and
    ``webhook-signature: v3,<hex HMAC-SHA256>``; the signed bytes are
    ``f"{webhook-id}.{webhook-timestamp}.".encode() + raw_body``; the key is the secret from
    ``GET /api/v3/webhook/secret`` **with the ``whsec_`` prefix stripped and not base64-decoded**
    (its UTF-8 bytes); the maximum age is 300 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

__all__ = [
    "sign_path",
    "verify_path",
    "webhook_headers",
    "verify_webhook",
    "new_webhook_secret",
    "webhook_key",
]

WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SIGNATURE_VERSION = "v3"
_DIGITS = re.compile(r"[0-9]{1,15}")  # ASCII digits only; no sign, no spaces, no unicode digits


def _path_mac(secret: bytes, path: str, expires: int) -> str:
    msg = f"{path}\n{expires}".encode("utf-8", "surrogatepass")
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_path(secret: bytes, path: str, expires_at: int) -> str:
    """Query string ``expires=<int>&sig=<b64url HMAC-SHA256 of f"{path}\\n{expires}">`` (no ``?``)."""
    expires = int(expires_at)
    if expires < 0:
        raise ValueError("expires_at must be a non-negative unix time")
    return f"expires={expires}&sig={_path_mac(secret, path, expires)}"


def verify_path(secret: bytes, path: str, expires: str | None, sig: str | None, now: int | None = None) -> bool:
    """True only for an unexpired, untampered signature. Constant-time; never raises."""
    try:
        if not isinstance(expires, str) or not isinstance(sig, str):
            return False
        if not _DIGITS.fullmatch(expires):
            return False
        exp = int(expires)
        if str(exp) != expires:  # only the canonical spelling we produced (no leading zeros)
            return False
        expected = _path_mac(secret, path, exp)
        ok = hmac.compare_digest(expected.encode("ascii"), sig.encode("utf-8", "surrogatepass"))
        current = int(time.time()) if now is None else int(now)
        return ok and current < exp
    except Exception:  # noqa: BLE001 - a verifier must answer, not crash the request
        return False


def webhook_key(secret: str) -> bytes:
    """The HMAC key for a ``whsec_…`` secret: the prefix stripped, the rest used as UTF-8 bytes."""
    if secret.startswith(WEBHOOK_SECRET_PREFIX):
        secret = secret[len(WEBHOOK_SECRET_PREFIX) :]
    return secret.encode("utf-8")


def _webhook_mac(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    msg = f"{message_id}.{timestamp}.".encode() + bytes(body)
    return hmac.new(webhook_key(secret), msg, hashlib.sha256).hexdigest()


def webhook_headers(secret: str, body: bytes, message_id: str, timestamp: int) -> dict[str, str]:
    """Signing headers for one webhook delivery of ``body`` (the exact bytes that will be sent)."""
    ts = str(int(timestamp))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": ts,
        "webhook-signature": f"{WEBHOOK_SIGNATURE_VERSION},{_webhook_mac(secret, message_id, ts, body)}",
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key, val in headers.items():
            if isinstance(key, str) and key.lower() == name:
                return val
    return value


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: int = 300,
    now: int | None = None,
) -> bool:
    """Check a received webhook: signature over id, timestamp and raw body, and the timestamp within
    ``tolerance_s`` of ``now`` (either side). Header names are matched case-insensitively; the
    signature header may hold several space-separated ``v3,<hex>`` entries (any match passes).
    Never raises."""
    try:
        message_id = _header(headers, "webhook-id")
        ts = _header(headers, "webhook-timestamp")
        sig_header = _header(headers, "webhook-signature")
        if not isinstance(message_id, str) or not isinstance(ts, str) or not isinstance(sig_header, str):
            return False
        if not message_id or not _DIGITS.fullmatch(ts):
            return False
        current = int(time.time()) if now is None else int(now)
        if abs(current - int(ts)) > tolerance_s:
            return False
        expected = f"{WEBHOOK_SIGNATURE_VERSION},{_webhook_mac(secret, message_id, ts, body)}".encode("ascii")
        ok = False
        for candidate in sig_header.split():
            # no early exit: compare every entry so timing does not depend on which one matched
            ok |= hmac.compare_digest(expected, candidate.encode("utf-8", "surrogatepass"))
        return ok
    except Exception:  # noqa: BLE001
        return False


def new_webhook_secret() -> str:
    """A fresh secret: ``"whsec_"`` + 32 random bytes as hex."""
    return WEBHOOK_SECRET_PREFIX + secrets.token_hex(32)
