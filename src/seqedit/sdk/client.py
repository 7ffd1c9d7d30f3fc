"""``seqedit.Client``: the synchronous SDK for a ``seqedit serve`` (or any WaveSpeed-protocol server).

::

    from seqedit import Client

    with Client("http://127.0.0.1:8000", "sk_…") as client:
        result = client.edit(["a.jpg", "b.jpg"], "a series of 4 images of these two", 4, size="1024*1024")
        result.save("out")                      # 1.jpg … 4.jpg and set.json
        print(result.seed, result.warnings)

Local paths, bytes and PIL images upload themselves; URLs are sent as they are. ``edit`` asks the
plan endpoint first and raises ``Refused`` before any task exists when the engine cannot do the edit.
Which requests are retried and which never are: ``seqedit.sdk.wire``; what is raised:
``seqedit.sdk.errors``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from seqedit.sdk.core import (
    MAX_OUTPUT_BYTES,
    POLL_INTERVAL,
    SYNC_READ_TIMEOUT,
    WAIT_TIMEOUT,
    ClientCore,
    PlanCallback,
    ProgressCallback,
)
from seqedit.sdk.errors import ApiError, TaskFailed
from seqedit.sdk.types import History, ImageSet, PlanPreview, Prediction
from seqedit.sdk.wire import (
    MODEL,
    RETRY_ERRORS,
    Reference,
    Retries,
    data_of,
    edit_input,
    plan_missing,
    retryable,
    submit_lost,
    transient_task,
    transport_error,
)

__all__ = ["Client"]


class Client(ClientCore):
    """A synchronous client. ``timeout``: seconds per request; ``retries``: how many times a request that
    creates nothing is re-sent (an int, or a ``Retries``). Use as a context manager, or ``close()``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int | Retries = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, retries=retries)
        self._http = httpx.Client(timeout=self.http_timeout(), transport=transport, follow_redirects=False)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ sending

    def _send(self, method: str, url: str, *, auth: bool = True, **kw: Any) -> httpx.Response:
        """One request that creates nothing, retried per ``self.retries``."""
        headers = self.headers() if auth else {}
        for attempt in range(self.retries.attempts):
            last = attempt + 1 == self.retries.attempts
            try:
                response = self._http.request(method, url, headers=headers, **kw)
            except RETRY_ERRORS as exc:
                if last:
                    raise transport_error(method, url, exc, attempt + 1) from exc
                time.sleep(self.retries.delay(attempt))
                continue
            if not retryable(response) or last:
                return response
            time.sleep(self.retries.delay(attempt, response))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ media

    def upload(self, file: Reference) -> str:
        """Upload a local path, bytes or a PIL image; returns its URL on the server."""
        item = self.uploads([file])[0][1]
        if item is None:
            return str(file)  # already a URL
        return self._upload(*item)

    def _upload(self, name: str, data: bytes) -> str:
        files = {"file": (name, data, "application/octet-stream")}
        return self.upload_url(self._send("POST", self.url("/api/v3/media/upload/binary"), files=files))

    def references(self, images: Sequence[Reference]) -> list[str]:
        """Every reference as a URL the server reads: local ones uploaded, URLs as they are."""
        plan = self.uploads(images)
        return [str(images[i]) if item is None else self._upload(*item) for i, item in plan]

    def _with_urls(self, input: Mapping[str, Any] | None) -> dict[str, Any]:
        body, images = self.input_images(input)
        if images:
            body["images"] = self.references(images)
        return body

    # ------------------------------------------------------------------ predictions

    def plan(self, input: Mapping[str, Any], *, model: str = MODEL) -> PlanPreview:
        """What submitting ``input`` would do — panels, verdicts, count, size, seed, price — with no task
        created. Bad input is the same ``ApiError`` as submit's."""
        url = self.url(self.model_path(model) + "/plan")
        return self.preview(self._send("POST", url, json=self._with_urls(input)))

    def submit(
        self,
        input: Mapping[str, Any],
        *,
        model: str = MODEL,
        idempotency_key: str | None = None,
        enable_sync_mode: bool = False,
        timeout: float | None = None,
    ) -> Prediction:
        """Create a task (sent once, never re-sent: see ``TransportError``). ``idempotency_key`` makes a
        deliberate resend return the first task instead of creating another."""
        body = self._with_urls(input)
        if enable_sync_mode:
            body["enable_sync_mode"] = True
        url = self.url(self.model_path(model))
        read = timeout or (max(SYNC_READ_TIMEOUT, self.timeout) if enable_sync_mode else None)
        try:
            response = self._http.post(
                url, json=body, headers=self.headers(idempotency_key), timeout=self.http_timeout(read)
            )
        except RETRY_ERRORS as exc:
            raise submit_lost(url, exc, idempotency_key) from exc
        return self.prediction(response)

    def result(self, prediction_id: str) -> Prediction:
        """The task's current state (one poll)."""
        return self.prediction(self._send("GET", self.url(self.prediction_path(prediction_id, "/result"))))

    def wait(
        self,
        prediction_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = WAIT_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
    ) -> Prediction:
        """Poll until the task ends: the completed ``Prediction``, or ``TaskFailed``/``Refused``/
        ``TaskCancelled``; ``Timeout`` after ``timeout`` s (the task keeps running). ``on_progress`` gets
        the prediction whenever its status, progress or warnings changed."""
        deadline = self.deadline(timeout)
        mark = None
        while True:
            p = self.result(prediction_id)
            if on_progress is not None and self.progress_mark(p) != mark:
                mark = self.progress_mark(p)
                on_progress(p)
            if p.done:
                return self.finished(p)
            self.check_deadline(deadline, timeout, prediction_id)
            time.sleep(poll_interval)

    def cancel(self, prediction_id: str) -> Prediction:
        """Cancel a queued task at once, a running one between panels (poll to see it end)."""
        return self.prediction(self._send("POST", self.url(self.prediction_path(prediction_id, "/cancel"))))

    def history(
        self,
        page: int = 1,
        page_size: int = 20,
        *,
        model: str | None = None,
        status: str | None = None,
        created_after: str | float | None = None,
        created_before: str | float | None = None,
    ) -> History:
        """One page of this key's predictions, newest first."""
        body = self.history_body(page, page_size, model, status, created_after, created_before)
        return self.history_page(self._send("POST", self.url("/api/v3/predictions"), json=body))

    def price(self, max_images: int = 1, *, model: str = MODEL) -> dict[str, Any]:
        """``{model, unit_price, max_images, base_price, discounted_price, currency}``."""
        response = self._send("POST", self.url("/api/v3/model/price"), json={"model": model, "max_images": max_images})
        result: dict[str, Any] = data_of(response)
        return result

    # ------------------------------------------------------------------ outputs

    def download(self, url: str) -> bytes:
        """An output file's bytes (signed URL: no key is sent with it), at most ``MAX_OUTPUT_BYTES``."""
        response = self._send("GET", url, auth=False)
        if response.status_code != 200:
            raise ApiError(response.status_code, f"GET {url.split('?')[0]}: {response.text[:200]}")
        if len(response.content) > MAX_OUTPUT_BYTES:
            raise ApiError(response.status_code, f"output larger than {MAX_OUTPUT_BYTES} bytes")
        return response.content

    def image_set_of(self, p: Prediction, preview: PlanPreview | None = None) -> ImageSet:
        """A completed prediction's set, with each output's bytes (downloaded, or decoded from base64)."""
        data = [self.download(v) if v.startswith(("http://", "https://")) else None for v in p.outputs]
        return self.image_set(p, data, preview, self.base_url)

    # ------------------------------------------------------------------ the whole job

    def edit(
        self,
        refs: Reference | Sequence[Reference],
        prompt: str,
        n: int | None = None,
        *,
        size: str | None = None,
        seed: int | None = None,
        output_format: str | None = None,
        model: str = MODEL,
        check: bool = True,
        idempotency_key: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_plan: PlanCallback | None = None,
        timeout: float | None = WAIT_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
    ) -> ImageSet:
        """Edit ``refs`` into a set of ``n`` images (None: the server's default, 1): upload the local
        references, plan (``check``: raise ``Refused`` before any task when the engine cannot do it),
        submit once (with an ``Idempotency-Key``, generated when not given), wait, download."""
        images = self.references(refs if isinstance(refs, Sequence) and not isinstance(refs, (str, bytes)) else [refs])
        body = edit_input(images, prompt, n, size=size, seed=seed, output_format=output_format)
        preview = None
        if check:
            try:
                preview = self.plan(body, model=model)
            except ApiError as exc:
                if not plan_missing(exc):
                    raise
            if preview is not None:
                if on_plan is not None:
                    on_plan(preview)
                refused = self.refusal(preview)
                if refused is not None:
                    raise refused
        key = idempotency_key or self.new_idempotency_key()
        p = self.submit(body, model=model, idempotency_key=key)
        p = self.wait(p.id, on_progress=on_progress, timeout=timeout, poll_interval=poll_interval)
        return self.image_set_of(p, preview)

    def run(
        self,
        model: str,
        input: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        enable_sync_mode: bool = False,
        max_retries: int | None = None,
    ) -> dict[str, Any]:
        """The ``wavespeed`` SDK's ``Client.run``: submit, wait, ``{"outputs": [...]}`` (plus ``id``,
        ``seed``, ``warnings``, ``plan``). ``timeout`` None waits without limit, as there.
        ``max_retries`` re-runs a task only on the wavespeed SDK's rule (``transient_task``)."""
        for attempt in range((max_retries or 0) + 1):
            try:
                p = self.submit(input or {}, model=model, enable_sync_mode=enable_sync_mode, timeout=timeout)
                if enable_sync_mode:
                    return self.run_result(self.sync_outcome(p))
                return self.run_result(self.wait(p.id, timeout=timeout, poll_interval=poll_interval))
            except TaskFailed as exc:
                if attempt >= (max_retries or 0) or not transient_task(exc):
                    raise
        raise AssertionError("unreachable")
