"""The local backends: ``obstore``'s ``LocalStore`` (a directory) or ``MemoryStore`` (tests).

seqedit serves these files itself, so ``ObjectStorage.url`` hands out HMAC-signed
``/files/<key>?expires=…&sig=…`` URLs from its ``FileSigner`` (absolute when the signer knows the
public base URL, else root-relative for the protocol layer to resolve against the request's own base).
A local object is streamed straight from its file (``_FileChunks``): obstore's ``LocalStore`` stream
measured ~40× slower than plain reads here, and serving files is the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import obstore
from obstore.store import LocalStore, MemoryStore

from seqedit.storage.obstored import ObstoreObjects
from seqedit.storage.port import CHUNK, Body, ByteRange, FileSigner, ObjectInfo, checked, quoted, resolve_range

__all__ = ["ObjectStorage"]


class ObjectStorage(ObstoreObjects):
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
        obstore.put(self._store, checked(key), data)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """obstore's multipart put: a local store writes a staging file and renames it at the end,
        and aborts (deleting the staging file) when ``chunks`` raises."""
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                size += len(chunk)
                yield chunk

        obstore.put(self._store, checked(key), counted(), chunk_size=CHUNK)
        return size

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
        key = checked(key)
        if self.root is not None:
            return self._open_file(key, byte_range)
        meta = obstore.head(self._store, key)
        info = ObjectInfo(key, int(meta["size"]), quoted(meta.get("e_tag")), meta["last_modified"])
        start, stop = resolve_range(byte_range, info.size)
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
        start, stop = resolve_range(byte_range, info.size)
        return Body(info, start, stop, _FileChunks(path, start, stop))

    def url(self, key: str, expires_at: int) -> str:
        if self.signer is None:
            raise RuntimeError("this storage has no signer: it cannot hand out URLs")
        return self.signer.url(key, expires_at)

    def key_for_url(self, url: str) -> str | None:
        """None: the only URLs this store hands out are our signed ``/files`` ones (``own_key``)."""
        return None


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


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # not empty (a concurrent writer) or already gone
