"""One upstream HTTP call, with bounded backoff and the mapping of upstream failures to seqedit's.

Failure mapping (the messages name the upstream, never its key):

    401 / 403                 ``UpstreamAuth`` (code 1400): the engine is misconfigured; raised by the
                              start-up check, so ``serve`` exits 2 naming ``upstream_key``
    429, 5xx, network         retried ``retries`` times with backoff (``backoff`` × 2^n, capped at 8 s;
                              ``Retry-After`` is honoured up to the cap), then ``EngineError`` (5000)
    other 4xx                 ``EngineError`` (1400 for 400/422: the upstream refused the request) with
                              the upstream's own message

A billed submit is retried only when that cannot pay twice: ``replay_safe=False`` (a POST the upstream
cannot deduplicate) retries only failures that prove the request was not processed (no connection,
429, a 5xx with ``x-should-retry: false`` absent is still *not* retried). WaveSpeed submits carry an
``Idempotency-Key`` and are replay-safe. The exceptions are raised ``from None``: the runner must not
see the socket error and take the upstream's outage for a transient fault of this machine — the job
fails with the reason instead (``jobs.faults``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from seqedit.engines.base import EngineError

MAX_DELAY = 8.0
MAX_ERROR_TEXT = 300


class UpstreamAuth(EngineError):
    code = 1400


class Transport:
    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None] = time.sleep,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(120.0, connect=10.0), headers={"Authorization": f"Bearer {key}"}
        )

    def call(
        self, method: str, path: str, *, replay_safe: bool = True, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """The 2xx response of ``method path`` (``path`` may be a full URL), or an ``EngineError``."""
        url = self._url(path)
        what = f"upstream {method} {url}"
        reason = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.client.request(method, url, headers=headers, **kw)
            except httpx.ConnectError as exc:  # never reached the upstream: always safe to retry
                reason = f"cannot connect ({exc})"
            except httpx.HTTPError as exc:  # sent, maybe processed: a non-idempotent POST stops here
                reason = f"{type(exc).__name__} ({exc})"
                if not replay_safe:
                    raise EngineError(
                        f"{what} failed: {reason}; not retried (the upstream may bill it twice)"
                    ) from None
            else:
                if response.status_code < 400:
                    return response
                reason = _refusal(response, what, replay_safe)
                self._pause(attempt, response)
                continue
            self._pause(attempt)
        raise EngineError(f"{what} failed after {self.retries + 1} tries: {reason}") from None

    @contextmanager
    def stream(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> Iterator[httpx.Response]:
        """A 2xx streaming response of a submit the upstream cannot deduplicate: retried only while it
        could not connect or was refused with 429; an error while reading the body is an ``EngineError``
        and never a second submit."""
        url = self._url(path)
        what = f"upstream {method} {url}"
        reason = ""
        for attempt in range(self.retries + 1):
            try:
                with self.client.stream(method, url, headers=headers, **kw) as response:
                    if response.status_code >= 400:
                        response.read()
                        reason = _refusal(response, what, replay_safe=False)
                    else:
                        try:
                            yield response
                        except httpx.HTTPError as exc:
                            raise EngineError(f"{what}: the stream broke ({type(exc).__name__}: {exc})") from None
                        return
            except httpx.ConnectError as exc:
                reason = f"cannot connect ({exc})"
            except httpx.HTTPError as exc:
                raise EngineError(f"{what} failed: {type(exc).__name__} ({exc}); not retried") from None
            self._pause(attempt)
        raise EngineError(f"{what} failed after {self.retries + 1} tries: {reason}") from None

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def _pause(self, attempt: int, response: httpx.Response | None = None) -> None:
        if attempt < self.retries:
            hinted = _retry_after(response) if response is not None else None
            self.sleep(min(MAX_DELAY, hinted or self.backoff * 2**attempt))

    def close(self) -> None:
        self.client.close()


def _refusal(response: httpx.Response, what: str, replay_safe: bool) -> str:
    """Why a 429/5xx may be retried (the reason, for the final message); raises for everything else."""
    status, url = response.status_code, str(response.request.url)
    text = _error_text(response)
    if status in (401, 403):
        raise UpstreamAuth(f"the upstream refused upstream_key ({status} at {url}): {text}", code=1400) from None
    if status != 429 and status < 500:
        raise EngineError(f"{what} refused the request ({status}): {text}", code=1400) from None
    no_retry = response.headers.get("x-should-retry", "").lower() == "false"
    if no_retry or (status >= 500 and not replay_safe):
        raise EngineError(f"{what} failed with {status}: {text}") from None
    return f"{status}: {text}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    """The upstream's own message: WaveSpeed ``{message}`` / ``{error}``, Ark ``{error{code,message}}``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:MAX_ERROR_TEXT] or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return f"{err.get('code', '')}: {err.get('message', '')}"[:MAX_ERROR_TEXT]
        for name in ("message", "error", "detail"):
            if body.get(name):
                return str(body[name])[:MAX_ERROR_TEXT]
    return str(body)[:MAX_ERROR_TEXT]
