"""The object store port: what every backend implements, the key rule, our own signed file URLs.

Keys are relative paths checked by one rule (``valid_key``): ``uploads/<id>/<name>`` or
``outputs/<prediction>/<attempt>/<i>.<ext>``, never ``..`` or ``//``.

The port (``Storage``)::

    put(key, data)            get(key) -> bytes         exists(key) -> bool
    put_stream(key, chunks) -> int     write from an iterable of byte chunks (never whole in memory)
    delete(key)               delete_prefix(prefix) -> int
    open(key, byte_range) -> Body      a (part of a) file to stream, with its size, ETag and mtime
    url(key, expires_at) -> str        where a client can GET the file until ``expires_at``
    key_for_url(url) -> str | None     the key behind a URL this store hands out itself (S3 presigned)

``own_key(url, secret, storage=…)`` is how a reference handed back to us is recognised as one of our
own objects: ``seqedit-object:<key>``, one of our HMAC-signed ``/files/<key>`` URLs on any host
(``FileSigner``), or a URL the store itself recognises (``Storage.key_for_url``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from seqedit.errors import SeqeditError
from seqedit.signing import sign_path, verify_path

__all__ = [
    "Storage",
    "ObjectInfo",
    "Body",
    "ByteRange",
    "FileSigner",
    "RangeNotSatisfiable",
    "StorageConfigError",
    "FILES_PREFIX",
    "OBJECT_REF",
    "CHUNK",
    "own_key",
    "safe_name",
    "valid_key",
]

FILES_PREFIX = "/files/"
OBJECT_REF = "seqedit-object:"  # internal reference to a stored object (inline base64 refs are stored so)
CHUNK = 1024 * 1024  # streaming granularity of ``Body.chunks``
_KEY_RE = re.compile(r"^(?:uploads|outputs)/[A-Za-z0-9._/-]{1,300}$")

ByteRange = tuple[int | None, int | None]
"""An HTTP-style byte range: ``(first, last)`` inclusive; ``(first, None)`` to the end; ``(None, n)`` the
last ``n`` bytes."""


class StorageConfigError(SeqeditError, ValueError):
    """The storage settings cannot work (a bad ``SEQEDIT_STORAGE_URL``, a missing ``AWS_*`` variable):
    raised when the storage is built, at start, with a message naming the variable to fix."""


class RangeNotSatisfiable(ValueError):
    """The byte range lies outside the object (HTTP 416); ``size`` is the object's size."""

    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable for an object of {size} bytes")
        self.size = size


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # quoted, as in an HTTP ETag header
    modified: datetime


@dataclass
class Body:
    """Bytes ``start``..``stop`` (exclusive) of an object, to be streamed once."""

    info: ObjectInfo
    start: int
    stop: int
    chunks: Iterator[bytes]

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def partial(self) -> bool:
        return (self.start, self.stop) != (0, self.info.size)

    def close(self) -> None:
        """Release what the stream holds (an open file, a response) when it will not be read."""
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write ``key`` from ``chunks`` (an upload of up to its cap, never held whole in memory) and
        return its size. All or nothing: when ``chunks`` or the write raises (``OSError(ENOSPC)``),
        the error propagates and no partial object is left at ``key``."""
        ...

    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def open(self, key: str, byte_range: ByteRange | None = None) -> Body: ...
    def url(self, key: str, expires_at: int) -> str: ...
    def key_for_url(self, url: str) -> str | None:
        """The key of one of this store's objects that ``url`` points at directly (an S3 presigned
        URL of our bucket and prefix), or None. Our signed ``/files`` URLs are ``own_key``'s business."""
        ...


class FileSigner:
    """Signs and verifies our own file URLs, ``/files/<key>?expires=…&sig=…`` (see ``seqedit.signing``)."""

    def __init__(self, secret: bytes, base_url: str = "") -> None:
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    def url(self, key: str, expires_at: int) -> str:
        path = FILES_PREFIX + checked(key)
        return f"{self.base_url}{path}?{sign_path(self.secret, path, expires_at)}"

    def verify(self, key: str, expires: str | None, sig: str | None, now: int | None = None) -> bool:
        return valid_key(key) and verify_path(self.secret, FILES_PREFIX + key, expires, sig, now=now)


def own_key(url: str, secret: bytes, now: int | None = None, *, storage: Storage | None = None) -> str | None:
    """The object key behind one of our own references, or None: ``seqedit-object:<key>``, one of our
    signed ``/files`` URLs (any host, signature and expiry checked), or — given ``storage`` — a URL
    that store recognises as pointing into it (``Storage.key_for_url``: an S3 presigned URL). That last
    form is recognised by where it points, not by a signature we could check, so a caller that takes
    references from clients must check the key is theirs (``jobs.submit`` does)."""
    if url.startswith(OBJECT_REF):
        key = url[len(OBJECT_REF) :]
        return key if valid_key(key) else None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = unquote(parts.path)
    if path.startswith(FILES_PREFIX):
        q = parse_qs(parts.query)
        expires = q["expires"][0] if q.get("expires") else None
        sig = q["sig"][0] if q.get("sig") else None
        key = path[len(FILES_PREFIX) :]
        if FileSigner(secret).verify(key, expires, sig, now=now):
            return key
    if storage is not None:
        return storage.key_for_url(url)
    return None


def valid_key(key: str) -> bool:
    return bool(_KEY_RE.match(key)) and ".." not in key.split("/") and "//" not in key


def safe_name(filename: str, default: str = "upload") -> str:
    """A file name that is safe inside a key and a URL (letters, digits, ``._-``)."""
    name = Path(filename or "").name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:80]
    return name or default


def resolve_range(byte_range: ByteRange | None, size: int) -> tuple[int, int]:
    """``byte_range`` → ``(start, stop)`` with ``stop`` exclusive, or ``RangeNotSatisfiable``."""
    if byte_range is None:
        return 0, size
    first, last = byte_range
    if first is None:  # the last ``last`` bytes
        if last is None or last <= 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - last), size
    if first < 0 or first >= size or (last is not None and last < first):
        raise RangeNotSatisfiable(size)
    stop = size if last is None else min(last + 1, size)
    return first, stop


def quoted(etag: str | None) -> str:
    """An ETag as an HTTP header carries it (quoted; ``"0"`` when the store has none)."""
    if not etag:
        return '"0"'
    return etag if etag.startswith(('"', 'W/"')) else f'"{etag}"'


def checked(key: str) -> str:
    """``key`` if it passes ``valid_key``, else ``ValueError``."""
    if not valid_key(key):
        raise ValueError(f"invalid object key {key!r}")
    return key
