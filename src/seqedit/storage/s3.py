"""S3 (or any S3-compatible server) behind the ``Storage`` port, over ``obstore``'s ``S3Store``.

``SEQEDIT_STORAGE_URL=s3://<bucket>[/<prefix>]`` selects it; every key lives under ``<prefix>/`` in the
bucket (obstore's ``prefix=``), with the same ``valid_key`` rule as every backend. Where the bucket is
and who we are come from the AWS SDKs' usual variables, read once when the storage is built:

=================================================  =========================================================
``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``  the server (MinIO, SeaweedFS, R2, …); unset: AWS itself
``AWS_REGION``, else ``AWS_DEFAULT_REGION``          the signing region (default ``us-east-1``)
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``     static credentials (both or neither);
``AWS_SESSION_TOKEN``                                with a session token for temporary ones
``AWS_ALLOW_HTTP=true``                              required for a plain ``http://`` endpoint
=================================================  =========================================================

Without static keys, obstore's own providers may supply credentials: a web identity token
(``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``, e.g. EKS) or ECS container credentials
(``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``/``_FULL_URI``); with none of these the storage refuses to
start, so a missing variable is one line at start naming it (``StorageConfigError``), not a failed job
or an instance-metadata timeout later. obstore reads the other ``AWS_*`` variables it knows itself
(``AWS_VIRTUAL_HOSTED_STYLE_REQUEST``, ``AWS_CHECKSUM_ALGORITHM``, server-side encryption, …).

**Handing files out.** ``url(key, expires_at)`` is a presigned GET (SigV4) expiring at ``expires_at``
— capped at S3's longest, seven days (``MAX_PRESIGN_SECONDS``) and at the credentials' own lifetime
for temporary ones — so clients download from the bucket, not through seqedit. With
``SEQEDIT_STORAGE_PROXY=1`` (``proxy=True``) it is our own HMAC-signed ``/files/<key>`` URL instead,
and the API streams the object from the bucket (``open``): for a bucket clients cannot reach. Objects
get a ``Content-Type`` from their extension (images only; anything else ``application/octet-stream``),
which the bucket answers a presigned GET with.

**Recognising our own URLs.** A presigned URL of ours handed back as a reference image is read from
the bucket, not fetched over HTTP: ``key_for_url`` matches the URL's scheme, host and path against
where this store's presigned URLs point (learnt by presigning a probe key once) and returns the key.
This is recognition by location — the signature is not checked — so callers that take references
from clients check the key belongs to the caller (``jobs.submit``).

**Faults.** A failing S3 request is retried by obstore (``DEFAULT_RETRY``: 3 retries within 30 s),
then surfaces as an obstore ``GenericError`` (a network error or a 5xx) that ``jobs.faults`` counts
as transient, so the job is handed back rather than failed; 403 and bad credentials are not
transient. ``put_stream`` is a multipart upload in ``PART_BYTES`` parts, at most ``PART_CONCURRENCY``
in flight (so an upload holds at most ~10 MiB); obstore aborts it when the chunks raise, so no object
appears at the key. ``check`` lists one key with no retries and a short timeout, for ``/readyz``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import obstore
from obstore.store import S3Store

from seqedit.storage.obstored import ObstoreObjects
from seqedit.storage.port import (
    CHUNK,
    Body,
    ByteRange,
    FileSigner,
    ObjectInfo,
    StorageConfigError,
    checked,
    quoted,
    resolve_range,
    valid_key,
)

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

__all__ = ["S3Storage", "S3Settings", "MAX_PRESIGN_SECONDS", "content_type"]

URL_VARIABLE = "SEQEDIT_STORAGE_URL"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit on X-Amz-Expires
PART_BYTES = 5 * 1024 * 1024  # S3's smallest multipart part (but the last)
PART_CONCURRENCY = 2  # parts of one upload in flight (each held in memory)
DELETE_BATCH = 1000  # keys per DeleteObjects request (S3's limit)
DEFAULT_RETRY: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=30)}
CLIENT: ClientConfig = {"connect_timeout": timedelta(seconds=5), "timeout": timedelta(seconds=300)}
"""``timeout`` bounds a whole request, body included: a file streamed through ``/files`` to a slow
client must fit in it."""
CHECK_CLIENT: ClientConfig = {"connect_timeout": timedelta(seconds=2), "timeout": timedelta(seconds=5)}

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
}
_PROBE_KEY = "outputs/probe/0/0.png"


def content_type(key: str) -> str:
    """The ``Content-Type`` an object is stored with: an image type by extension, else octet-stream
    (an upload's name is the client's; a name ending ``.html`` must not make the bucket serve HTML)."""
    ext = key.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    return _TYPES.get(ext, "application/octet-stream")


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is and how to sign, from ``s3://bucket/prefix`` and the ``AWS_*`` variables."""

    bucket: str
    prefix: str = ""
    endpoint: str = ""  # empty: AWS's own endpoint for the region
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
    allow_http: bool = False

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] | None = None) -> S3Settings:
        """Parse and check everything before any request: a ``StorageConfigError`` names what to fix."""
        env = os.environ if environ is None else environ
        bucket, prefix = _parse_url(url)
        endpoint, endpoint_var = "", ""
        for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"):
            if env.get(name, "").strip():
                endpoint, endpoint_var = env[name].strip().rstrip("/"), name
                break
        allow_http = _flag(env, "AWS_ALLOW_HTTP")
        if endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise StorageConfigError(
                    f"{endpoint_var}={endpoint!r} is not an http(s) URL (for example https://s3.example.com:9000)"
                )
            if parts.scheme == "http" and not allow_http:
                raise StorageConfigError(
                    f"{endpoint_var}={endpoint!r} is plain http: set AWS_ALLOW_HTTP=true to use it "
                    "(or give an https:// endpoint)"
                )
        key_id = env.get("AWS_ACCESS_KEY_ID", "").strip()
        secret = env.get("AWS_SECRET_ACCESS_KEY", "").strip()
        if key_id and not secret:
            raise StorageConfigError(f"AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (for {url})")
        if secret and not key_id:
            raise StorageConfigError(f"AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not (for {url})")
        if not key_id:
            if env.get("AWS_WEB_IDENTITY_TOKEN_FILE", "").strip():
                if not env.get("AWS_ROLE_ARN", "").strip():
                    raise StorageConfigError("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
            elif not any(
                env.get(n, "").strip()
                for n in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
            ):
                raise StorageConfigError(
                    f"{URL_VARIABLE}={url} needs S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                    "(or provide a web identity token: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN)"
                )
        region = env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip() or "us-east-1"
        return cls(
            bucket=bucket,
            prefix=prefix,
            endpoint=endpoint,
            region=region,
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=env.get("AWS_SESSION_TOKEN", "").strip() or env.get("AWS_TOKEN", "").strip(),
            allow_http=allow_http,
        )

    @property
    def where(self) -> str:
        """The bucket (and prefix) as an operator wrote it, with its endpoint."""
        path = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{path} at {self.endpoint}" if self.endpoint else path


class S3Storage(ObstoreObjects):
    """An S3 bucket (and prefix) behind the port: presigned URLs, or our own ``/files`` with ``proxy``."""

    root = None  # no local folder for /readyz to look at: ``check`` asks the bucket instead

    def __init__(
        self,
        settings: S3Settings,
        *,
        signer: FileSigner,
        proxy: bool = False,
        retry: RetryConfig | None = None,
    ) -> None:
        self.settings = settings
        self.signer = signer
        self.proxy = proxy
        self._store = self._build(DEFAULT_RETRY if retry is None else retry, CLIENT)
        self._check_store = self._build({"max_retries": 0}, CHECK_CLIENT)
        self._base: tuple[str, str, str] | None = None  # scheme, host, path prefix of our presigned URLs

    @classmethod
    def from_url(
        cls, url: str, *, signer: FileSigner, proxy: bool = False, environ: Mapping[str, str] | None = None
    ) -> S3Storage:
        return cls(S3Settings.from_url(url, environ), signer=signer, proxy=proxy)

    def _build(self, retry: RetryConfig, client: ClientConfig) -> S3Store:
        s = self.settings
        config: S3Config = {"region": s.region}
        if s.endpoint:
            config["endpoint"] = s.endpoint
        if s.access_key_id:
            config["access_key_id"] = s.access_key_id
            config["secret_access_key"] = s.secret_access_key
        if s.session_token:
            config["session_token"] = s.session_token
        options: ClientConfig = {**client, "allow_http": s.allow_http}
        return S3Store(s.bucket, prefix=s.prefix or None, config=config, client_options=options, retry_config=retry)

    # ------------------------------------------------------------------ the port

    def put(self, key: str, data: bytes) -> None:
        key = checked(key)
        obstore.put(self._store, key, data, attributes={"Content-Type": content_type(key)}, use_multipart=False)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """A multipart upload; obstore aborts it when ``chunks`` (or a part's upload) raises, so nothing
        appears at ``key`` unless the whole stream was written."""
        key = checked(key)
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks:
                size += len(chunk)
                yield chunk

        obstore.put(
            self._store,
            key,
            counted(),
            attributes={"Content-Type": content_type(key)},
            chunk_size=PART_BYTES,
            max_concurrency=PART_CONCURRENCY,
        )
        return size

    def delete_prefix(self, prefix: str) -> int:
        """Every object under ``prefix`` (a folder, ending in ``/``), listed, then deleted in batches of
        ``DELETE_BATCH`` (one DeleteObjects request each); returns how many."""
        if not prefix.endswith("/"):
            prefix += "/"
        checked(prefix + "x")  # the folder of a valid key
        keys = [meta["path"] for batch in obstore.list(self._store, prefix, chunk_size=DELETE_BATCH) for meta in batch]
        for i in range(0, len(keys), DELETE_BATCH):
            obstore.delete(self._store, keys[i : i + DELETE_BATCH])
        return len(keys)

    def open(self, key: str, byte_range: ByteRange | None = None) -> Body:
        """The object's size, ETag and mtime (a HEAD), and its bytes as a stream that starts the GET
        only when first read (a HEAD or a 304 never fetches the body)."""
        key = checked(key)
        meta = obstore.head(self._store, key)
        info = ObjectInfo(key, int(meta["size"]), quoted(meta.get("e_tag")), meta["last_modified"])
        start, stop = resolve_range(byte_range, info.size)
        return Body(info, start, stop, self._stream(key, start, stop))

    def _stream(self, key: str, start: int, stop: int) -> Iterator[bytes]:
        if start == stop:  # an empty object: nothing to fetch
            return
        result = obstore.get(self._store, key, options={"range": (start, stop)})
        for chunk in result.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    def url(self, key: str, expires_at: int) -> str:
        """A presigned GET valid until ``expires_at`` (at most ``MAX_PRESIGN_SECONDS`` from now; one
        second when that is already past), or our own signed ``/files`` URL when proxying."""
        key = checked(key)
        if self.proxy:
            return self.signer.url(key, expires_at)
        seconds = min(max(int(expires_at) - int(time.time()), 1), MAX_PRESIGN_SECONDS)
        return obstore.sign(self._store, "GET", key, timedelta(seconds=seconds))

    @property
    def origin(self) -> str | None:
        """``scheme://host`` of the URLs clients fetch files from, when that is the bucket (None when
        proxying): a web page showing outputs must allow it (the playground's CSP)."""
        if self.proxy:
            return None
        scheme, host, _ = self._presigned_base()
        return f"{scheme}://{host}"

    def key_for_url(self, url: str) -> str | None:
        """The key a presigned URL of this bucket and prefix names (any query, any expiry), or None."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        scheme, host, prefix = self._presigned_base()
        if parts.scheme != scheme or parts.netloc.lower() != host:
            return None
        path = unquote(parts.path)
        if not path.startswith(prefix):
            return None
        key = path[len(prefix) :]
        return key if valid_key(key) else None

    def _presigned_base(self) -> tuple[str, str, str]:
        """Scheme, host and the path before the key of this store's presigned URLs (path- or
        virtual-hosted style, with the prefix), learnt once by presigning a probe key."""
        if self._base is None:
            signed = urlsplit(obstore.sign(self._store, "GET", _PROBE_KEY, timedelta(seconds=60)))
            path = unquote(signed.path)
            if not path.endswith(_PROBE_KEY):  # pragma: no cover - obstore changed its URL layout
                raise RuntimeError(f"unexpected presigned URL layout: {signed.path}")
            self._base = (signed.scheme, signed.netloc.lower(), path[: -len(_PROBE_KEY)])
        return self._base

    # ------------------------------------------------------------------ readiness

    def check(self) -> str:
        """``""`` when the bucket answers a one-key list under the prefix (no retries, a 5 s timeout),
        else why not, naming the bucket and endpoint: for ``/readyz``."""
        try:
            next(iter(obstore.list(self._check_store, chunk_size=1)), None)
        except Exception as exc:  # any failure means not ready; the reason is shown
            return f"{self.settings.where} does not answer ({_first_line(exc)})"
        return ""


def _parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` → ``(bucket, prefix)``, or a ``StorageConfigError`` naming the rule."""
    example = "s3://my-bucket/optional/prefix"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise StorageConfigError(f"{URL_VARIABLE}={url!r} is not a URL like {example}") from None
    if parts.scheme != "s3":
        raise StorageConfigError(f"{URL_VARIABLE}={url!r} is not an s3:// URL like {example}")
    if parts.username or parts.password or port is not None or parts.query or parts.fragment:
        raise StorageConfigError(
            f"{URL_VARIABLE}={url!r}: an s3:// URL is only a bucket and a prefix ({example}); "
            "the endpoint and credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    bucket = parts.hostname or ""
    if not bucket:
        raise StorageConfigError(f"{URL_VARIABLE}={url!r} names no bucket (like {example})")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise StorageConfigError(
            f"{URL_VARIABLE}={url!r}: bucket {bucket!r} is not a valid S3 bucket name "
            "(3-63 characters: lowercase letters, digits, '.', '-'; starting and ending with a letter or digit)"
        )
    segments = [s for s in parts.path.split("/") if s]
    for segment in segments:
        if not _SEGMENT.match(segment) or segment in (".", ".."):
            raise StorageConfigError(
                f"{URL_VARIABLE}={url!r}: prefix segment {segment!r} may hold only letters, digits and '._-'"
            )
    return bucket, "/".join(segments)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise StorageConfigError(f"{name}={env[name]!r} is not a boolean (true or false)")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]
