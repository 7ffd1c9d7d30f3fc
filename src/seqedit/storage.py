"""The object store port: ``put``/``get``/``delete``/``url`` over ``obstore``.

Keys are relative paths (``outputs/<prediction>/<attempt>/<i>.jpg``, ``uploads/<id>/<name>``).
Embedded mode stores them under ``<data_dir>/objects`` with ``obstore``'s ``LocalStore`` and serves
them itself behind HMAC-signed, expiring URLs (``/files/<key>?expires=…&sig=…``, see
``seqedit.signing`` and ``seqedit.api.media``). An S3 store would hand out presigned URLs instead;
the port is the same.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import obstore
from obstore.store import LocalStore, MemoryStore

__all__ = ["Storage", "ObjectStorage", "FILES_PREFIX", "OBJECT_REF", "own_key", "safe_name", "valid_key"]

FILES_PREFIX = "/files/"
_KEY_RE = re.compile(r"^(?:uploads|outputs)/[A-Za-z0-9._/-]{1,300}$")


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def local_path(self, key: str) -> Path | None: ...
    def url(self, key: str, *, base: str, secret: bytes, expires_at: int) -> str: ...


class ObjectStorage:
    """``obstore`` behind the port: ``LocalStore`` (a directory) or ``MemoryStore`` (tests)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = None if root is None else Path(root).resolve()
        if self.root is None:
            self._store = MemoryStore()
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            self._store = LocalStore(str(self.root), mkdir=True)

    def put(self, key: str, data: bytes) -> None:
        obstore.put(self._store, _checked(key), data)

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

    def local_path(self, key: str) -> Path | None:
        """The file behind ``key`` when the store is a local directory (for ``FileResponse``)."""
        if self.root is None:
            return None
        path = (self.root / _checked(key)).resolve()
        if self.root not in path.parents:
            return None  # the commonpath guard: never serve outside the store
        return path

    def url(self, key: str, *, base: str, secret: bytes, expires_at: int) -> str:
        from seqedit.signing import sign_path

        path = FILES_PREFIX + _checked(key)
        return f"{base.rstrip('/')}{path}?{sign_path(secret, path, expires_at)}"


OBJECT_REF = "seqedit-object:"  # internal reference to a stored object (inline base64 refs are stored so)


def own_key(url: str, secret: bytes, now: int | None = None) -> str | None:
    """The object key behind one of our own signed file URLs (any host), or None."""
    from urllib.parse import parse_qs, unquote, urlsplit

    from seqedit.signing import verify_path

    if url.startswith(OBJECT_REF):
        key = url[len(OBJECT_REF):]
        return key if valid_key(key) else None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = unquote(parts.path)
    if not path.startswith(FILES_PREFIX):
        return None
    q = parse_qs(parts.query)
    expires, sig = (q.get("expires") or [None])[0], (q.get("sig") or [None])[0]
    key = path[len(FILES_PREFIX):]
    if not valid_key(key) or not verify_path(secret, path, expires, sig, now=now):
        return None
    return key


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # not empty (a concurrent writer) or already gone


def valid_key(key: str) -> bool:
    return bool(_KEY_RE.match(key)) and ".." not in key.split("/") and "//" not in key


def _checked(key: str) -> str:
    if not valid_key(key):
        raise ValueError(f"invalid object key {key!r}")
    return key


def safe_name(filename: str, default: str = "upload") -> str:
    """A file name that is safe inside a key and a URL (letters, digits, ``._-``)."""
    name = Path(filename or "").name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:80]
    return name or default
