"""Browser sign-in for the playground: one-time sign-in tokens and the signed session they become.

``seqedit serve`` prints a URL ``…/?token=<token>``; the page exchanges the token once for a session
cookie. The API key itself never reaches the browser: both the token and the session name only the
key's id, and the session is checked against the key's row on every request (a revoked key ends its
sessions).

* **Sign-in token** ``<id>.<expires>.<sig>``: ``sig`` is the HMAC-SHA256 of ``signin\\n<id>\\n<expires>``
  under the service's signing secret, so a forged or altered token is refused without a database read.
  Its row (``signin_tokens``) holds the key id, the expiry and ``used_at``; :meth:`SignIns.consume` is
  one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at > now``: of two concurrent exchanges
  of one token exactly one wins. A token works once, for at most ``TOKEN_SECONDS``.
* **Session** ``<key_id>.<expires>.<sig>`` (``session\\n<key_id>\\n<expires>``): stateless and expiring
  (``SESSION_SECONDS``); what makes it safe in a browser (HttpOnly, SameSite=Strict, the CSRF header)
  is the cookie's and ``api.auth``'s business.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["SignIns", "TOKEN_SECONDS", "SESSION_SECONDS", "session_value", "session_key_id"]

TOKEN_SECONDS = 3600  # a printed sign-in link works once, within the hour after `serve` printed it
SESSION_SECONDS = 12 * 3600  # a browser session lasts a working day; then sign in again
_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,15}")

metadata = sa.MetaData()

signin_tokens = sa.Table(
    "signin_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)


def _mac(secret: bytes, kind: str, ident: str, expires: int) -> str:
    digest = hmac.new(secret, f"{kind}\n{ident}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _sign(secret: bytes, kind: str, ident: str, expires: int) -> str:
    return f"{ident}.{expires}.{_mac(secret, kind, ident, expires)}"


def _verify(secret: bytes, kind: str, value: object, now: float) -> tuple[str, int] | None:
    """``(ident, expires)`` of an untampered, unexpired signed value, else None. Never raises."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not _PART.fullmatch(parts[0]) or not _DIGITS.fullmatch(parts[1]):
        return None
    ident, expires = parts[0], int(parts[1])
    if not hmac.compare_digest(_mac(secret, kind, ident, expires).encode(), parts[2].encode("utf-8", "replace")):
        return None
    return (ident, expires) if now < expires else None


def session_value(secret: bytes, key_id: str, *, seconds: int = SESSION_SECONDS, now: float | None = None) -> str:
    """The signed session cookie value for ``key_id``, valid ``seconds`` from ``now``."""
    return _sign(secret, "session", key_id, int((time.time() if now is None else now) + seconds))


def session_key_id(secret: bytes, value: object, now: float | None = None) -> str | None:
    """The key id of a valid session value, or None (forged, altered, expired, malformed)."""
    found = _verify(secret, "session", value, time.time() if now is None else now)
    return None if found is None else found[0]


class SignIns:
    """One-time sign-in tokens in the service's database (their own table, created if missing)."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self.engine = engine
        self.secret = secret
        metadata.create_all(engine)

    def issue(self, key_id: str, *, seconds: int = TOKEN_SECONDS, now: float | None = None) -> str:
        """A new token for ``key_id``, valid once within ``seconds``."""
        now = time.time() if now is None else now
        token_id = secrets.token_urlsafe(18)
        expires = int(now + seconds)
        with self.engine.begin() as c:
            c.execute(
                signin_tokens.insert().values(
                    id=token_id, key_id=key_id, created_at=now, expires_at=float(expires), used_at=None
                )
            )
            # tokens past their expiry are of no use to anyone: keep the table small
            c.execute(signin_tokens.delete().where(signin_tokens.c.expires_at < now - seconds))
        return _sign(self.secret, "signin", token_id, expires)

    def consume(self, token: object, now: float | None = None) -> str | None:
        """The key id of ``token`` if it is genuine, unexpired and unused — and now used; else None."""
        now = time.time() if now is None else now
        found = _verify(self.secret, "signin", token, now)
        if found is None:
            return None
        t = signin_tokens.c
        with self.engine.begin() as c:
            done = c.execute(
                signin_tokens.update()
                .where(t.id == found[0], t.used_at.is_(None), t.expires_at > now)
                .values(used_at=now)
                .returning(t.key_id)
            ).first()
        return None if done is None else str(done[0])

    def get(self, token_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(signin_tokens).where(signin_tokens.c.id == token_id)).mappings().first()
        return None if row is None else dict(row)
