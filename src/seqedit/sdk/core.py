"""What the sync and async clients share: configuration, routes, headers, and each step's decisions.

A client method is a sequence of steps (build the request, send it with or without retries, read the
answer); the steps that are not I/O live here as methods of ``ClientCore``, so ``Client`` and
``AsyncClient`` hold only the sending and the waiting.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from seqedit.sdk.errors import ApiError, ClientError, Refused, Timeout
from seqedit.sdk.types import History, ImageSet, Output, PlanPreview, Prediction, check_id, output_from
from seqedit.sdk.wire import API_KEY_ENV, MODEL, Retries, data_of, failure, local_reference

__all__ = [
    "ClientCore",
    "ProgressCallback",
    "PlanCallback",
    "DEFAULT_TIMEOUT",
    "WAIT_TIMEOUT",
    "POLL_INTERVAL",
    "SYNC_READ_TIMEOUT",
]

DEFAULT_TIMEOUT = 60.0
"""Seconds one request may take (connect capped at 10 s)."""
WAIT_TIMEOUT = 600.0
"""Seconds ``wait``/``edit`` poll before ``Timeout`` (None: no limit)."""
POLL_INTERVAL = 0.5
"""Seconds between polls of ``wait``/``edit``."""
SYNC_READ_TIMEOUT = 150.0
"""Read timeout of a sync-mode submit: above the server's default sync wait (90 s)."""
MAX_OUTPUT_BYTES = 512 * 1024 * 1024
"""The largest output file ``edit`` downloads."""

ProgressCallback = Callable[[Prediction], Any]
PlanCallback = Callable[[PlanPreview], Any]


class ClientCore:
    """Configuration and the non-I/O steps. ``api_key`` falls back to ``$SEQEDIT_API_KEY``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int | Retries = 3,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ClientError(f"base_url must be an http(s) URL such as http://127.0.0.1:8000, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or os.environ.get(API_KEY_ENV) or None
        if not self.api_key:
            raise ClientError(f"no API key: pass api_key= or set {API_KEY_ENV}")
        if timeout <= 0:
            raise ClientError(f"timeout must be positive seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.retries = Retries.of(retries)

    # ------------------------------------------------------------------ requests

    def http_timeout(self, read: float | None = None) -> httpx.Timeout:
        return httpx.Timeout(read or self.timeout, connect=min(10.0, self.timeout))

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        from seqedit import __version__

        h = {"Authorization": f"Bearer {self.api_key}", "User-Agent": f"seqedit-sdk/{__version__}"}
        if idempotency_key:
            h["Idempotency-Key"] = idempotency_key
        return h

    def url(self, path: str) -> str:
        return self.base_url + path

    @staticmethod
    def model_path(model: str) -> str:
        if not isinstance(model, str) or not model or model.startswith("/") or ".." in model.split("/"):
            raise ClientError(f"model must be a model id such as {MODEL!r}, got {model!r}")
        return "/api/v3/" + quote(model, safe="/-_.")

    @staticmethod
    def prediction_path(prediction_id: str, tail: str = "") -> str:
        return f"/api/v3/predictions/{check_id(prediction_id)}{tail}"

    @staticmethod
    def new_idempotency_key() -> str:
        return "seqedit-sdk-" + uuid.uuid4().hex

    # ------------------------------------------------------------------ answers

    @staticmethod
    def upload_url(response: httpx.Response) -> str:
        data = data_of(response)
        url = data.get("download_url") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url:
            raise ApiError(response.status_code, f"upload answer without download_url: {str(data)[:200]}")
        return url

    @staticmethod
    def prediction(response: httpx.Response) -> Prediction:
        data = data_of(response)
        if not isinstance(data, dict) or not data.get("id"):
            raise ApiError(response.status_code, f"answer without a prediction: {str(data)[:200]}")
        return Prediction.from_json(data)

    @staticmethod
    def preview(response: httpx.Response) -> PlanPreview:
        data = data_of(response)
        if not isinstance(data, dict):
            raise ApiError(response.status_code, f"plan answer is not an object: {str(data)[:200]}")
        return PlanPreview.from_json(data)

    @staticmethod
    def history_page(response: httpx.Response) -> History:
        data = data_of(response)
        return History.from_json(data if isinstance(data, dict) else {})

    @staticmethod
    def refusal(preview: PlanPreview) -> Refused | None:
        if preview.supported:
            return None
        clause = preview.refused_clause
        bad = next((v for v in preview.verdicts if v.verdict == "unsupported"), None)
        message = preview.refusal or (
            f"'{bad.clause}' is not something the {bad.engine or preview.engine} engine can do ({bad.note})"
            if bad is not None
            else "the engine cannot do this edit"
        )
        return Refused(message, clause=clause)

    @staticmethod
    def history_body(
        page: int, page_size: int, model: str | None, status: str | None, after: Any, before: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"page": page, "page_size": page_size}
        for name, value in (("model", model), ("status", status), ("created_after", after), ("created_before", before)):
            if value is not None:
                body[name] = value
        return body

    @staticmethod
    def uploads(images: Sequence[Any]) -> list[tuple[int, tuple[str, bytes] | None]]:
        """Each reference with what to upload for it (None: sent as is). Reads every local file before
        any HTTP, so a missing file is one ``RequestError`` naming ``images[i]`` and nothing is sent."""
        if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
            images = [images]
        return [(i, local_reference(i, ref)) for i, ref in enumerate(images)]

    @staticmethod
    def input_images(input: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[Any]]:
        body = dict(input or {})
        images = body.get("images")
        return body, list(images) if isinstance(images, (list, tuple)) else []

    # ------------------------------------------------------------------ waiting

    @staticmethod
    def deadline(timeout: float | None) -> float | None:
        return None if timeout is None else time.monotonic() + timeout

    @staticmethod
    def check_deadline(deadline: float | None, timeout: float | None, prediction_id: str) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            raise Timeout(
                f"prediction {prediction_id} not finished after {timeout:g} s; it keeps running: "
                f"wait() or result() it later",
                id=prediction_id,
            )

    @staticmethod
    def progress_mark(p: Prediction) -> tuple[Any, ...]:
        return (p.status, p.progress.get("done"), p.progress.get("fraction"), len(p.warnings))

    @staticmethod
    def finished(p: Prediction) -> Prediction:
        exc = failure(p)
        if exc is not None:
            raise exc
        return p

    @staticmethod
    def image_set(p: Prediction, data: list[bytes | None], preview: PlanPreview | None, server: str) -> ImageSet:
        outputs: list[Output] = [output_from(i + 1, v, d) for i, (v, d) in enumerate(zip(p.outputs, data, strict=True))]
        return ImageSet(id=p.id, outputs=outputs, prediction=p, preview=preview, server=server)

    @staticmethod
    def run_result(p: Prediction) -> dict[str, Any]:
        """``run``'s answer: the ``wavespeed`` SDK's ``{"outputs": [...]}``, plus seqedit's ``id``,
        ``seed``, ``warnings`` and ``plan`` (extra keys: code reading ``outputs`` is unaffected)."""
        return {"outputs": list(p.outputs), "id": p.id, "seed": p.seed, "warnings": list(p.warnings), "plan": p.plan}

    @staticmethod
    def sync_outcome(p: Prediction) -> Prediction:
        if p.status == "processing" and p.code == 5004:
            raise Timeout(f"sync mode: {p.error or 'the server stopped waiting'} (task_id: {p.id})", id=p.id)
        return ClientCore.finished(p)
