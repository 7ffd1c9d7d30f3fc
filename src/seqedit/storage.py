"""The object store port and its implementation over ``obstore``.

Keys are relative paths checked by one rule (``valid_key``): ``uploads/<id>/<name>`` or
``outputs/<prediction>/<attempt>/<i>.<ext>``, never ``..`` or ``//``.

The port (``Storage``)::

    put(key, data)            get(key) -> bytes         exists(key) -> bool
    put_stream(key, chunks) -> int     write from an iterable of byte chunks (never whole in memory)
    delete(key)               delete_prefix(prefix) -> int
    open(key, byte_range) -> Body      a (part of a) file to stream, with its size, ETag and mtime
    url(key, expires_at) -> str        where a client can GET the file until ``expires_at``

``url`` is the store's own business: ``ObjectStorage`` (a local directory or memory) serves its files
itself, so it hands out HMAC-signed ``/files/<key>?expires=…&sig=…`` URLs from its ``FileSigner``
(absolute when the signer knows the public base URL, else root-relative for the protocol layer to
resolve against the request's own base); an S3 store would presign. ``open_storage(url, …)`` is the
one factory: ``""`` → ``<data_dir>/objects``, ``file:///path``, ``memory://`` (tests).

Every implementation runs the same contract tests (``tests/test_storage.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import obstore
from obstore.store import LocalStore, MemoryStore

from seqedit.signing import sign_path, verify_path

__all__ = [
    "Storage",
    "ObjectStorage",
    "ObjectInfo",
    "Body",
    "ByteRange",
    "FileSigner",
    "RangeNotSatisfiable",
    "open_storage",
    "FILES_PREFIX",
    "OBJECT_REF",
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
        """Release what the stream holds (an open file) when it will not be read."""
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


class FileSigner:
    """Signs and verifies our own file URLs, ``/files/<key>?expires=…&sig=…`` (see ``seqedit.signing``)."""

    def __init__(self, secret: bytes, base_url: str = "") -> None:
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    def url(self, key: str, expires_at: int) -> str:
        path = FILES_PREFIX + _checked(key)
        return f"{self.base_url}{path}?{sign_path(self.secret, path, expires_at)}"

    def verify(self, key: str, expires: str | None, sig: str | None, now: int | None = None) -> bool:
        return valid_key(key) and verify_path(self.secret, FILES_PREFIX + key, expires, sig, now=now)


class ObjectStorage:
    """``obstore`` behind the port: ``LocalStore`` (a directory) or ``MemoryStore`` (``root=None``).
    Files are served by seqedit itself, so ``url`` signs with ``signer``."""

    def __init__(self, root: Path | None = None, *, signer: FileSigner | None = None) -> None:
        self.root = None if root is None else Path(root).resolve()
        self.signer = signer
        self._store: LocalStore | MemoryStore
        if self.root is None:
            self._store = MemoryStore()
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            self._store = LocalStore(str(self.root), mkdir=True)

    def put(self, key: str, data: bytes) -> None:
        obstore.put(self._store, _checked(key), data)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """obstore's multipart put: a local store writes a staging file and renames it at the end,
        and aborts (deleting the staging file) when ``chunks`` raises."""
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                size += len(chunk)
                yield chunk

        obstore.put(self._store, _checked(key), counted(), chunk_size=CHUNK)
        return size

    def get(self, key: str) -> bytes:
        return bytes(obstore.get(self._store, _checked(key)).bytes())

    def exists(self, key: str) -> bool:
        try:
            obstore.head(self._store, _checked(key))
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        try:
            obstore.delete(self._store, _checked(key))
        except FileNotFoundError:
            pass

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder, ending in ``/``); returns how many."""
        if not prefix.endswith("/"):
            prefix += "/"
        keys = [meta["path"] for batch in obstore.list(self._store, prefix) for meta in batch]
        for key in keys:
            self.delete(key)
        if self.root is not None:  # LocalStore leaves empty folders behind
            folder = (self.root / prefix).resolve()
            if self.root in folder.parents and folder.is_dir():
                for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    _rmdir(sub)
                _rmdir(folder)
        return len(keys)

    def open(self, key: str, byte_range: ByteRange | None = None) -> Body:
        """The object (or ``byte_range`` of it) as a stream. ``FileNotFoundError`` when absent,
        ``RangeNotSatisfiable`` when the range lies outside it."""
        key = _checked(key)
        if self.root is not None:
            return self._open_file(key, byte_range)
        meta = obstore.head(self._store, key)
        info = ObjectInfo(key, int(meta["size"]), _quoted(meta.get("e_tag")), meta["last_modified"])
        start, stop = _resolve(byte_range, info.size)
        if start == stop:  # an empty object: nothing to fetch
            return Body(info, 0, 0, iter(()))
        result = obstore.get(self._store, key, options={"range": (start, stop)})
        return Body(info, start, stop, (bytes(c) for c in result.stream(min_chunk_size=CHUNK)))

    def _open_file(self, key: str, byte_range: ByteRange | None) -> Body:
        """A local object straight from its file: obstore's ``LocalStore`` stream measured ~40× slower
        than plain reads here (bench/service.py's /files figure), and serving files is the hot path."""
        root = self.root
        if root is None:
            raise RuntimeError("not a local store")
        path = (root / key).resolve()
        if root not in path.parents or not path.is_file():  # outside the store (a link), absent, a folder
            raise FileNotFoundError(key)
        st = path.stat()
        etag = f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"'
        info = ObjectInfo(key, st.st_size, etag, datetime.fromtimestamp(st.st_mtime, tz=UTC))
        start, stop = _resolve(byte_range, info.size)
        return Body(info, start, stop, _FileChunks(path, start, stop))

    def url(self, key: str, expires_at: int) -> str:
        if self.signer is None:
            raise RuntimeError("this storage has no signer: it cannot hand out URLs")
        return self.signer.url(key, expires_at)


def open_storage(url: str, data_dir: Path, signer: FileSigner) -> Storage:
    """The storage for the ``storage_url`` setting: ``""`` (``<data_dir>/objects``), ``file:///path`` or
    ``memory://``."""
    if not url:
        return ObjectStorage(Path(data_dir) / "objects", signer=signer)
    if url.startswith("file://"):
        return ObjectStorage(Path(unquote(urlsplit(url).path)), signer=signer)
    if url.startswith("memory://"):
        return ObjectStorage(None, signer=signer)
    raise ValueError(f"unsupported storage_url {url!r} (empty for <data_dir>/objects, file:///path, memory://)")


def own_key(url: str, secret: bytes, now: int | None = None) -> str | None:
    """The object key behind one of our own signed file URLs (any host), or None."""
    if url.startswith(OBJECT_REF):
        key = url[len(OBJECT_REF) :]
        return key if valid_key(key) else None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = unquote(parts.path)
    if not path.startswith(FILES_PREFIX):
        return None
    q = parse_qs(parts.query)
    expires = q["expires"][0] if q.get("expires") else None
    sig = q["sig"][0] if q.get("sig") else None
    key = path[len(FILES_PREFIX) :]
    return key if FileSigner(secret).verify(key, expires, sig, now=now) else None


def valid_key(key: str) -> bool:
    return bool(_KEY_RE.match(key)) and ".." not in key.split("/") and "//" not in key


def safe_name(filename: str, default: str = "upload") -> str:
    """A file name that is safe inside a key and a URL (letters, digits, ``._-``)."""
    name = Path(filename or "").name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:80]
    return name or default


def _resolve(byte_range: ByteRange | None, size: int) -> tuple[int, int]:
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


class _FileChunks:
    """Bytes ``start``..``stop`` of a file in ``CHUNK``-sized pieces. The file is opened at the first
    read and closed at the end or by ``close``, so a body that is never read (HEAD, 304) holds nothing."""

    def __init__(self, path: Path, start: int, stop: int) -> None:
        self._path, self._start, self._left = path, start, stop - start
        self._handle: BinaryIO | None = None

    def __iter__(self) -> _FileChunks:
        return self

    def __next__(self) -> bytes:
        if self._left <= 0:
            self.close()
            raise StopIteration
        if self._handle is None:
            self._handle = self._path.open("rb")
            self._handle.seek(self._start)
        chunk = self._handle.read(min(CHUNK, self._left))
        if not chunk:  # truncated under us: end the stream short rather than loop
            self._left = 0
            self.close()
            raise StopIteration
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._left = 0
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _quoted(etag: str | None) -> str:
    if not etag:
        return '"0"'
    return etag if etag.startswith(('"', 'W/"')) else f'"{etag}"'


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # not empty (a concurrent writer) or already gone


def _checked(key: str) -> str:
    if not valid_key(key):
        raise ValueError(f"invalid object key {key!r}")
    return key
