"""The SDK without I/O: request bodies, reference handling, the retry policy, and reading answers.

The sync ``Client`` and the ``AsyncClient`` differ only in how they send; everything they decide —
what a body is, which answers are retried and how long to wait, what an answer means — is here, once.

Retries (``Retries``): a request that cannot create anything (poll, cancel, history, plan, price,
upload, file download) is re-sent on a connection error, a read timeout, 429 or 500/502/503/504, at most
``attempts`` times in all, waiting ``backoff × 2^k`` s (capped at ``max_backoff``) or the server's
``Retry-After`` (capped at ``max_retry_after``). A submit is sent exactly once, whatever happens: a
lost answer raises ``TransportError`` carrying the ``Idempotency-Key`` that makes a deliberate resend
safe.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from seqedit.errors import RequestError
from seqedit.sdk.errors import ApiError, Refused, TaskCancelled, TaskFailed, TransportError
from seqedit.sdk.types import Prediction

__all__ = [
    "MODEL",
    "Retries",
    "Reference",
    "MAX_UPLOAD_BYTES",
    "API_KEY_ENV",
    "edit_input",
    "local_reference",
    "data_of",
    "failure",
    "retry_after",
]

MODEL = "bytedance/seedream-v4/edit-sequential"
API_KEY_ENV = "SEQEDIT_API_KEY"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
"""The largest local file the SDK reads to upload (the server's own cap, ``SEQEDIT_MAX_UPLOAD_BYTES``,
is usually lower and answers 413)."""
MAX_INLINE_PATH = 1024
"""A string reference shorter than this that is not an http(s) or data: URL is a local path; a longer
one is sent as naked base64 (a seqedit extension)."""
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

Reference = str | os.PathLike[str] | bytes | Image.Image
"""A reference image: an http(s) or ``data:`` URL (sent as is), a local path, encoded bytes, or a PIL
image (uploaded as PNG)."""


@dataclass(frozen=True)
class Retries:
    """How idempotent requests are retried. ``attempts`` counts the first try (1 = never retry)."""

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError(f"Retries needs attempts >= 1 and non-negative waits, got {self}")

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds before retry number ``retry`` (0-based): the server's ``Retry-After`` if it sent one
        (capped), else the capped exponential backoff."""
        if response is not None:
            after = retry_after(response)
            if after is not None:
                return min(after, self.max_retry_after)
        return min(self.backoff * 2.0**retry, self.max_backoff)

    @staticmethod
    def of(value: int | Retries) -> Retries:
        """``retries=3`` means three retries after the first try."""
        if isinstance(value, Retries):
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"retries must be a non-negative integer or a Retries, got {value!r}")
        return Retries(attempts=value + 1)


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (only the delta-seconds form; an HTTP date is ignored)."""
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def retryable(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES


RETRY_ERRORS = (httpx.TransportError,)  # connect errors, read/write/pool timeouts, dropped connections


def transport_error(method: str, url: str, exc: Exception, tries: int) -> TransportError:
    return TransportError(f"{method} {url}: no answer after {tries} tr{'y' if tries == 1 else 'ies'} ({_short(exc)})")


def submit_lost(url: str, exc: Exception, key: str | None) -> TransportError:
    how = (
        f"submit again with idempotency_key={key!r} to get it (or create it) exactly once"
        if key
        else "look in history() before submitting again, or pass an idempotency_key next time"
    )
    return TransportError(
        f"POST {url}: the submit got no answer ({_short(exc)}); the task may have been created, so it was not "
        f"re-sent: {how}",
        idempotency_key=key,
    )


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def data_of(response: httpx.Response) -> Any:
    """The ``data`` of a 200 envelope, or the ``ApiError`` the answer is."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("error") or response.reason_phrase)
            code = body.get("code") if isinstance(body.get("code"), int) else None
            if refused_at_submit(response.status_code, body):
                raise Refused(message.removeprefix("prompt: "))
            raise ApiError(
                response.status_code,
                message,
                code=code,
                field=body.get("field"),
                limit=body.get("limit"),
                body=body,
            )
        text = response.text[:300].strip() or response.reason_phrase
        raise ApiError(response.status_code, text)
    if not isinstance(body, dict) or "data" not in body:
        raise ApiError(response.status_code, f"not a seqedit/WaveSpeed answer: {response.text[:200]!r}")
    return body["data"]


def refused_at_submit(status: int, body: dict[str, Any]) -> bool:
    """A submit refused because the engine cannot do the edit (``refuse_unsupported`` or the server's
    ``SEQEDIT_REFUSE_AT_SUBMIT``): a 400 on ``prompt`` whose limit is "an edit the … engine can make"."""
    limit = body.get("limit")
    return (
        status == 400 and body.get("field") == "prompt" and isinstance(limit, str) and limit.startswith("an edit the ")
    )


def failure(p: Prediction) -> TaskFailed | TaskCancelled | None:
    """The exception a terminal, unsuccessful prediction is; None when it completed or is not done."""
    if p.status == "cancelled":
        return TaskCancelled(f"prediction {p.id} was cancelled", prediction=p)
    if p.status != "failed":
        return None
    code = p.code if isinstance(p.code, int) else 5000
    message = p.error or "the task failed"
    if code == 1403:
        clause = next((v.clause for v in p.verdicts if v.verdict == "unsupported"), None)
        return Refused(message, clause=clause, prediction=p)
    return TaskFailed(message, code=code, prediction=p)


def local_reference(index: int, ref: Reference) -> tuple[str, bytes] | None:
    """``(filename, bytes)`` for a reference to upload, or None for one sent as is (a URL)."""
    field = f"images[{index}]"
    if isinstance(ref, Image.Image):
        buf = io.BytesIO()
        ref.save(buf, "PNG")
        return f"image{index + 1}.png", buf.getvalue()
    if isinstance(ref, (bytes, bytearray, memoryview)):
        data = bytes(ref)
        if len(data) > MAX_UPLOAD_BYTES:
            raise RequestError(field, f"at most {MAX_UPLOAD_BYTES} bytes", f"has {len(data)} bytes", code=1401)
        return f"image{index + 1}{_suffix(data)}", data
    if isinstance(ref, str) and (ref.startswith(("http://", "https://", "data:")) or len(ref) >= MAX_INLINE_PATH):
        return None
    if not isinstance(ref, (str, os.PathLike)):
        raise RequestError(field, "a URL, a path, bytes or a PIL image", f"got {type(ref).__name__}", code=1401)
    path = Path(ref)
    try:
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise RequestError(field, f"at most {MAX_UPLOAD_BYTES} bytes", f"{path} has {size} bytes", code=1401)
        return path.name or f"image{index + 1}", path.read_bytes()
    except OSError as exc:
        raise RequestError(field, "a readable file", f"{path}: {exc.strerror or exc}", code=1401) from None


def _suffix(data: bytes) -> str:
    for magic, ext in ((b"\xff\xd8", ".jpg"), (b"\x89PNG", ".png"), (b"RIFF", ".webp"), (b"GIF8", ".gif")):
        if data.startswith(magic):
            return ext
    return ""


def edit_input(
    images: Sequence[str],
    prompt: str,
    n: int | None = None,
    *,
    size: str | None = None,
    seed: int | None = None,
    output_format: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The submit body for an edit (None means "the server's default" and is left out)."""
    body: dict[str, Any] = {"prompt": prompt, "images": list(images)}
    for name, value in (("max_images", n), ("size", size), ("seed", seed), ("output_format", output_format)):
        if value is not None:
            body[name] = value
    body.update(extra or {})
    return body


def plan_missing(exc: ApiError) -> bool:
    """The server has no plan route (a seqedit before the plan endpoint: its catch-all answers 404
    "model not found" for ``…/plan``)."""
    return exc.status == 404 and "model not found" in exc.message


def transient_task(exc: Exception) -> bool:
    """The ``wavespeed`` SDK's rule for re-running a task (``run(max_retries=…)``): it failed and its
    error names an upstream HTTP 5xx or 429. A seqedit task never fails that way (its messages avoid
    those words on purpose), so ``max_retries`` is accepted for compatibility and re-runs nothing here."""
    return (
        isinstance(exc, TaskFailed)
        and not isinstance(exc, Refused)
        and ("HTTP 5" in str(exc) or "HTTP 429" in str(exc))
    )
