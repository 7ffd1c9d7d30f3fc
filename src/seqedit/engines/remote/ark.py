"""The Ark protocol client (BytePlus ModelArk / Volcengine Ark, api-contract §2): one call, streamed.

``POST {upstream}/api/v3/images/generations`` with ``{model, prompt, image: [data URIs], size: "WxH",
seed, sequential_image_generation: "auto" (or "disabled" for one image),
sequential_image_generation_options.max_images, response_format: "b64_json", watermark: false}``. The
reply's ``data[i]`` is ``{b64_json, size}`` or ``{error{code, message}}`` at a refused image's place
(moderation): that becomes a ``Got`` with the error, and the engine fails the task naming the panel.
With ``upstream_stream`` (default) the call has ``"stream": true`` and the reply is server-sent events
(§2.4): each ``image_generation.partial_succeeded`` is one image, yielded as it arrives (so the engine
commits panel 1 while the upstream still renders panel 2), ``partial_failed`` is a refused image at
its ``image_index``, ``image_generation.completed`` and ``data: [DONE]`` end it.
Ark decides the count under ``auto`` and may return fewer images, or one collage: the engine's count
lock asks again for what is missing.

Ark has no idempotency key and no cancel: the submit is sent once (``replay_safe=False``: after a
timeout or a 5xx it is not repeated, since the upstream may have billed it); a cancel request is
honoured between events (the stream is closed; images already made may be billed) or when the reply
arrives, and the note says the upstream call could not be cancelled. The
header ``Idempotency-Key`` is sent anyway (harmless, and a seqedit upstream may honour it). Start-up
check: a ``POST`` with an empty body — Ark authenticates before it validates, so a good key gets a
400 (nothing generated, nothing billed) and a bad one 401. Cost: Ark reports tokens, not money, so
no cost is recorded for Ark.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

from seqedit.engines.base import EngineError
from seqedit.engines.remote.transport import Transport, UpstreamAuth
from seqedit.engines.remote.upstream import Ask, Got, Outcome

PATH = "/api/v3/images/generations"


class ArkClient:
    protocol = "ark"

    def __init__(self, transport: Transport, model: str, *, timeout: float, stream: bool = True) -> None:
        self.transport, self.model, self.timeout, self.streamed = transport, model, timeout, stream

    def check(self) -> None:
        try:
            self.transport.call("POST", PATH, json={}, replay_safe=False)
        except UpstreamAuth:
            raise
        except EngineError as exc:
            if "refused the request" not in str(exc):
                raise  # an upstream that is not there, or answers 5xx: not a 400 for the empty body

    def run(
        self, ask: Ask, cancelled: Callable[[], bool], outcome: Outcome, report: Callable[[float], None]
    ) -> Iterator[Got]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": ask.prompt,
            "size": f"{ask.width}x{ask.height}",
            "seed": ask.seed,
            "sequential_image_generation": "auto" if ask.count > 1 else "disabled",
            "response_format": "b64_json",
            "watermark": False,
        }
        if ask.images:
            body["image"] = list(ask.images)
        if ask.count > 1:
            body["sequential_image_generation_options"] = {"max_images": ask.count}
        headers = {"Idempotency-Key": ask.idempotency_key}
        if self.streamed:
            yield from self._stream({**body, "stream": True}, headers, cancelled, outcome)
            return
        answer = self.transport.call("POST", PATH, json=body, replay_safe=False, headers=headers, timeout=self.timeout)
        answer = answer.json()
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise EngineError(f"the Ark upstream answered without data: {str(answer)[:200]}")
        outcome.upstream_id = str(answer.get("id") or answer.get("created") or "")
        if cancelled():
            outcome.cancel_note = CANNOT_CANCEL
        for position, item in enumerate(answer["data"]):
            if isinstance(item, dict):
                yield self._image(position, item)

    def _stream(
        self, body: dict[str, Any], headers: dict[str, str], cancelled: Callable[[], bool], outcome: Outcome
    ) -> Iterator[Got]:
        with self.transport.stream("POST", PATH, json=body, headers=headers, timeout=self.timeout) as response:
            for event in _events(response.iter_lines()):
                kind = event.get("type", "")
                if kind.endswith("partial_succeeded") or kind.endswith("partial_failed"):
                    index = event.get("image_index")
                    if isinstance(index, int):
                        yield self._image(index, event)
                elif kind.endswith("completed"):
                    outcome.upstream_id = str(event.get("id") or event.get("created") or "")
                elif isinstance(event.get("error"), dict):
                    err = event["error"]
                    raise EngineError(f"the Ark upstream failed: {err.get('code', '')}: {err.get('message', '')}")
                if cancelled():
                    outcome.cancel_note = CANNOT_CANCEL + "; the stream was closed"
                    return

    def _image(self, position: int, item: dict[str, Any]) -> Got:
        if isinstance(item.get("error"), dict):
            err = item["error"]
            return Got(position, error=f"{err.get('code', '')}: {err.get('message', '')}")
        if isinstance(item.get("b64_json"), str):
            return Got(position, base64.b64decode(item["b64_json"]))
        if isinstance(item.get("url"), str):
            return Got(position, self.transport.call("GET", item["url"]).content)
        return Got(position, error="the upstream sent an image entry with neither b64_json nor url")


CANNOT_CANCEL = "the Ark call had already been sent and cannot be cancelled upstream"


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON ``data:`` payloads of a server-sent event stream, until ``data: [DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # event:, id:, comments, the blank line between events
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except ValueError:
            raise EngineError(f"the Ark upstream sent an unreadable event: {payload[:200]}") from None
        if isinstance(event, dict):
            yield event
