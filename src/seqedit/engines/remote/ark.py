"""The Ark protocol client (BytePlus ModelArk / Volcengine Ark, api-contract §2): one non-stream call.

``POST {upstream}/api/v3/images/generations`` with ``{model, prompt, image: [data URIs], size: "WxH",
seed, sequential_image_generation: "auto" (or "disabled" for one image),
sequential_image_generation_options.max_images, response_format: "b64_json", watermark: false}``. The
reply's ``data[i]`` is ``{b64_json, size}`` or ``{error{code, message}}`` at a refused image's place
(moderation): that becomes a ``Got`` with the error, and the engine fails the task naming the panel.
Ark decides the count under ``auto`` and may return fewer images, or one collage: the engine's count
lock asks again for what is missing.

Ark has no idempotency key and no cancel: the submit is sent once (``replay_safe=False``: after a
timeout or a 5xx it is not repeated, since the upstream may have billed it); a cancel request is
honoured when the call returns, and the note says the upstream call could not be cancelled. The
header ``Idempotency-Key`` is sent anyway (harmless, and a seqedit upstream may honour it). Start-up
check: a ``POST`` with an empty body — Ark authenticates before it validates, so a good key gets a
400 (nothing generated, nothing billed) and a bad one 401. Cost: Ark reports tokens, not money, so
no cost is recorded for Ark.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from seqedit.engines.base import EngineError
from seqedit.engines.remote.transport import Transport
from seqedit.engines.remote.upstream import Ask, Got, Outcome

PATH = "/api/v3/images/generations"


class ArkClient:
    protocol = "ark"

    def __init__(self, transport: Transport, model: str, *, timeout: float) -> None:
        self.transport, self.model, self.timeout = transport, model, timeout

    def check(self) -> None:
        try:
            self.transport.call("POST", PATH, json={}, replay_safe=False)
        except EngineError as exc:
            if getattr(exc, "code", 0) != 1400 or "refused the request" not in str(exc):
                raise  # 401/403 (UpstreamAuth), or an upstream that is not there

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
        answer = self.transport.call(
            "POST",
            PATH,
            json=body,
            replay_safe=False,
            headers={"Idempotency-Key": ask.idempotency_key},
            timeout=self.timeout,
        ).json()
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise EngineError(f"the Ark upstream answered without data: {str(answer)[:200]}")
        outcome.upstream_id = str(answer.get("id") or answer.get("created") or "")
        if cancelled():
            outcome.cancel_note = "the Ark call had already been sent and cannot be cancelled upstream"
        for position, item in enumerate(answer["data"]):
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("error"), dict):
                err = item["error"]
                yield Got(position, error=f"{err.get('code', '')}: {err.get('message', '')}")
            elif isinstance(item.get("b64_json"), str):
                yield Got(position, base64.b64decode(item["b64_json"]))
            elif isinstance(item.get("url"), str):
                yield Got(position, self.transport.call("GET", item["url"]).content)
