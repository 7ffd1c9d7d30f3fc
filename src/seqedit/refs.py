"""Image references: what a request's ``images[i]`` may be, how to tell which, and the bytes behind it.

A reference is one of:

* ``object``  — one of our own files: ``seqedit-object:<key>`` (stored inside a request) or a signed
  ``/files/<key>?expires=…&sig=…`` URL of ours on any host; read from storage, no HTTP;
* ``url``     — any other http(s) URL, fetched through the SSRF guard (``seqedit.fetch``);
* ``inline``  — a ``data:<mime>;base64,…`` URI or naked base64.

``inline_bytes`` decodes an inline reference; ``RefLoader.load`` returns the bytes of any kind. Every
failure is a ``RefError`` naming ``images[i]``: 1401 for a reference that is no URL, data: URI or
base64, 1402 for one that cannot be fetched or no longer exists. Nothing here decodes pixels
(``imaging`` does) or knows about HTTP servers.
"""

from __future__ import annotations

import base64
import binascii

from seqedit.errors import BAD_MEDIA, FETCH_FAILED, SeqeditError
from seqedit.fetch import FetchError, fetch_bytes
from seqedit.storage import OBJECT_REF, Storage, own_key

__all__ = ["RefError", "RefLoader", "inline_bytes", "parse_data_uri", "decode_base64"]

FORMS = "http(s) URL | data: URI | base64"


class RefError(SeqeditError):
    """A reference that cannot be read; ``field`` is ``images[i]``."""

    def __init__(self, field: str, message: str, *, code: int) -> None:
        super().__init__(f"{field}: {message}", code=code)
        self.field = field


def parse_data_uri(ref: str) -> bytes:
    """``data:[<mime>][;base64],<payload>`` → bytes (base64 payloads only)."""
    head, sep, payload = ref.partition(",")
    if not sep or not head.lower().endswith(";base64"):
        raise ValueError("only base64 data: URIs are supported")
    return base64.b64decode(payload, validate=False)


def decode_base64(ref: str) -> bytes:
    try:
        return base64.b64decode("".join(ref.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None


def inline_bytes(ref: str, field: str) -> bytes:
    """The bytes of a ``data:`` URI or naked base64; ``RefError`` 1401 for anything else."""
    try:
        return parse_data_uri(ref) if ref.startswith("data:") else decode_base64(ref)
    except ValueError as exc:
        raise RefError(field, f"must be an http(s) URL, a data: URI or base64 ({exc})", code=BAD_MEDIA) from None


class RefLoader:
    """Reads references for a run: own objects from ``storage``, URLs through the SSRF-guarded fetcher
    (at most ``max_bytes``; ``allow_hosts`` pass the guard), inline data decoded."""

    def __init__(
        self, storage: Storage, secret: bytes, *, max_bytes: int, allow_hosts: frozenset[str] = frozenset()
    ) -> None:
        self.storage = storage
        self.secret = secret
        self.max_bytes = max_bytes
        self.allow_hosts = allow_hosts

    def load(self, ref: str, index: int) -> bytes:
        field = f"images[{index}]"
        if ref.startswith(OBJECT_REF) or ref.startswith(("http://", "https://")):
            key = own_key(ref, self.secret)
            if key is not None:
                try:
                    return self.storage.get(key)
                except FileNotFoundError:
                    raise RefError(
                        field, "the uploaded file no longer exists (expired or deleted)", code=FETCH_FAILED
                    ) from None
            if ref.startswith(OBJECT_REF):
                raise RefError(field, "invalid internal reference", code=FETCH_FAILED)
            try:
                data, _ctype = fetch_bytes(ref, max_bytes=self.max_bytes, allow_hosts=self.allow_hosts)
            except FetchError as exc:
                raise RefError(field, f"failed to download the image: {exc.message}", code=FETCH_FAILED) from None
            return data
        return inline_bytes(ref, field)
