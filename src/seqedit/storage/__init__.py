"""Where uploads and outputs live: the ``Storage`` port and its backends, chosen by one URL.

The port (``Storage``), the key rule and our own signed file URLs are in ``port``; this module is the
factory and the public names.

``url`` is the store's own business: ``ObjectStorage`` (``local``: a directory or memory) serves its
files itself, so it hands out HMAC-signed ``/files/<key>?expires=…&sig=…`` URLs from its ``FileSigner``;
``S3Storage`` (``s3``) presigns, or proxies through ``/files`` like the local one when asked to.
``open_storage(url, …)`` is the one factory: ``""`` → ``<data_dir>/objects``, ``file:///path``,
``memory://`` (tests), ``s3://bucket/prefix``.

Every implementation runs the same contract tests (``tests/test_storage.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from seqedit.storage.local import ObjectStorage
from seqedit.storage.port import (
    CHUNK,
    FILES_PREFIX,
    OBJECT_REF,
    Body,
    ByteRange,
    FileSigner,
    ObjectInfo,
    RangeNotSatisfiable,
    Storage,
    StorageConfigError,
    own_key,
    safe_name,
    valid_key,
)
from seqedit.storage.s3 import S3Storage

__all__ = [
    "Storage",
    "ObjectStorage",
    "S3Storage",
    "ObjectInfo",
    "Body",
    "ByteRange",
    "FileSigner",
    "RangeNotSatisfiable",
    "StorageConfigError",
    "open_storage",
    "CHUNK",
    "FILES_PREFIX",
    "OBJECT_REF",
    "own_key",
    "safe_name",
    "valid_key",
]


def open_storage(
    url: str,
    data_dir: Path,
    signer: FileSigner,
    *,
    proxy: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Storage:
    """The storage for the ``storage_url`` setting: ``""`` (``<data_dir>/objects``), ``file:///path``,
    ``memory://`` or ``s3://bucket/prefix`` (configured by the ``AWS_*`` variables of ``environ``,
    default the process's; ``proxy``: served through ``/files`` instead of presigned). A bad URL or
    a missing variable is a ``StorageConfigError`` naming it."""
    if not url:
        return ObjectStorage(Path(data_dir) / "objects", signer=signer)
    if url.startswith("file://"):
        return ObjectStorage(Path(unquote(urlsplit(url).path)), signer=signer)
    if url.startswith("memory://"):
        return ObjectStorage(None, signer=signer)
    if url.startswith("s3://"):
        return S3Storage.from_url(url, signer=signer, proxy=proxy, environ=environ)
    raise StorageConfigError(
        f"unsupported storage_url {url!r} (SEQEDIT_STORAGE_URL: empty for <data_dir>/objects, file:///path, "
        "memory://, s3://bucket/prefix)"
    )
